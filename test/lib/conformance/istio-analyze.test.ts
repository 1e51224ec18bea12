// istioctl's own analyzer test corpus: every in-scope case must give exactly Istio's expected findings.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readCases, runCase } from '../../../src/lib/conformance/istio-analyze.js';
import { SHARED } from '../../support/shared.js';

const corpus = path.join(SHARED, 'conformance', 'istio-analyze');
const cases = await readCases(corpus);

describe('istio-analyze conformance', () => {
  test('the corpus has the 67 in-scope cases', () => {
    assert.equal(cases.length, 67);
  });
  for (const c of cases) {
    test(`#${c.id} ${c.name} (${c.analyzer})`, async () => {
      const r = await runCase(corpus, c);
      assert.deepEqual(
        { missing: r.missing, unexpected: r.unexpected },
        { missing: [], unexpected: [] },
        `inputs ${c.inputs.join(', ')}`,
      );
    });
  }
});
