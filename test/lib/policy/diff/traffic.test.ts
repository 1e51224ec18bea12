import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { diffText, join, vs } from './support.js';
import type { DiffReport, RouteImpact } from '../../../../src/lib/policy/diff/model.js';

const HOST = 'reviews.default.svc.cluster.local';
const split = (a: number, b: number) => `route: [{destination: {host: reviews, subset: v1}, weight: ${a}}, {destination: {host: reviews, subset: v2}, weight: ${b}}]`;
const jason = (subset: string) => `{match: [{headers: {end-user: {exact: jason}}}], route: [{destination: {host: reviews, subset: ${subset}}}]}`;

function route(r: DiffReport, label: string): RouteImpact {
  const t = r.impact.traffic.find((x) => x.host === HOST);
  const found = t?.routes.find((x) => x.route === label);
  if (!found) throw new Error(`no route ${label} in ${JSON.stringify(r.impact.traffic)}`);
  return found;
}

const shares = (ri: RouteImpact) => Object.fromEntries(ri.shares.map((s) => [s.destination, [s.before, s.after]]));

describe('share of traffic per destination, per route', () => {
  test('the default route and each match, before and after', () => {
    const r = diffText(vs('reviews', [jason('v2'), split(90, 10)]), vs('reviews', [jason('v3'), split(50, 50)]));
    assert.deepEqual(shares(route(r, 'default')), { 'reviews.default/v1': [90, 50], 'reviews.default/v2': [10, 50] });
    assert.deepEqual(shares(route(r, 'match header end-user exact jason')), { 'reviews.default/v2': [100, 0], 'reviews.default/v3': [0, 100] });
  });

  test('weights are relative: 50 and 60 are 45.45% and 54.55%', () => {
    const r = diffText(vs('reviews', [split(80, 20)]), vs('reviews', [split(50, 60)]));
    assert.deepEqual(shares(route(r, 'default')), { 'reviews.default/v1': [80, 45.45], 'reviews.default/v2': [20, 54.55] });
  });

  test('a new VirtualService takes a host from all its endpoints to its routes', () => {
    const r = diffText('', vs('reviews', ['route: [{destination: {host: reviews, subset: v1}}]']));
    assert.deepEqual(shares(route(r, 'default')), { 'reviews.default': [100, 0], 'reviews.default/v1': [0, 100] });
  });

  test('routes added and removed', () => {
    const r = diffText(vs('reviews', [jason('v2'), split(90, 10)]), vs('reviews', ['{match: [{uri: {prefix: /beta}}], route: [{destination: {host: reviews, subset: v3}}]}', split(90, 10)]));
    // An unnamed route whose match changed keeps its place: the same route, matching other requests.
    const changed = route(r, 'match uri prefix /beta');
    assert.equal(changed.op, 'changed');
    assert.deepEqual(changed.match, { before: 'match header end-user exact jason', after: 'match uri prefix /beta' });
    const named = diffText(vs('reviews', ['{name: a, route: [{destination: {host: reviews}}]}']), vs('reviews', ['{name: b, route: [{destination: {host: reviews}}]}']));
    assert.deepEqual(named.impact.traffic[0]!.routes.map((x) => [x.route, x.op]), [['a', 'removed'], ['b', 'added']]);
  });

  test('Gateway API backend weights (default 1) on a mesh route', () => {
    const hr = (refs: string) =>
      `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: reviews}\nspec:\n  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]\n  rules:\n  - backendRefs: [${refs}]\n`;
    const r = diffText(hr('{name: reviews-v1, port: 9080}, {name: reviews-v2, port: 9080}'), hr('{name: reviews-v1, port: 9080, weight: 3}, {name: reviews-v2, port: 9080}'));
    assert.deepEqual(shares(route(r, 'default')), { 'reviews-v1.default:9080': [50, 75], 'reviews-v2.default:9080': [50, 25] });
  });
});

describe('route settings before and after', () => {
  test('retries, timeouts, fault injection and mirroring', () => {
    const before = vs('reviews', ['{route: [{destination: {host: reviews}}], retries: {attempts: 3, perTryTimeout: 2s}, timeout: 10s}']);
    const after = vs('reviews', [
      '{route: [{destination: {host: reviews}}], retries: {attempts: 0}, timeout: 3s, fault: {abort: {httpStatus: 503, percentage: {value: 5}}}, mirror: {host: reviews-shadow}, mirrorPercentage: {value: 10}}',
    ]);
    const settings = Object.fromEntries(route(diffText(before, after), 'default').settings.map((s) => [s.setting, [s.before, s.after]]));
    assert.deepEqual(settings, {
      'retries.attempts': [3, 0],
      'retries.perTryTimeout': ['2s', null],
      timeout: ['10s', '3s'],
      'fault.abort.httpStatus': [null, 503],
      'fault.abort.percentage.value': [null, 5],
      'mirror.host': [null, 'reviews-shadow'],
      'mirrorPercentage.value': [null, 10],
    });
  });

  test('circuit breaker and outlier detection of the host and of each subset', () => {
    const dr = (pool: number, errors: number) =>
      `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  trafficPolicy:\n    connectionPool: {tcp: {maxConnections: ${pool}}}\n  subsets:\n  - name: v1\n    labels: {version: v1}\n    trafficPolicy: {outlierDetection: {consecutive5xxErrors: ${errors}}}\n`;
    const r = diffText(dr(100, 3), dr(50, 10));
    const t = r.impact.traffic.find((x) => x.host === HOST)!;
    assert.deepEqual(
      t.policies.map((p) => [p.subset, p.settings.map((s) => [s.setting, s.before, s.after])]),
      [
        [null, [['connectionPool.tcp.maxConnections', 100, 50]]],
        ['v1', [['outlierDetection.consecutive5xxErrors', 3, 10]]],
      ],
    );
  });

  test('only hosts touched by a change are reported', () => {
    const ratings = vs('ratings', ['route: [{destination: {host: ratings}}]']);
    const r = diffText(join(ratings, vs('reviews', [split(90, 10)])), join(ratings, vs('reviews', [split(80, 20)])));
    assert.deepEqual(r.impact.traffic.map((t) => t.host), [HOST]);
  });
});
