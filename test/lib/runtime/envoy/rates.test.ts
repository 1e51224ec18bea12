import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withRates } from '../../../../src/lib/runtime/rates.js';
import { unknownTraffic } from '../../../../src/lib/runtime/envoy/stats.js';
import type { Stats } from '../../../../src/lib/runtime/model.js';

function reading(requests: number | null): Stats {
  const row = unknownTraffic('outbound|80||web.default.svc.cluster.local', 'outbound', 'hidden');
  row.requests = requests;
  return { upstreams: [row], inbound: null, source: 'test', notes: [] };
}

test('a counter that went down between readings (proxy restart) gives no rate, and says so', () => {
  const r = withRates(reading(5), reading(500), 10).upstreams[0]!;
  assert.equal(r.ratePerSecond, null);
  assert.match(r.missing.ratePerSecond!, /restarted/);
  assert.equal(withRates(reading(530), reading(500), 10).upstreams[0]!.ratePerSecond, 3);
});
