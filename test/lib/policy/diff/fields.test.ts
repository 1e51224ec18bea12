import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { diffText, join, only, vs } from './support.js';

const SVC = 'apiVersion: v1\nkind: Service\nmetadata: {name: ratings, namespace: shop}\nspec:\n  ports: [{name: http, port: 9080}]\n';
const DR = (subsets: string) => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  subsets:\n${subsets}`;

describe('change types', () => {
  test('a resource added is keyed by group, kind, namespace and name, with where it is', () => {
    const r = diffText('', SVC);
    const c = only(r);
    assert.equal(c.op, 'added');
    assert.deepEqual({ ...c.resource, new: undefined }, { group: '', kind: 'Service', namespace: 'shop', name: 'ratings', apiVersion: 'v1', new: undefined });
    assert.deepEqual(c.resource.new, { file: 'new.yaml', line: 1 });
    assert.deepEqual(c.fields, []);
    assert.deepEqual(r.summary.added, 1);
  });

  test('a resource removed', () => {
    const c = only(diffText(join(SVC, vs('reviews', ['route: [{destination: {host: reviews}}]'])), vs('reviews', ['route: [{destination: {host: reviews}}]'])));
    assert.equal(c.op, 'removed');
    assert.equal(c.resource.kind, 'Service');
    assert.deepEqual(c.resource.old, { file: 'old.yaml', line: 1 });
  });

  test('a field changed: JSON pointer, old value, new value as written', () => {
    const c = only(diffText(SVC, SVC.replace('name: http', 'name: http-web')));
    assert.equal(c.op, 'changed');
    assert.deepEqual(c.fields, [{ path: '/spec/ports/0/name', from: 'http', to: 'http-web' }]);
  });

  test('a field added and a field removed', () => {
    const c = only(diffText(SVC, SVC.replace('spec:\n', 'spec:\n  selector: {app: ratings}\n').replace(', port: 9080', ', port: 9080, appProtocol: http')));
    assert.deepEqual(c.fields, [
      { path: '/spec/ports/0/appProtocol', from: null, to: 'http' },
      { path: '/spec/selector', from: null, to: { app: 'ratings' } },
    ]);
    const back = only(diffText(SVC.replace('spec:\n', 'spec:\n  selector: {app: ratings}\n'), SVC));
    assert.deepEqual(back.fields, [{ path: '/spec/selector', from: { app: 'ratings' }, to: null }]);
  });

  test('labels and annotations are compared; the namespace and name are identity', () => {
    const c = only(diffText(SVC, SVC.replace('namespace: shop}', 'namespace: shop, labels: {team: a}}')));
    assert.deepEqual(c.fields, [{ path: '/metadata/labels', from: null, to: { team: 'a' } }]);
    const renamed = diffText(SVC, SVC.replace('name: ratings', 'name: ratings2'));
    assert.deepEqual(renamed.changes.map((x) => x.op).sort(), ['added', 'removed']);
  });

  test('subsets are paired by name: a subset changed is reported at its own index', () => {
    const before = DR('  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n');
    const after = DR('  - {name: v2, labels: {version: v2b}}\n  - {name: v1, labels: {version: v1}}\n  - {name: v3, labels: {version: v3}}\n');
    const c = only(diffText(before, after));
    assert.deepEqual(c.fields, [
      { path: '/spec/subsets/0/labels/version', from: 'v2', to: 'v2b' },
      { path: '/spec/subsets/2', from: null, to: { name: 'v3', labels: { version: 'v3' } } },
    ]);
  });

  test('a set of hosts is reported whole', () => {
    const a = vs('reviews', ['route: [{destination: {host: reviews}}]']);
    const c = only(diffText(a, a.replace('hosts: [reviews]', 'hosts: [reviews, reviews.example.com]')));
    assert.deepEqual(c.fields, [{ path: '/spec/hosts', from: ['reviews'], to: ['reviews', 'reviews.example.com'] }]);
  });

  test('a value changed to its default reads as a change to what is written, not as a removal', () => {
    const dr = (mode: string) => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: db}\nspec:\n  host: db\n  trafficPolicy: {tls: {mode: ${mode}}}\n`;
    assert.deepEqual(only(diffText(dr('ISTIO_MUTUAL'), dr('DISABLE'))).fields, [{ path: '/spec/trafficPolicy/tls/mode', from: 'ISTIO_MUTUAL', to: 'DISABLE' }]);
  });

  test('a duration changed keeps the text as written', () => {
    const a = vs('reviews', ['{route: [{destination: {host: reviews}}], timeout: 1000ms}']);
    const c = only(diffText(a, a.replace('1000ms', '2s')));
    assert.deepEqual(c.fields, [{ path: '/spec/http/0/timeout', from: '1000ms', to: '2s' }]);
  });

  test('authorization rules are a set: a rule added or removed is one item', () => {
    const ap = (rules: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  action: DENY\n  rules: [${rules}]\n`;
    const c = only(diffText(ap('{to: [{operation: {paths: [/admin]}}]}, {to: [{operation: {paths: [/debug]}}]}'), ap('{to: [{operation: {paths: [/debug]}}]}')));
    assert.deepEqual(c.fields, [{ path: '/spec/rules/0', from: { to: [{ operation: { paths: ['/admin'] } }] }, to: null }]);
  });
});

describe('HTTP route order', () => {
  const jason = '{name: jason, match: [{headers: {end-user: {exact: jason}}}], route: [{destination: {host: reviews, subset: v2}}]}';
  const api = '{name: api, match: [{uri: {prefix: /api}}], route: [{destination: {host: reviews, subset: v3}}]}';
  const rest = '{name: rest, route: [{destination: {host: reviews, subset: v1}}]}';

  test('a reorder is reported as one change, with the routes in their old and new order', () => {
    const c = only(diffText(vs('reviews', [jason, api, rest]), vs('reviews', [api, jason, rest])));
    assert.deepEqual(c.fields, [{ path: '/spec/http', from: ['jason', 'api', 'rest'], to: ['api', 'jason', 'rest'] }]);
    assert.equal(c.risk, 'medium');
    assert.match(c.reasons.join(' '), /reordered/);
  });

  test('a route changed after a reorder is compared with itself, not with what took its place', () => {
    const c = only(diffText(vs('reviews', [jason, api, rest]), vs('reviews', [api.replace('v3', 'v4'), jason, rest])));
    // The v3 destination goes (a pointer into OLD, where api was second), the v4 one comes (into NEW, where it is first).
    assert.deepEqual(c.fields.map((f) => [f.path, f.from === null ? 'added' : f.to === null ? 'removed' : 'changed']), [
      ['/spec/http', 'changed'],
      ['/spec/http/1/route/0', 'removed'],
      ['/spec/http/0/route/0', 'added'],
    ]);
  });

  test('removing a route is not a reorder of the others', () => {
    const c = only(diffText(vs('reviews', [jason, api, rest]), vs('reviews', [jason, rest])));
    assert.deepEqual(c.fields, [{ path: '/spec/http/1', from: { name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'reviews', subset: 'v3' } }] }, to: null }]);
  });

  test('unnamed routes are paired by match', () => {
    const m1 = '{match: [{uri: {prefix: /a}}], route: [{destination: {host: reviews, subset: v1}}]}';
    const m2 = '{match: [{uri: {prefix: /b}}], route: [{destination: {host: reviews, subset: v2}}]}';
    const c = only(diffText(vs('reviews', [m1, m2]), vs('reviews', [m2, m1])));
    assert.deepEqual(c.fields, [{ path: '/spec/http', from: ['match uri prefix /a', 'match uri prefix /b'], to: ['match uri prefix /b', 'match uri prefix /a'] }]);
  });
});
