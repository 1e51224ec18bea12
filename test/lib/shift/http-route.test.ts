// Which HTTPRoute rule a shift moves, and how backendRefs proportions read as the shift's percentages.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { asPercentages, resolveHttpRouteShift, withHttpRouteWeights } from '../../../src/lib/shift/http-route.js';
import { shiftPolicy, storedResources } from '../../support/shift-policy.js';

const policy = (options: { route?: Record<string, number>; rules?: string }) =>
  storedResources(shiftPolicy({ httpRoute: true, route: options.route, httpRouteRules: options.rules }));

describe('HTTPRoute shifts', () => {
  it('reads backendRefs proportions as percentages summing to 100, the largest remainders rounded up', () => {
    assert.deepEqual(asPercentages({ a: 1, b: 1 }), { a: 50, b: 50 });
    assert.deepEqual(asPercentages({ a: 1, b: 2 }), { a: 33, b: 67 });
    assert.deepEqual(asPercentages({ a: 1, b: 1, c: 1 }), { a: 34, b: 33, c: 33 });
    assert.deepEqual(asPercentages({ a: 7, b: 0 }), { a: 100, b: 0 });
  });

  it('shifts the rule from its heaviest backend, adding the new one, and writes the weights back into backendRefs', () => {
    const resources = policy({ route: { v1: 2 } });
    const resolved = resolveHttpRouteShift(resources, 'reviews.default.svc.cluster.local', { host: 'reviews', namespace: 'default', to: 'reviews-v2' });
    assert.deepEqual([resolved.route.from, resolved.route.to, resolved.baseline, resolved.addsDestination], ['reviews-v1', 'reviews-v2', { 'reviews-v1': 100, 'reviews-v2': 0 }, true]);
    const route = resources.find((r) => r.kind === 'HTTPRoute')!;
    const next = withHttpRouteWeights(route, resolved.route, { 'reviews-v1': 80, 'reviews-v2': 20 });
    assert.deepEqual((next.spec as { rules: { backendRefs: unknown[] }[] }).rules[0].backendRefs, [{ name: 'reviews-v1', port: 9080, weight: 80 }, { name: 'reviews-v2', port: 9080, weight: 20 }]);
  });

  it('refuses a rule with several matches and a --to that is no Service, each in one sentence', () => {
    const several = policy({ rules: '  - matches: [{ path: { type: PathPrefix, value: /a } }, { path: { type: PathPrefix, value: /b } }]\n    backendRefs: [{ name: reviews-v1, port: 9080 }]\n' });
    assert.throws(() => resolveHttpRouteShift(several, 'reviews.default.svc.cluster.local', { host: 'reviews', namespace: 'default', to: 'reviews-v2' }), /HTTPRoute default\/reviews rule 0 has 2 matches; .*\.$/);
    const one = policy({ route: { v1: 1 } });
    assert.throws(() => resolveHttpRouteShift(one, 'reviews.default.svc.cluster.local', { host: 'reviews', namespace: 'default', to: 'reviews-v9' }), /There is no Service reviews-v9 in namespace default for --to; /);
  });
});
