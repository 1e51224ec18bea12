import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshctlError } from '../../../src/lib/errors.js';
import { CANARY_ROUTE, resolveShiftRoute, routeChange, routeDisagreement, storedWeights, withShiftWeights, findVirtualService } from '../../../src/lib/shift/route.js';
import { modelOf } from '../../../src/lib/mesh/pods.js';
import { shiftPolicy, storedResources } from '../../support/shift-policy.js';

const usage = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (err: unknown) => err instanceof MeshctlError && err.exitCode === 2 && pattern.test(err.message));
const resolve = (policy: string, o: { host?: string; to: string; from?: string; route?: string }) => resolveShiftRoute(storedResources(policy), { host: o.host ?? 'reviews', namespace: 'default', to: o.to, from: o.from, route: o.route });

test("finds HOST's split route; --from defaults to the subset with the most traffic", () => {
  const r = resolve(shiftPolicy({ route: { v1: 30, v2: 70 } }), { to: 'v3' });
  assert.equal(r.route.host, 'reviews.default.svc.cluster.local');
  assert.deepEqual(r.route.virtualService, { namespace: 'default', name: 'reviews' });
  assert.equal(r.route.index, 0);
  assert.equal(r.route.name, 'split');
  assert.equal(r.route.from, 'v2');
  assert.equal(r.addsDestination, true);
  assert.deepEqual(r.baseline, { v1: 30, v2: 70, v3: 0 });
  assert.deepEqual(r.route.destinations, ['v1', 'v2', 'v3']);
  assert.deepEqual(r.subsets, ['v1', 'v2', 'v3']);
  const fq = resolve(shiftPolicy(), { host: 'reviews.default.svc.cluster.local', to: 'v2' });
  assert.equal(fq.route.from, 'v1');
  assert.equal(fq.addsDestination, false);
});

test('a route of one unweighted destination holds all the traffic', () => {
  const r = resolve(shiftPolicy({ route: { v1: null } }), { to: 'v2' });
  assert.deepEqual(r.baseline, { v1: 100, v2: 0 });
});

test('an unknown host, an unknown subset, a host without a VirtualService: each a sentence, exit 2', () => {
  usage(() => resolve(shiftPolicy(), { host: 'reviewz', to: 'v2' }), /No Service, ServiceEntry or VirtualService of the mesh is host reviewz \(reviewz\.default\.svc\.cluster\.local\)/);
  usage(() => resolve(shiftPolicy(), { to: 'v9' }), /DestinationRule default\/reviews defines no subset v9 of reviews \(it defines v1, v2, v3\); pass one of them to --to\./);
  usage(() => resolve(shiftPolicy(), { to: 'v2', from: 'v8' }), /no subset v8 .* --from/);
  usage(() => resolve(shiftPolicy(), { host: 'caller', to: 'v2' }), /No VirtualService routes host caller inside the mesh/);
  usage(() => resolve(shiftPolicy(), { to: 'v2', from: 'v2' }), /--from and --to both name subset v2/);
  usage(() => resolve(shiftPolicy({ idleSubset: true }), { to: 'idle' }), /Subset idle of reviews selects no pod \(labels version=idle\)/);
});

test('a VirtualService without a route to its subsets is refused with what to add', () => {
  usage(() => resolve(shiftPolicy(), { host: 'details', to: 'v1' }), /VirtualService default\/details has no http route whose destinations are subsets of details; add one \(e\.g\. route: \[\{destination: \{host: details, subset: v1\}\}\]\) and apply it before shifting\./);
  const text = shiftPolicy().replace(/  - name: split\n    route:\n[\s\S]*$/, '  - name: plain\n    route:\n    - { destination: { host: reviews } }\n');
  usage(() => resolve(text, { to: 'v2' }), /VirtualService default\/reviews has no http route whose destinations are subsets of reviews; add one \(e\.g\. route: \[\{destination: \{host: reviews, subset: v1\}\}\]\) and apply it before shifting\./);
});

test('several split routes need --route; a header route to one subset is not a split', () => {
  const two = shiftPolicy({ extraRoutes: '  - name: api\n    match: [{ uri: { prefix: /api } }]\n    route:\n    - { destination: { host: reviews, subset: v1 }, weight: 50 }\n    - { destination: { host: reviews, subset: v2 }, weight: 50 }\n' });
  usage(() => resolve(two, { to: 'v2' }), /has 2 http routes to subsets of reviews \(0 \(api\), 1 \(split\)\); choose one with --route NAME or --route INDEX/);
  assert.equal(resolve(two, { to: 'v2', route: 'split' }).route.index, 1);
  assert.equal(resolve(two, { to: 'v2', route: '0' }).route.name, 'api');
  usage(() => resolve(two, { to: 'v2', route: 'nope' }), /has no http route named or numbered nope/);
  const jason = shiftPolicy({ extraRoutes: '  - name: jason\n    match: [{ headers: { end-user: { exact: jason } } }]\n    route: [{ destination: { host: reviews, subset: v2 } }]\n' });
  assert.equal(resolve(jason, { to: 'v2' }).route.name, 'split');
});

