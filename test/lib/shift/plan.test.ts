import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshctlError } from '../../../src/lib/errors.js';
import { availableWeight, buildPlan, parseHeaderMatch, parseStepList, planDurations, splitWeights, weightSteps } from '../../../src/lib/shift/plan.js';

const usage = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (err: unknown) => err instanceof MeshctlError && err.exitCode === 2 && pattern.test(err.message));

test('--step-weight never overshoots --max-weight: the last step is exactly the maximum', () => {
  assert.deepEqual(weightSteps({ stepWeight: 20 }), [20, 40, 60, 80, 100]);
  assert.deepEqual(weightSteps({ stepWeight: 20, maxWeight: 50 }), [20, 40, 50]);
  assert.deepEqual(weightSteps({ stepWeight: 30 }), [30, 60, 90, 100]);
  assert.deepEqual(weightSteps({ stepWeight: 25, maxWeight: 50 }), [25, 50]);
  assert.deepEqual(weightSteps({ stepWeight: 100 }), [100]);
  for (const [step, max] of [[7, 100], [3, 10], [33, 99], [40, 60]]) {
    const steps = weightSteps({ stepWeight: step, maxWeight: max });
    assert.equal(steps[steps.length - 1], max);
    assert.ok(steps.every((w) => w <= max), `${steps} overshoots ${max}`);
  }
});

test('--steps must be whole percentages that rise at every step', () => {
  assert.deepEqual(parseStepList('5,10,25,50,100'), [5, 10, 25, 50, 100]);
  assert.deepEqual(parseStepList(' 10, 50 '), [10, 50]);
  usage(() => parseStepList('10,5'), /must rise at every step, but 5 follows 10/);
  usage(() => parseStepList('10,10'), /rise/);
  usage(() => parseStepList('0,50'), /"0" is not a whole percentage/);
  usage(() => parseStepList('50,101'), /"101"/);
  usage(() => parseStepList('1.5'), /"1\.5"/);
  usage(() => parseStepList(','), /names no weight/);
  usage(() => weightSteps({ steps: [10], stepWeight: 5 }), /--steps lists every weight/);
});

test('--header is NAME=VALUE with the name lower-cased', () => {
  assert.deepEqual(parseHeaderMatch('X-Canary=yes'), { name: 'x-canary', value: 'yes' });
  assert.deepEqual(parseHeaderMatch('end-user=a=b'), { name: 'end-user', value: 'a=b' });
  usage(() => parseHeaderMatch('x-canary'), /not NAME=VALUE/);
  usage(() => parseHeaderMatch('=yes'), /not NAME=VALUE/);
  usage(() => parseHeaderMatch('bad name=1'), /not NAME=VALUE/);
});

test('a plan puts mirror, then header canary, before the weight steps; times are interval × steps and × threshold', () => {
  const plan = buildPlan({ steps: [10, 50, 100], header: { name: 'x-canary', value: 'yes' }, mirror: true, intervalMs: 30_000, gates: { failureThreshold: 3 } });
  assert.deepEqual(plan.steps.map((s) => `${s.kind}:${s.weight}`), ['mirror:0', 'header:0', 'weight:10', 'weight:50', 'weight:100']);
  assert.deepEqual(planDurations(plan), { promoteMs: 150_000, rollbackMs: 90_000 });
  const defaults = buildPlan({});
  assert.deepEqual(defaults.steps.map((s) => s.weight), [20, 40, 60, 80, 100]);
  assert.equal(defaults.intervalMs, 30_000);
  assert.deepEqual(defaults.gates, { minSuccessRate: 99, maxLatencyP99Ms: 500, minRequests: 20, failureThreshold: 1, onNoTraffic: 'hold' });
  usage(() => buildPlan({ gates: { minRequests: 0 } }), /--min-requests 0/);
  usage(() => buildPlan({ gates: { failureThreshold: 0 } }), /--failure-threshold 0/);
  usage(() => buildPlan({ gates: { minSuccessRate: 101 } }), /--min-success-rate 101/);
  usage(() => buildPlan({ intervalMs: 10 }), /--interval/);
});

test('weights: the new subset gets the step, the stable one the rest of their share, others keep theirs', () => {
  assert.deepEqual(splitWeights({ v1: 100, v2: 0 }, 'v1', 'v2', 25), { v1: 75, v2: 25 });
  assert.deepEqual(splitWeights({ v1: 80, v2: 20 }, 'v1', 'v2', 10), { v1: 90, v2: 10 });
  assert.deepEqual(splitWeights({ v1: 70, v2: 0, v3: 30 }, 'v1', 'v2', 50), { v1: 20, v2: 50, v3: 30 });
  assert.equal(availableWeight({ v1: 70, v2: 0, v3: 30 }, 'v1', 'v2'), 70);
  assert.deepEqual(splitWeights({ v1: 100, v2: 0 }, 'v1', 'v2', 0), { v1: 100, v2: 0 });
});

test('the plan says where abort and a rollback leave the route, and warns when its first step lowers the new subset', async () => {
  const { newRecord } = await import('../../../src/lib/shift/machine.js');
  const { plannedEvent } = await import('../../../src/lib/shift/shift.js');
  const { planText } = await import('../../../src/lib/shift/render.js');
  const route = { host: 'reviews.default.svc.cluster.local', hostArg: 'reviews', namespace: 'default', virtualService: { namespace: 'default', name: 'reviews' }, index: 0, name: '', from: 'v1', to: 'v2', destinations: ['v1', 'v2'] };
  const record = newRecord(route, buildPlan({ steps: [5, 10, 25, 50, 100] }), { v1: 80, v2: 20 }, { manual: false, owner: null });
  const e = plannedEvent(record, ['caller-0'], { dryRun: true, resumed: false });
  assert.deepEqual([e.abortWeights, e.rollbackWeights], [{ v1: 80, v2: 20 }, { v1: 100, v2: 0 }]);
  assert.deepEqual(e.warnings, ['Step 1 lowers v2 from the 20% it holds now to 5%; start --steps at 20 or more to keep its share.']);
  const text = planText(e);
  assert.match(text, /\n  roll back    30s after a failure starts \(30s × 1 failed check\), to v1 100 \/ v2 0\n/);
  assert.match(text, /\n  abort        meshctl route abort puts back v1 80 \/ v2 20, the weights before the shift\n/);
  assert.match(text, /\n  warning      Step 1 lowers v2 from the 20% it holds now to 5%/);
  const rising = newRecord(route, buildPlan({ steps: [20, 50, 100] }), { v1: 80, v2: 20 }, { manual: false, owner: null });
  assert.deepEqual(plannedEvent(rising, [], { dryRun: true, resumed: false }).warnings, []);
});
