import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  exportScopes, hostKey, hostMatches, hostSubsetOf, requestHostNames, resolveRequestHost, resolveShortName, serviceExportScopes, serviceOfFqdn, shortHost, visibleFrom,
} from '../../../src/lib/policy/hosts.js';
import { selectorMatches } from '../../../src/lib/policy/selectors.js';

test("a rule's host: only a name without a dot is a Service of the rule's namespace (Istio's ResolveShortnameToFQDN)", () => {
  assert.equal(resolveShortName('shop', 'reviews'), 'reviews.shop.svc.cluster.local');
  assert.equal(resolveShortName('shop', 'reviews.default'), 'reviews.default');
  assert.equal(resolveShortName('shop', 'reviews.default.svc'), 'reviews.default.svc');
  assert.equal(resolveShortName('shop', 'example.com'), 'example.com');
  assert.equal(resolveShortName('shop', '*'), '*');
  assert.equal(resolveShortName('shop', '*.example.com'), '*.example.com');
  assert.equal(resolveShortName('shop', '2001:db8::1'), '2001:db8::1');
  assert.equal(resolveShortName('shop', 'reviews', 'corp.example'), 'reviews.shop.svc.corp.example');
  assert.equal(hostKey('shop', ' Reviews. '), 'reviews.shop.svc.cluster.local');
  assert.equal(hostKey('shop', 'Reviews.Default'), 'reviews.default');
});

test("a client's name: every name Kubernetes DNS resolves reaches the Service", () => {
  assert.deepEqual(requestHostNames('reviews.shop.svc.cluster.local', 'shop'), ['reviews.shop.svc.cluster.local', 'reviews.shop.svc', 'reviews.shop', 'reviews']);
  assert.deepEqual(requestHostNames('reviews.shop.svc.cluster.local', 'default'), ['reviews.shop.svc.cluster.local', 'reviews.shop.svc', 'reviews.shop']);
  assert.deepEqual(requestHostNames('api.example.com', 'default'), ['api.example.com']);
  const known = new Set(['reviews.default.svc.cluster.local', 'api.example.com']);
  const has = (h: string) => known.has(h);
  for (const name of ['reviews', 'reviews.default', 'reviews.default.svc', 'reviews.default.svc.cluster.local', 'Reviews.Default.']) {
    assert.equal(resolveRequestHost(name, 'default', has), 'reviews.default.svc.cluster.local', name);
  }
  assert.equal(resolveRequestHost('reviews.default', 'shop', has), 'reviews.default.svc.cluster.local');
  assert.equal(resolveRequestHost('reviews', 'shop', has), 'reviews.shop.svc.cluster.local', 'an unknown short name is read as a rule would read it');
  assert.equal(resolveRequestHost('api.example.com', 'shop', has), 'api.example.com');
});

test('Service hosts back and forth', () => {
  assert.deepEqual(serviceOfFqdn('reviews.default.svc.cluster.local'), { name: 'reviews', namespace: 'default' });
  assert.equal(serviceOfFqdn('reviews.default'), undefined);
  assert.equal(serviceOfFqdn('*.default.svc.cluster.local')?.name, '*');
  assert.equal(shortHost('reviews.default.svc.cluster.local'), 'reviews.default');
  assert.equal(shortHost('api.example.com'), 'api.example.com');
});

test('wildcards: overlap both ways, and a request host against a pattern one way', () => {
  assert.ok(hostMatches('*.example.com', 'api.example.com'));
  assert.ok(hostMatches('api.example.com', '*.example.com'));
  assert.ok(hostMatches('*.com', '*.example.com'));
  assert.ok(hostMatches('*', 'reviews'));
  assert.ok(!hostMatches('*.example.com', 'example.com'));
  assert.ok(hostSubsetOf('api.example.com', '*.example.com'));
  assert.ok(!hostSubsetOf('*.example.com', 'api.example.com'));
  assert.ok(hostSubsetOf('*.a.example.com', '*.example.com'));
});

test('exportTo: `.` is the own namespace, empty or `*` is everywhere; a Service by its annotation', () => {
  assert.deepEqual(exportScopes([], 'shop'), ['*']);
  assert.deepEqual(exportScopes(['.', 'web'], 'shop'), ['shop', 'web']);
  assert.ok(visibleFrom(exportScopes(['.'], 'shop'), 'shop'));
  assert.ok(!visibleFrom(exportScopes(['.'], 'shop'), 'web'));
  assert.deepEqual(serviceExportScopes({ namespace: 'shop', annotations: { 'networking.istio.io/exportTo': ' ., web ' } }), ['shop', 'web']);
  assert.deepEqual(serviceExportScopes({ namespace: 'shop', annotations: {} }), ['*']);
});

test('a selector matches labels that hold every key and value; none or an empty one matches all', () => {
  assert.ok(selectorMatches({ app: 'reviews' }, { app: 'reviews', version: 'v1' }));
  assert.ok(!selectorMatches({ app: 'reviews', version: 'v2' }, { app: 'reviews', version: 'v1' }));
  assert.ok(selectorMatches({}, { app: 'reviews' }));
  assert.ok(selectorMatches(null, {}));
  assert.ok(selectorMatches({ port: 9080, enabled: true }, { port: '9080', enabled: 'true' }), 'YAML numbers and booleans are compared as strings');
  assert.ok(!selectorMatches({ toString: 'x' }, {}), 'only own labels count');
});
