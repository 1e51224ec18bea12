// top's text: the policy's column only when it acted in the window, its words, and a note for the
// figures a mesh does not report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topText } from '../../../src/lib/mesh/render.js';
import { paint } from '../../../src/lib/output/format.js';
import { noRequests, resilienceNotReported, type ResilienceFigures } from '../../../src/lib/runtime/figures.js';
import type { TopRow, TopSnapshot } from '../../../src/lib/mesh/top.js';

const NONE: ResilienceFigures = { retried: 0, retries: 0, denied: 0, rateLimited: 0, overflows: 0, timeouts: 0, noRoute: 0, upstreamFailures: 0, ejected: 0 };

function snapshot(rows: Partial<TopRow>[]): TopSnapshot {
  return {
    home: 'h', readAt: '2026-01-01T00:00:00.000Z', windowSeconds: 60, host: null, notes: [],
    rows: rows.map((r, i) => ({ service: 'reviews', namespace: 'default', host: 'reviews.default.svc.cluster.local', subset: `v${i + 1}`, ...noRequests(), requests: 10, resilience: NONE, ...r })),
  };
}

test('a healthy mesh\'s table has no POLICY column', () => {
  const text = topText(snapshot([{}, {}]), paint(false));
  assert.match(text, /SUCCESS +P50 +P95 +P99\n/);
  assert.doesNotMatch(text, /POLICY/);
});

test('what the policy did, in one cell per row, only what happened; "-" for a row where it did nothing', () => {
  const text = topText(snapshot([
    { resilience: { ...NONE, retried: 3, retries: 5, upstreamFailures: 1, ejected: 1 } },
    { resilience: { ...NONE, denied: 2, rateLimited: 4, overflows: 1, timeouts: 6, noRoute: 1 } },
    {},
  ]), paint(false));
  assert.match(text, /P99 +POLICY\n/);
  assert.match(text, /v1 .*retried 3 \(\+5 attempts\), upstream failure 1, ejected 1\n/);
  assert.match(text, /v2 .*denied 2, rate-limited 4, overflow 1, timed out 6, no route 1\n/);
  assert.match(text, /v3 +10 .* -\n/);
});

test('figures the mesh does not report are said once, not shown as zero', () => {
  const text = topText(snapshot([{ resilience: { ...resilienceNotReported(), overflows: 2, timeouts: 0, noRoute: 0, upstreamFailures: 0, rateLimited: 0 } }]), paint(false));
  assert.match(text, /overflow 2/);
  assert.match(text, /not reported by this mesh's proxies: retried requests, retries, denials\n/);
});
