import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffText } from './support.js';

const svc = (name: string, port: number) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n  ports: [{port: ${port}}]\n`;

test('each resource is located at its first line, past comments and document markers', () => {
  const before = `# services\n${svc('a', 1)}---\n# the second\n\n${svc('b', 1)}`;
  const after = `${svc('b', 2)}---\n${svc('a', 2)}`;
  const r = diffText(before, after);
  assert.deepEqual(r.changes.map((c) => [c.resource.name, c.resource.old?.line, c.resource.new?.line]), [['a', 2, 7], ['b', 10, 1]]);
});

test('items of a kind: List, in YAML and in JSON, are located at their own lines', () => {
  const yamlList = ['apiVersion: v1', 'kind: List', 'items:', '- apiVersion: v1', '  kind: Service', '  metadata: {name: a}', '- apiVersion: v1', '  kind: Service', '  metadata: {name: b}', ''].join('\n');
  const r = diffText('', { 'list.yaml': yamlList });
  assert.deepEqual(r.changes.map((c) => [c.resource.name, c.resource.new]), [['a', { file: 'list.yaml', line: 4 }], ['b', { file: 'list.yaml', line: 7 }]]);
  const json = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' } }, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'b' } }] }, null, 2);
  const j = diffText('', { 'list.json': json });
  assert.deepEqual(j.changes.map((c) => [c.resource.name, c.resource.new?.line]), [['a', 5], ['b', 12]]);
});
