import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRecord } from '../../../src/lib/shift/machine.js';
import { buildPlan } from '../../../src/lib/shift/plan.js';
import { reconcile } from '../../../src/lib/shift/reconcile.js';
import type { ShiftRoute } from '../../../src/lib/shift/route.js';
import type { ServedWeights } from '../../../src/lib/shift/target.js';

const route: ShiftRoute = { host: 'reviews.default.svc.cluster.local', hostArg: 'reviews', namespace: 'default', virtualService: { namespace: 'default', name: 'reviews' }, index: 0, name: '', from: 'v1', to: 'v2', destinations: ['v1', 'v2'] };
const served = (...weights: ({ v1: number; v2: number } | null)[]): ServedWeights[] => weights.map((w, i) => ({ proxy: `pod-${i}`, kind: 'sidecar', weights: w, error: w ? null : 'connection refused' }));

test('every proxy on one step: consistent, named by the plan', () => {
  const r = newRecord(route, buildPlan({ steps: [10, 50, 100] }), { v1: 100, v2: 0 }, { manual: false, owner: null });
  r.cursor = 1;
  const c = reconcile(r, served({ v1: 50, v2: 50 }, { v1: 50, v2: 50 }));
  assert.equal(c.consistent, true);
  assert.equal(c.step, 2);
  assert.equal(c.summary, 'All 2 proxies serve v1 50 / v2 50: step 2 (50%).');
});

test('a change interrupted half-way: proxies on two steps of the plan, and --resume named', () => {
  const r = newRecord(route, buildPlan({ steps: [10, 50, 100] }), { v1: 100, v2: 0 }, { manual: false, owner: null });
  r.cursor = 0;
  r.pending = { event: 'step', cursor: 1, weights: { v1: 50, v2: 50 }, decidedAt: '' };
  const c = reconcile(r, served({ v1: 90, v2: 10 }, { v1: 50, v2: 50 }, { v1: 50, v2: 50 }, null));
  assert.equal(c.consistent, false);
  assert.equal(c.planWeights, true);
  assert.deepEqual(c.proxies.map((p) => p.step), [1, 2, 2, null]);
  assert.equal(c.summary, 'The proxies disagree (1 at step 1 (10%), 2 at step 2 (50%)): a change of weights was interrupted; --resume finishes it; 1 proxy does not answer.');
});

test('weights that are not the plan are called so; the stable weights after a rollback read "rolled back"', () => {
  const r = newRecord(route, buildPlan({ steps: [10, 50, 100] }), { v1: 80, v2: 20 }, { manual: false, owner: null });
  const odd = reconcile(r, served({ v1: 33, v2: 67 }));
  assert.equal(odd.planWeights, false);
  assert.equal(odd.proxies[0].label, 'not a weight of the plan');
  r.phase = 'rolled_back';
  r.cursor = 1;
  const back = reconcile(r, served({ v1: 100, v2: 0 }));
  assert.equal(back.rolledBack, true);
  assert.equal(back.proxies[0].label, 'rolled back');
  r.phase = 'progressing';
  r.cursor = -1;
  assert.equal(reconcile(r, served({ v1: 80, v2: 20 })).proxies[0].label, 'before the shift');
});
