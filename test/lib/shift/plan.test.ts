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
