import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { diffText, join, vs } from './support.js';

// Each pair means the same thing to Istio, so none of them is a change.
describe('semantic no-ops are not changes', () => {
  test('weight: 100 on a lone destination vs no weight', () => {
    const a = vs('reviews', ['route: [{destination: {host: reviews, subset: v1}, weight: 100}]']);
    const b = vs('reviews', ['route: [{destination: {host: reviews, subset: v1}}]']);
    const r = diffText(a, b);
    assert.deepEqual(r.changes, []);
    assert.equal(r.summary.unchanged, 1);
  });

  test('1000ms vs 1s, 1m vs 60s, 0.5s vs 500ms', () => {
    const a = vs('reviews', ['{route: [{destination: {host: reviews}}], timeout: 1000ms, retries: {attempts: 3, perTryTimeout: 0.5s}}']);
    const b = vs('reviews', ['{route: [{destination: {host: reviews}}], timeout: 1s, retries: {attempts: 3, perTryTimeout: 500ms}}']);
    assert.deepEqual(diffText(a, b).changes, []);
    const dr = (interval: string) => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec:\n  host: r\n  trafficPolicy: {outlierDetection: {interval: ${interval}, consecutive5xxErrors: 7}}\n`;
    assert.deepEqual(diffText(dr('1m'), dr('60s')).changes, []);
  });

  test('defaults written out vs omitted', () => {
    const drWritten = [
      'apiVersion: networking.istio.io/v1',
      'kind: DestinationRule',
      'metadata: {name: reviews}',
      'spec:',
      '  host: reviews',
      '  exportTo: ["*"]',
      '  trafficPolicy:',
      '    loadBalancer: {simple: UNSPECIFIED}',
      '    connectionPool:',
      '      tcp: {maxConnections: 4294967295, connectTimeout: 10s}',
      '      http: {maxRequestsPerConnection: 0, idleTimeout: 1h}',
      '    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 10}',
      '',
    ].join('\n');
    const drOmitted = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  trafficPolicy:\n    outlierDetection: {}\n';
    assert.deepEqual(diffText(drWritten, drOmitted).changes, []);
    const vsWritten = vs('reviews', ['route: [{destination: {host: reviews}}]'], '  gateways: [mesh]\n  exportTo: ["*"]');
    assert.deepEqual(diffText(vsWritten, vs('reviews', ['route: [{destination: {host: reviews}}]'])).changes, []);
    const ap = (action: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  ${action}\n  rules: [{from: [{source: {namespaces: [web]}}]}]\n`;
    assert.deepEqual(diffText(ap('action: ALLOW'), ap('')).changes, []);
    const pa = (mtls: string) => `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\nspec: {selector: {matchLabels: {app: a}}${mtls}}\n`;
    assert.deepEqual(diffText(pa(', mtls: {mode: UNSET}'), pa('')).changes, []);
    const svc = (port: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: s}\n  ports: [${port}]\n`;
    assert.deepEqual(diffText(svc('{name: http, port: 80, targetPort: 80, protocol: TCP}'), svc('{name: http, port: 80}')).changes, []);
  });

  test('the same resource moved to another file, and listed in another order', () => {
    const reviews = vs('reviews', ['route: [{destination: {host: reviews}}]']);
    const ratings = vs('ratings', ['route: [{destination: {host: ratings}}]']);
    const r = diffText({ 'all.yaml': join(reviews, ratings) }, { 'b/ratings.yaml': ratings, 'a/reviews.yaml': reviews });
    assert.deepEqual(r.changes, []);
    assert.equal(r.summary.unchanged, 2);
  });

  test('a short host and its fully qualified name', () => {
    const a = vs('reviews', ['route: [{destination: {host: reviews, subset: v1}}]']);
    const b = vs('reviews', ['route: [{destination: {host: reviews.default.svc.cluster.local, subset: v1}}]']);
    assert.deepEqual(diffText(a, b).changes, []);
    assert.equal(diffText(a, b, 'shop').changes.length, 1, 'in namespace shop, reviews is reviews.shop, not reviews.default');
  });

  test('the API version of the same kind, kubectl bookkeeping and status', () => {
    const a = vs('reviews', ['route: [{destination: {host: reviews}}]']);
    const b = a
      .replace('networking.istio.io/v1', 'networking.istio.io/v1beta1')
      .replace('metadata: {name: reviews}', 'metadata: {name: reviews, resourceVersion: "42", annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}"}}')
      .concat('status: {observedGeneration: 3}\n');
    assert.deepEqual(diffText(a, b).changes, []);
  });

  test('retryOn conditions in another order', () => {
    const a = vs('reviews', ['{route: [{destination: {host: reviews}}], retries: {attempts: 2, retryOn: "5xx,reset,connect-failure"}}']);
    const b = vs('reviews', ['{route: [{destination: {host: reviews}}], retries: {attempts: 2, retryOn: "connect-failure, 5xx,reset"}}']);
    assert.deepEqual(diffText(a, b).changes, []);
  });

  test('a match on every request (prefix /) is the same as no match', () => {
    const a = vs('reviews', ['{match: [{uri: {prefix: /}}], route: [{destination: {host: reviews}}]}']);
    const b = vs('reviews', ['route: [{destination: {host: reviews}}]']);
    assert.deepEqual(diffText(a, b).changes, []);
  });

  test('Gateway API defaults: weight 1 among backends, PathPrefix, parentRef group and kind', () => {
    const route = (parent: string, refs: string, match: string) =>
      `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web}\nspec:\n  parentRefs: [${parent}]\n  rules:\n  - matches: [${match}]\n    backendRefs: [${refs}]\n`;
    const a = route('{name: gw, group: gateway.networking.k8s.io, kind: Gateway}', '{name: a, port: 80, weight: 1}, {name: b, port: 80, weight: 1}', '{path: {type: PathPrefix, value: /api}}');
    const b = route('{name: gw}', '{name: b, port: 80}, {name: a, port: 80}', '{path: {value: /api}}');
    assert.deepEqual(diffText(a, b).changes, []);
  });
});

describe('lists whose order means nothing', () => {
  test('hosts, gateways, subsets, ports, exportTo and authorization rules reordered are no change', () => {
    const vsA = vs('reviews', ['route: [{destination: {host: reviews, subset: v1}, weight: 50}, {destination: {host: reviews, subset: v2}, weight: 50}]'], '  gateways: [gw-a, gw-b]\n  exportTo: [a, b]').replace('hosts: [reviews]', 'hosts: [reviews, reviews.example.com]');
    const vsB = vs('reviews', ['route: [{destination: {host: reviews, subset: v2}, weight: 50}, {destination: {host: reviews, subset: v1}, weight: 50}]'], '  gateways: [gw-b, gw-a]\n  exportTo: [b, a]').replace('hosts: [reviews]', 'hosts: [reviews.example.com, reviews]');
    const dr = (subsets: string) => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  subsets: [${subsets}]\n`;
    const svc = (ports: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: reviews}\nspec:\n  ports: [${ports}]\n`;
    const ap = (rules: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: reviews}\nspec:\n  rules: [${rules}]\n`;
    const r = diffText(
      join(vsA, dr('{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}'), svc('{name: http, port: 9080}, {name: grpc, port: 9090}'), ap('{to: [{operation: {methods: [GET, HEAD]}}]}, {from: [{source: {principals: [a, b]}}]}')),
      join(vsB, dr('{name: v2, labels: {version: v2}}, {name: v1, labels: {version: v1}}'), svc('{name: grpc, port: 9090}, {name: http, port: 9080}'), ap('{from: [{source: {principals: [b, a]}}]}, {to: [{operation: {methods: [HEAD, GET]}}]}')),
    );
    assert.deepEqual(r.changes, []);
  });
});
