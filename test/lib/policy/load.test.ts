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
