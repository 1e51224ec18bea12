import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { homeLayout } from '../../../src/lib/mesh/home.js';
import { commitRevision, listRevisions, planApply, planDelete, readApplied, readRevision, resourceKey, type StoredResource } from '../../../src/lib/mesh/state.js';

const vs = (name: string, weight: number, apiVersion = 'networking.istio.io/v1'): StoredResource => ({
  apiVersion,
  kind: 'VirtualService',
  metadata: { name, namespace: 'default' },
  spec: { hosts: [name], http: [{ route: [{ destination: { host: name }, weight }] }] },
});

test('a resource keeps its identity across API versions of its group', () => {
  assert.equal(resourceKey(vs('reviews', 1)), resourceKey(vs('reviews', 1, 'networking.istio.io/v1beta1')));
  assert.notEqual(resourceKey(vs('reviews', 1)), resourceKey({ ...vs('reviews', 1), metadata: { name: 'reviews', namespace: 'other' } }));
});

test('planApply says created, configured or unchanged for each incoming resource and keeps the others', () => {
  const current = [vs('reviews', 80), vs('ratings', 100)];
  const plan = planApply(current, [vs('reviews', 50), vs('ratings', 100), vs('details', 100)]);
  assert.deepEqual(plan.changes.map((c) => `${c.name} ${c.action}`), ['reviews configured', 'ratings unchanged', 'details created']);
  assert.equal(plan.resources.length, 3);
  assert.equal((plan.resources.find((r) => r.metadata.name === 'reviews')!.spec as { http: { route: { weight: number }[] }[] }).http[0].route[0].weight, 50);
});

test('planDelete removes by kind (any case) and name, and reports what matched nothing', () => {
  const plan = planDelete([vs('reviews', 80), vs('ratings', 100)], [{ kind: 'virtualservice', namespace: 'default', name: 'reviews' }, { kind: 'VirtualService', name: 'nope' }]);
  assert.deepEqual(plan.resources.map((r) => r.metadata.name), ['ratings']);
  assert.deepEqual(plan.changes.map((c) => `${c.name} ${c.action}`), ['reviews deleted']);
  assert.deepEqual(plan.missing.map((m) => m.name), ['nope']);
});

test('every commit is a new revision with a snapshot in the history; files are private and no temp file is left', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-state-'));
  try {
    const layout = homeLayout(dir);
    assert.equal((await readApplied(layout)).revision, 0);
    const first = planApply([], [vs('reviews', 80)]);
    const r1 = await commitRevision(layout, first.resources, first.changes, 'apply');
    const second = planApply(r1.resources, [vs('reviews', 50)]);
    const r2 = await commitRevision(layout, second.resources, second.changes, 'apply');
    assert.deepEqual([r1.revision, r2.revision], [1, 2]);
    const applied = await readApplied(layout);
    assert.equal(applied.revision, 2);
    assert.deepEqual(applied.resources, second.resources);
    assert.deepEqual(await listRevisions(layout), [1, 2]);
    const old = await readRevision(layout, 1);
    assert.deepEqual(old?.resources, first.resources, 'revision 1 is kept for rollback');
    assert.equal(old?.changes[0].action, 'created');
    assert.equal(statSync(layout.appliedFile).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(layout.stateDir).filter((f) => f.includes('.tmp')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
