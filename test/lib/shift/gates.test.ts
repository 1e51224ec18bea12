import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateGates, percentText, subsetFigures, type SubsetFigures } from '../../../src/lib/shift/gates.js';
import { DEFAULT_GATES } from '../../../src/lib/shift/plan.js';
import type { AccessLogEntry } from '../../../src/lib/runtime/haproxy/access-log.js';
import { figuresByUpstream } from '../../../src/lib/runtime/haproxy/traffic.js';

const HOST = 'reviews.default.svc.cluster.local';

function entry(subset: string, status: number, durationMs: number, startMs = 1000): AccessLogEntry {
  return {
    time: '', startMs, requestId: '', proxy: 'p', direction: 'outbound', source: '', method: 'GET', host: 'reviews', path: '/', route: 'r',
    destinationHost: HOST, destinationSubset: subset, backend: 'b', server: 's', status, durationMs, upstreamMs: durationMs, retries: 0, redispatched: false, bytes: 10, termination: '--', responseFlags: [], mirror: false,
  };
}

function figures(entries: AccessLogEntry[], subset = 'v2'): SubsetFigures {
  return subsetFigures(figuresByUpstream(entries, { sinceMs: 0, untilMs: 2000 }), HOST, subset);
}

test('success rate is non-5xx over total; 4xx are successes', () => {
  const e = [...Array.from({ length: 5 }, () => entry('v2', 500, 3)), ...Array.from({ length: 2 }, () => entry('v2', 404, 3)), ...Array.from({ length: 3 }, () => entry('v2', 200, 3))];
  const f = figures(e);
  assert.equal(f.requests, 10);
  assert.equal(f.successRate, 50);
  const v = evaluateGates(f, { ...DEFAULT_GATES, minRequests: 10 }, 2000);
  assert.equal(v.outcome, 'failed');
  assert.equal(v.reason, 'success rate 50% < 99%');
});

test('the p99 comes from every request: one slow request in a hundred does not hide behind the mean', () => {
  const e = [...Array.from({ length: 98 }, () => entry('v2', 200, 5)), entry('v2', 200, 900), entry('v2', 200, 950)];
  const f = figures(e);
  assert.equal(f.latencyMs.p99, 900);
  const v = evaluateGates(f, { ...DEFAULT_GATES, maxLatencyP99Ms: 500 }, 2000);
  assert.equal(v.outcome, 'failed');
  assert.equal(v.reason, 'p99 900 ms > 500 ms');
  assert.deepEqual(v.checks.map((c) => [c.gate, c.passed]), [['requests', true], ['success-rate', true], ['latency-p99', false]]);
});

test('fewer requests than --min-requests is not enough traffic, never a failure, whatever they answered', () => {
  const f = figures([entry('v2', 500, 3), entry('v2', 500, 3)]);
  const v = evaluateGates(f, DEFAULT_GATES, 30_000);
  assert.equal(v.outcome, 'no_traffic');
  assert.match(v.reason!, /^not enough traffic: 2 requests to v2 in 30s, fewer than the 20/);
  const none = evaluateGates(figures([], 'v2'), DEFAULT_GATES, 1500);
  assert.equal(none.outcome, 'no_traffic');
  assert.match(none.reason!, /0 requests to v2 in 1\.5s/);
  const empty = figures([], 'v2');
  assert.deepEqual([empty.requests, empty.successRate, empty.latencyMs.p99], [0, null, null], 'no figure is made up for an empty window');
});

test('both gates failing are both named; passing gates give no reason', () => {
  const bad = figures(Array.from({ length: 40 }, (_, i) => entry('v2', i % 2 ? 500 : 200, 800)));
  assert.equal(evaluateGates(bad, DEFAULT_GATES, 1000).reason, 'success rate 50% < 99%, p99 800 ms > 500 ms');
  const good = figures(Array.from({ length: 40 }, () => entry('v2', 200, 10)));
  const v = evaluateGates(good, DEFAULT_GATES, 1000);
  assert.equal(v.outcome, 'passed');
  assert.equal(v.reason, null);
  assert.equal(evaluateGates(good, { ...DEFAULT_GATES, maxLatencyP99Ms: null }, 1000).checks.length, 2);
});

test('a failing rate never prints as the limit', () => {
  assert.equal(percentText(98.96), '98.9');
  assert.equal(percentText(71.43), '71.4');
  assert.equal(percentText(100), '100');
  assert.equal(percentText(99.5), '99.5');
});