test('withShiftWeights sets the weights, adds the new subset, and inserts (then removes) the header-canary route', () => {
  const stored = storedResources(shiftPolicy({ route: { v1: null }, extraRoutes: '  - match: [{ uri: { prefix: /admin } }]\n    route: [{ destination: { host: reviews, subset: v1 } }]\n' }));
  const r = resolveShiftRoute(stored, { host: 'reviews', namespace: 'default', to: 'v2' });
  assert.equal(r.route.index, 1);
  const vs = findVirtualService(stored, r.route.virtualService)!;
  const step = withShiftWeights(vs, r.route, { v1: 75, v2: 25 }, null);
  assert.deepEqual(storedWeights([step], r.route), { v1: 75, v2: 25 });
  const canary = withShiftWeights(step, r.route, { v1: 100, v2: 0 }, { name: 'x-canary', value: 'yes' });
  const http = (canary.spec as { http: { name?: string; match?: unknown; route: unknown[] }[] }).http;
  assert.deepEqual(http.map((h) => h.name ?? ''), ['', CANARY_ROUTE, 'split']);
  assert.deepEqual(http[1].match, [{ headers: { 'x-canary': { exact: 'yes' } } }]);
  assert.deepEqual(http[1].route, [{ destination: { host: 'reviews', subset: 'v2' } }]);
  assert.deepEqual(storedWeights([canary], r.route), { v1: 100, v2: 0 });
  // The model compiles the canary route before the shifted one.
  const model = modelOf([canary]);
  assert.equal(model.virtualServices[0].http[1].name, CANARY_ROUTE);
  const back = withShiftWeights(canary, r.route, { v1: 100, v2: 0 }, null);
  assert.deepEqual((back.spec as { http: { name?: string }[] }).http.map((h) => h.name ?? ''), ['', 'split']);
  // The stored object is never changed in place.
  assert.equal((vs.spec as { http: unknown[] }).http.length, 2);
});

test('a header canary keeps the shifted route own matches and adds the header to each', () => {
  const text = shiftPolicy().replace('  - name: split\n', '  - name: split\n    match: [{ uri: { prefix: /a } }, { uri: { prefix: /b } }]\n');
  const stored = storedResources(text);
  const r = resolveShiftRoute(stored, { host: 'reviews', namespace: 'default', to: 'v2' });
  const canary = withShiftWeights(findVirtualService(stored, r.route.virtualService)!, r.route, r.baseline, { name: 'end-user', value: 'bob' });
  assert.deepEqual((canary.spec as { http: { match: unknown }[] }).http[0].match, [
    { uri: { prefix: '/a' }, headers: { 'end-user': { exact: 'bob' } } },
    { uri: { prefix: '/b' }, headers: { 'end-user': { exact: 'bob' } } },
  ]);
});

