import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../support/policy.js';

test('a YAML syntax error is a finding at its line, and the other documents are still checked', async () => {
  const text = [
    'apiVersion: networking.istio.io/v1',
    'kind: VirtualService',
    'metadata: {name: a}',
    'spec: {hosts: [a]}',
    '---',
    'apiVersion: v1',
    'kind: Service',
    'metadata:',
    '  name: [unclosed',
    '---',
    'apiVersion: v1',
    'kind: Service',
    'metadata: {name: b}',
    '',
  ].join('\n');
  const result = await validateText(text, { analyzers: ['meshctl.DuplicateResources'] });
  const syntax = result.findings.filter((f) => f.code === 'MSH1006');
  assert.equal(syntax.length, 1);
  assert.ok(syntax[0]!.line >= 9 && syntax[0]!.line <= 10, `line ${syntax[0]!.line}`);
  assert.equal(result.summary.resources, 2);
});

test('resources without a namespace are read in default, or in -n', async () => {
  const text = 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\n';
  assert.equal((await validateText(text, { analyzers: ['meshctl.DuplicateResources'] })).resources[0]!.namespace, 'default');
  const r = await validateText(text, { namespace: 'shop', analyzers: ['meshctl.DuplicateResources'] });
  assert.equal(r.resources[0]!.namespace, 'shop');
  assert.deepEqual(r.files[0], { path: 'policy.yaml', namespaces: ['shop'], defaultedTo: 'shop' });
});

test('kind: List items are resources', async () => {
  const text = 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Service\n  metadata: {name: b}\n';
  const r = await validateText(text, { analyzers: ['meshctl.DuplicateResources'] });
  assert.deepEqual(r.resources.map((x) => x.name), ['a', 'b']);
  assert.deepEqual(r.resources.map((x) => x.pointer), ['/items/0', '/items/1']);
});

test('unknown kinds are reported once per kind, as info', async () => {
  const doc = (n: string) => `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ${n}}\n`;
  const r = await validateText(`${doc('a')}---\n${doc('b')}`, { analyzers: ['meshctl.DuplicateResources'] });
  assert.deepEqual(codesAt(r.findings), ['MSH1020@2']);
  assert.equal(r.findings[0]!.severity, 'info');
});

test('merge keys (<<) are applied as Kubernetes applies them, and the merged resource is checked', async () => {
  const text = [
    'apiVersion: networking.istio.io/v1',
    'kind: DestinationRule',
    'metadata: {name: reviews}',
    'spec:',
    '  host: reviews',
    '  trafficPolicy:',
    '    connectionPool: &pool',
    '      tcp: {maxConnections: 100}',
    '  subsets:',
    '  - name: v1',
    '    labels: {version: v1}',
    '    trafficPolicy:',
    '      connectionPool:',
    '        <<: *pool',
    '        http: {http2MaxRequests: 10}',
    '---',
    'apiVersion: networking.istio.io/v1',
    'kind: DestinationRule',
    'metadata: {name: ratings}',
    'spec:',
    '  host: ratings',
    '  trafficPolicy:',
    '    connectionPool: &bad',
    '      tcpx: {maxConnections: 100}',
    '  subsets:',
    '  - name: v1',
    '    trafficPolicy:',
    '      connectionPool:',
    '        <<: *bad',
    '',
  ].join('\n');
  const r = await validateText(text, { analyzers: ['schema.ValidationAnalyzer.DestinationRule'] });
  const pool = r.resources[0]!.spec.subsets[0].trafficPolicy.connectionPool;
  assert.deepEqual(pool, { tcp: { maxConnections: 100 }, http: { http2MaxRequests: 10 } });
  // No finding for the first resource (no "<<" field); the unknown field reaches the second through both places.
  assert.deepEqual(r.findings.filter((f) => f.resource?.name === 'reviews'), []);
  const bad = r.findings.filter((f) => f.resource?.name === 'ratings' && f.code === 'IST0106').map((f) => f.path);
  assert.ok(bad.includes('/spec/trafficPolicy/connectionPool/tcpx'), bad.join(', '));
  assert.ok(bad.includes('/spec/subsets/0/trafficPolicy/connectionPool/tcpx'), bad.join(', '));
});
