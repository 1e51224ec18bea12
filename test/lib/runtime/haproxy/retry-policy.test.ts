import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeResilience } from '../../../../src/lib/runtime/haproxy/retries.js';
import type { HttpRoute } from '../../../../src/lib/policy/mesh-model.js';

const MAPS = { deadlineMs: 'p/route-deadline.map', attemptMs: 'p/route-attempt.map' };

const route = (o: Partial<Pick<HttpRoute, 'retries' | 'timeoutMs'>>) => ({ retries: null, timeoutMs: null, ...o }) as HttpRoute;

test("a host without a VirtualService, or a route without retries, gets Istio's default: 2 retries on connect failures and 503, no deadline", () => {
  for (const r of [null, route({})]) assert.deepEqual(routeResilience(r, MAPS).backendLines, ['retries 2', 'retry-on conn-failure 503']);
});

test('attempts 0 (or none) disables retries, connect failures included', () => {
  assert.deepEqual(routeResilience(route({ retries: { attempts: 0, retryOn: ['5xx'], perTryTimeoutMs: 100 } }), MAPS).backendLines, ['retries 0', 'retry-on none']);
});

test("Envoy's conditions map to HAProxy's retry events and statuses; plain codes are retriable statuses", () => {
  const lines = (retryOn: string[]) => routeResilience(route({ retries: { attempts: 3, retryOn, perTryTimeoutMs: null } }), MAPS).backendLines;
  assert.deepEqual(lines(['5xx']), ['retries 3', 'retry-on conn-failure empty-response junk-response response-timeout 500 501 502 503 504']);
  assert.deepEqual(lines(['gateway-error']), ['retries 3', 'retry-on conn-failure empty-response response-timeout 502 503 504']);
  assert.deepEqual(lines(['reset']), ['retries 3', 'retry-on conn-failure empty-response response-timeout']);
  assert.deepEqual(lines(['connect-failure', '404']), ['retries 3', 'retry-on conn-failure 404']);
  // Nothing HAProxy can retry on: no retry at all rather than a copy of every request for nothing.
  assert.deepEqual(lines(['retriable-4xx']), ['retries 0', 'retry-on none']);
});

test('perTryTimeout bounds each attempt; the route timeout is the deadline of the whole response; both values come from the route maps', () => {
  const attempt = 'http-request set-timeout server var(txn.route),map_str_int(p/route-attempt.map)';
  const deadline = 'http-request set-var(txn.deadline_ms) var(txn.route),map_str_int(p/route-deadline.map)';
  const of = (r: HttpRoute) => routeResilience(r, MAPS);
  const plain = of(route({ timeoutMs: 300 }));
  assert.deepEqual(plain.backendLines.slice(2), [attempt, deadline, 'filter lua.mesh_deadline']);
  assert.deepEqual([plain.deadlineMs, plain.attemptMs], [300, 300]);
  const retried = of(route({ timeoutMs: 1000, retries: { attempts: 2, retryOn: ['reset'], perTryTimeoutMs: 200 } }));
  assert.deepEqual(retried.backendLines.slice(2), [attempt, deadline, 'filter lua.mesh_deadline']);
  assert.deepEqual([retried.deadlineMs, retried.attemptMs], [1000, 200]);
  assert.deepEqual(of(route({ timeoutMs: 300, retries: { attempts: 3, retryOn: ['reset'], perTryTimeoutMs: 200 } })).backendLines.slice(2), [attempt, deadline, 'filter lua.mesh_deadline_retried']);
  const sub = of(route({ retries: { attempts: 2, retryOn: null, perTryTimeoutMs: 0.4 } }));
  assert.deepEqual(sub.backendLines.slice(2), [attempt]);
  assert.equal(sub.attemptMs, 1);
});
