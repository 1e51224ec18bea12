// The figures every reader of the mesh's traffic shows: status classes, success rate, nearest-rank
// percentiles, rate, one rounding, and no number at all for a window without requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { figuresOf, percentOf, type RequestSample } from '../../../src/lib/runtime/figures.js';

const sample = (status: number, durationMs: number, retries = 0, startMs = 1000): RequestSample => ({ status, durationMs, retries, startMs });
const window = { sinceMs: 0, untilMs: 50_000 };

test('status classes, success rate (non-5xx; a request cut off without a status fails; 101 succeeds), nearest-rank percentiles, rate', () => {
  const samples = [
    ...Array.from({ length: 95 }, (_, i) => sample(200, i + 1)),
    sample(101, 1),
    sample(404, 200),
    sample(503, 300, 2),
    sample(500, 400),
    sample(-1, 500),
  ];
  const f = figuresOf(samples, window);
  assert.deepEqual(f.statusClasses, { '1xx': 1, '2xx': 95, '3xx': 0, '4xx': 1, '5xx': 2, other: 1 });
  assert.equal(f.requests, 100);
  assert.equal(f.successRate, 97);
  assert.equal(f.ratePerSecond, 2);
  assert.deepEqual(f.latencyMs, { p50: 49, p90: 89, p95: 94, p99: 400 });
  assert.equal(f.retries, 2);
});

test('a window holds the requests that started in [since, until); without any, no rate or percentile is made up', () => {
  const samples = [sample(200, 5, 0, 999), sample(200, 5, 0, 1000), sample(500, 5, 0, 1999), sample(200, 5, 0, 2000)];
  const f = figuresOf(samples, { sinceMs: 1000, untilMs: 2000 });
  assert.deepEqual([f.requests, f.successRate, f.ratePerSecond], [2, 50, 2]);
  const none = figuresOf(samples, { sinceMs: 5000, untilMs: 6000 });
  assert.deepEqual([none.requests, none.successRate, none.ratePerSecond, none.latencyMs], [0, null, 0, { p50: null, p90: null, p95: null, p99: null }]);
  assert.ok(!Object.values(none).some((v) => Number.isNaN(v)));
});

test('a success rate is rounded down to 0.01: never better than it is, 100 only when every request succeeded', () => {
  assert.equal(percentOf(2, 3), 66.66);
  assert.equal(percentOf(9999, 10_000), 99.99);
  assert.equal(percentOf(99_999, 100_000), 99.99);
  assert.equal(percentOf(7, 7), 100);
  assert.equal(percentOf(0, 0), null);
});
