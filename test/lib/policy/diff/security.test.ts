import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { diffText, join } from './support.js';

const pa = (ns: string, name: string, spec: string) => `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${spec}\n`;
const ap = (name: string, spec: string, ns = 'shop') => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec}`;
const dr = (tls: string, subsets = '') => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  trafficPolicy: {${tls}}\n${subsets}`;

describe('PeerAuthentication modes per scope', () => {
  test('mesh, namespace and workload scopes, with what each inherits', () => {
    const mesh = (mode: string) => pa('istio-system', 'default', `{mtls: {mode: ${mode}}}`);
    const r = diffText(join(mesh('STRICT'), pa('shop', 'ns', '{}')), join(mesh('PERMISSIVE'), pa('shop', 'ns', '{}')));
    assert.deepEqual(r.impact.security.map((s) => [s.scope, s.setting, s.before, s.after, s.risk]), [['the mesh', 'mtls.mode', 'STRICT', 'PERMISSIVE', 'high']]);
    // A namespace policy that says UNSET inherits the mesh: removing the override to DISABLE makes it STRICT again.
    const ns = diffText(join(mesh('STRICT'), pa('shop', 'ns', '{mtls: {mode: DISABLE}}')), join(mesh('STRICT'), pa('shop', 'ns', '{mtls: {mode: UNSET}}')));
    assert.deepEqual(ns.impact.security.map((s) => [s.scope, s.before, s.after, s.risk]), [['namespace shop', 'DISABLE', 'STRICT', 'low']]);
    const wl = diffText(mesh('STRICT'), join(mesh('STRICT'), pa('shop', 'legacy', '{selector: {matchLabels: {app: legacy}}, mtls: {mode: PERMISSIVE}, portLevelMtls: {"8080": {mode: DISABLE}}}')));
    assert.deepEqual(
      wl.impact.security.map((s) => [s.scope, s.setting, s.before, s.after, s.risk]),
      [
        ['workload shop {app=legacy}', 'mtls.mode', 'STRICT', 'PERMISSIVE', 'high'],
        ['workload shop {app=legacy} port 8080', 'portLevelMtls.8080.mode', 'STRICT', 'DISABLE', 'high'],
      ],
    );
  });

  test('a namespace policy removed falls back to the mesh-wide mode', () => {
    const mesh = pa('istio-system', 'default', '{mtls: {mode: PERMISSIVE}}');
    const r = diffText(join(mesh, pa('shop', 'strict', '{mtls: {mode: STRICT}}')), mesh);
    assert.deepEqual(r.impact.security.map((s) => [s.scope, s.before, s.after, s.risk]), [['namespace shop', 'STRICT', 'PERMISSIVE', 'high']]);
  });
});

describe('DestinationRule TLS modes', () => {
  test('per host and subset; unset means automatic mTLS', () => {
    const r = diffText(dr('tls: {mode: ISTIO_MUTUAL}', '  subsets: [{name: v1, labels: {version: v1}}]\n'), dr('', '  subsets: [{name: v1, labels: {version: v1}, trafficPolicy: {tls: {mode: DISABLE}}}]\n'));
    assert.deepEqual(
      r.impact.security.map((s) => [s.scope, s.setting, s.before, s.after, s.risk]),
      [
        ['host reviews.default', 'tls.mode', 'ISTIO_MUTUAL', null, 'low'],
        ['host reviews.default/v1', 'tls.mode', 'ISTIO_MUTUAL', 'DISABLE', 'high'],
      ],
    );
  });

  test('MUTUAL to SIMPLE drops the client certificate; insecureSkipVerify stops checking the server', () => {
    const r = diffText(dr('tls: {mode: MUTUAL, credentialName: c}'), dr('tls: {mode: SIMPLE, insecureSkipVerify: true}'));
    assert.deepEqual(r.impact.security.map((s) => [s.setting, s.before, s.after, s.risk]), [
      ['tls.mode', 'MUTUAL', 'SIMPLE', 'high'],
      ['tls.insecureSkipVerify', false, true, 'high'],
    ]);
    assert.match(r.impact.security[0]!.reason, /no longer present a certificate/);
  });
});

describe('AuthorizationPolicy rules added and removed', () => {
  const rules = (...paths: string[]) => `  rules:\n${paths.map((p) => `  - to: [{operation: {paths: [${p}]}}]\n`).join('')}`;

  test('an ALLOW rule added to a workload that already had ALLOW rules widens it', () => {
    const r = diffText(ap('web', '  selector: {matchLabels: {app: web}}\n' + rules('/api')), ap('web', '  selector: {matchLabels: {app: web}}\n' + rules('/api', '/admin')));
    assert.deepEqual(r.impact.security.map((s) => [s.scope, s.setting, s.before, s.after, s.risk]), [['workload shop {app=web}', 'ALLOW rule', null, { to: [{ operation: { paths: ['/admin'] } }] }, 'high']]);
    assert.match(r.impact.security[0]!.reason, /ALLOW is widened: workload shop \{app=web\} now also allows requests to paths \[\/admin\]/);
  });

  test('the first ALLOW policy of a scope narrows it; the last one removed opens it', () => {
    const first = diffText('', ap('web', rules('/api')));
    assert.deepEqual(first.impact.security.map((s) => [s.setting, s.risk]), [['ALLOW policies', 'low'], ['ALLOW rule', 'low']]);
    const last = diffText(ap('web', rules('/api')), '');
    assert.deepEqual(last.impact.security.map((s) => [s.setting, s.before, s.after, s.risk]), [['ALLOW policies', 1, 0, 'high']]);
  });

  test('a DENY rule removed, and a CUSTOM check removed', () => {
    const deny = diffText(ap('block', '  action: DENY\n' + rules('/admin', '/debug')), ap('block', '  action: DENY\n' + rules('/debug')));
    assert.deepEqual(deny.impact.security.map((s) => [s.setting, s.risk]), [['DENY rule', 'high']]);
    assert.match(deny.impact.security[0]!.reason, /A DENY is removed: namespace shop no longer denies requests to paths \[\/admin\]/);
    const custom = diffText(ap('ext', '  action: CUSTOM\n  provider: {name: opa}\n' + rules('/api')), '');
    assert.deepEqual(custom.impact.security.map((s) => [s.setting, s.risk]), [['CUSTOM rule', 'high']]);
  });

  test('an ALLOW rule removed while others remain narrows: low', () => {
    const r = diffText(ap('web', rules('/api', '/admin')), ap('web', rules('/api')));
    assert.deepEqual(r.impact.security.map((s) => [s.setting, s.risk]), [['ALLOW rule', 'low']]);
  });

  test('policies in the root namespace without a selector are mesh-wide', () => {
    const r = diffText(ap('deny-all-admin', '  action: DENY\n' + rules('/admin'), 'istio-system'), '');
    assert.equal(r.impact.security[0]!.scope, 'the mesh');
  });
});

test('RequestAuthentication issuers', () => {
  const ra = (issuers: string[]) => `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt}\nspec:\n  jwtRules:\n${issuers.map((i) => `  - {issuer: ${i}}\n`).join('')}`;
  const r = diffText(ra(['a', 'b']), ra(['b', 'c']));
  assert.deepEqual(r.impact.security.map((s) => [s.kind, s.before, s.after, s.risk]), [['RequestAuthentication', ['a', 'b'], ['b', 'c'], 'low']]);
});