test('withShiftWeights puts a mirror to the new subset on the shifted route and takes off only that one', () => {
  const stored = storedResources(shiftPolicy({ route: { v1: 100, v2: 0 } }));
  const r = resolveShiftRoute(stored, { host: 'reviews', namespace: 'default', to: 'v2' });
  assert.equal(r.mirrored, false);
  const vs = findVirtualService(stored, r.route.virtualService)!;
  const mirrored = withShiftWeights(vs, r.route, { v1: 100, v2: 0 }, null, true);
  const split = (v: typeof vs) => (v.spec as { http: Record<string, unknown>[] }).http.find((h) => h.name === 'split')!;
  assert.deepEqual(split(mirrored).mirror, { host: 'reviews.default.svc.cluster.local', subset: 'v2' });
  assert.deepEqual(split(mirrored).mirrorPercentage, { value: 100 });
  assert.deepEqual(storedWeights([mirrored], r.route), { v1: 100, v2: 0 });
  // The model reads it as a mirror of every request to v2.
  const route = modelOf([mirrored]).virtualServices[0].http.find((h) => h.name === 'split')!;
  assert.deepEqual(route.mirrors.map((m) => [m.fqdn, m.subset, m.percent]), [['reviews.default.svc.cluster.local', 'v2', 100]]);
  // A header canary copies no mirror.
  const both = withShiftWeights(mirrored, r.route, { v1: 100, v2: 0 }, { name: 'x-canary', value: 'yes' }, true);
  assert.equal((both.spec as { http: Record<string, unknown>[] }).http[0].mirror, undefined);
  const off = withShiftWeights(mirrored, r.route, { v1: 50, v2: 50 }, null, false);
  assert.equal(split(off).mirror, undefined);
  assert.equal(split(off).mirrorPercentage, undefined);
  assert.deepEqual(withShiftWeights(mirrored, r.route, { v1: 100, v2: 0 }, null), mirrored, 'undefined leaves the mirror as it is');
  // Someone else's mirror stays, whatever the shift asks.
  const own = shiftPolicy({ route: { v1: 100, v2: 0 } }).replace('  - name: split\n', '  - name: split\n    mirror: { host: reviews, subset: v3 }\n');
  const ownStored = storedResources(own);
  const resolved = resolveShiftRoute(ownStored, { host: 'reviews', namespace: 'default', to: 'v2' });
  assert.equal(resolved.mirrored, true);
  const kept = withShiftWeights(findVirtualService(ownStored, resolved.route.virtualService)!, resolved.route, { v1: 50, v2: 50 }, null, false);
  assert.deepEqual(split(kept).mirror, { host: 'reviews', subset: 'v3' });
});

test('an apply that changes the shifted route is named in a clause; other routes and resources are not a change of it', () => {
  const before = storedResources(shiftPolicy({ route: { v1: 50, v2: 50 } }));
  const { route } = resolveShiftRoute(before, { host: 'reviews', namespace: 'default', to: 'v2' });
  assert.equal(routeChange(before, storedResources(shiftPolicy({ route: { v1: 50, v2: 50 } })), route), null);
  assert.equal(routeChange(before, storedResources(shiftPolicy({ route: { v1: 50, v2: 50 }, callerReplicas: 2 })), route), null);
  assert.equal(routeChange(before, storedResources(shiftPolicy({ route: { v1: 100 } })), route), 'it sets VirtualService default/reviews http[0] (split) to v1 100 where the shift has v1 50 / v2 50');
  assert.equal(routeChange(before, before.filter((r) => r.kind !== 'VirtualService' || r.metadata.name !== 'reviews'), route), 'it removes VirtualService default/reviews');
  const moved = storedResources(shiftPolicy({ route: { v1: 50, v2: 50 }, extraRoutes: '  - match: [{ uri: { prefix: /admin } }]\n    route: [{ destination: { host: reviews, subset: v1 } }]\n' }));
  assert.equal(routeChange(before, moved, route), "it puts another route at http[0] of VirtualService default/reviews, where the shift's route split was");
  const timeout = storedResources(shiftPolicy({ route: { v1: 50, v2: 50 } }).replace('  - name: split\n', '  - name: split\n    timeout: 5s\n'));
  assert.equal(routeChange(before, timeout, route), 'it rewrites VirtualService default/reviews http[0] (split)');
});

test('--resume wants the route to hold weights the shift set; an abort restores a subset an apply took away', () => {
  const stored = storedResources(shiftPolicy({ route: { v1: 50, v2: 50 } }));
  const { route } = resolveShiftRoute(stored, { host: 'reviews', namespace: 'default', to: 'v2' });
  assert.equal(routeDisagreement(stored, route, [{ v1: 50, v2: 50 }]), null);
  const dropped = storedResources(shiftPolicy({ route: { v1: 100 } }));
  assert.equal(routeDisagreement(dropped, route, [{ v1: 50, v2: 50 }, { v1: 100, v2: 0 }]), null, 'the weights before the shift are weights of its plan');
  assert.equal(routeDisagreement(dropped, route, [{ v1: 50, v2: 50 }]), 'VirtualService default/reviews http[0] (split) holds v1 100 where the shift set v1 50 / v2 50');
  assert.equal(routeDisagreement([], route, [{ v1: 50, v2: 50 }]), 'VirtualService default/reviews is no longer applied');
  // The shift started from v2 holding everything; an apply took v2 off the route: abort puts it back.
  const started = { ...route, from: 'v2', to: 'v1' };
  const restored = withShiftWeights(findVirtualService(dropped, route.virtualService)!, started, { v2: 100, v1: 0 }, null);
  assert.deepEqual(storedWeights([restored], route), { v1: 0, v2: 100 });
  assert.deepEqual((restored.spec as { http: { route: unknown[] }[] }).http[0].route[1], { destination: { host: 'reviews', subset: 'v2' }, weight: 100 });
});
