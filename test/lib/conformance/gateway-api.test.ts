// The Gateway API conformance suite's HTTPRoute cases (gateway and mesh forms), replayed against one
// live local mesh as the suite's harness does. Every case passes but the few a loopback mesh cannot
// express (OUT_OF_REACH, each with its reason, also listed in the README).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OUT_OF_REACH, outOfReach, readCorpus, runGatewayApiCorpus, type CaseResult } from '../../../src/lib/conformance/gateway-api/harness.js';
import { ROOT, SHARED } from '../../support/shared.js';

const corpus = path.join(SHARED, 'conformance', 'gateway-api', 'cases.json');
const echoScript = path.join(ROOT, 'examples', 'gateway-api', 'echo.mjs');
const tests = await readCorpus(corpus);

describe('Gateway API conformance on a live local mesh', () => {
  let results: CaseResult[] = [];
  before(async () => {
    const started = Date.now();
    results = await runGatewayApiCorpus(corpus, { echoScript, leaveOutOfReach: true });
    console.log(`gateway-api conformance: ${results.filter((r) => r.pass).length}/${results.length} cases in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  });

  it('replays every case of the corpus', () => {
    assert.equal(results.length, tests.reduce((n, t) => n + t.cases.length, 0));
  });

  for (const t of tests) {
    it(`${t.kind} ${t.test}`, () => {
      const failing = results.filter((r) => r.test === t.test && !r.pass && outOfReach(r.test, r.name) === null);
      assert.deepEqual(failing.map((r) => `${r.name}: ${r.detail}`), []);
    });
  }

  it('names only cases of the corpus as out of reach', () => {
    for (const o of OUT_OF_REACH) {
      const known = tests.find((t) => t.test === o.test);
      assert.ok(known && (o.case === undefined || known.cases.some((c) => c.name === o.case)), `${o.test} ${o.case ?? ''}`);
    }
  });
});

describe('npm run conformance -- --gateway-api-cases FILE', () => {
  let dir = '';
  after(async () => { if (dir) await fs.rm(dir, { recursive: true, force: true }); });

  it('runs another corpus of the same format and ends with its count', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-gwapi-corpus-'));
    const base = path.dirname(corpus);
    // Two tests of the corpus, their manifests named by absolute path: resolved beside the file, they stay where they are.
    const picked = tests.filter((t) => ['HTTPRouteSimpleSameNamespace', 'HTTPRouteExactPathMatching'].includes(t.test))
      .map((t) => ({ ...t, baseManifests: t.baseManifests.map((m) => path.join(base, m)), manifests: t.manifests.map((m) => path.join(base, m)) }));
    const file = path.join(dir, 'cases.json');
    await fs.writeFile(file, JSON.stringify(picked));
    const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'conformance.mjs'), '--gateway-api-cases', file], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
    const lines = run.stdout.trim().split('\n');
    const cases = picked.reduce((n, t) => n + t.cases.length, 0);
    assert.equal(lines.at(-1), `gateway-api: ${cases}/${cases} cases pass`, run.stderr);
    assert.equal(run.status, 0);
  });

  it('refuses a corpus file that does not exist with exit 2', () => {
    const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'conformance.mjs'), '--gateway-api-cases', path.join(os.tmpdir(), 'no-such-corpus.json')], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /no-such-corpus\.json does not exist; give a Gateway API corpus/);
  });
});
