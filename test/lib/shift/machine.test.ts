// The state machine against a stand-in target: which weights it writes in which order, what it records
// before and after each change, and where it ends for each analysis outcome.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { homeLayout } from '../../../src/lib/mesh/home.js';
import { ShiftRunner, decide, newRecord, type RunnerIo } from '../../../src/lib/shift/machine.js';
import type { ShiftRecord } from '../../../src/lib/shift/record.js';
import { buildPlan, type PlanInput, type Weights } from '../../../src/lib/shift/plan.js';
import { ShiftStore, currentOwner } from '../../../src/lib/shift/store.js';
import { WeightWriteError, type ServedWeights, type ShiftTarget, type WriteReport } from '../../../src/lib/shift/target.js';
import type { ShiftRoute } from '../../../src/lib/shift/route.js';
import type { ShiftEvent } from '../../../src/lib/shift/events.js';
import { figuresOf, type UpstreamFigures } from '../../../src/lib/runtime/figures.js';

const HOST = 'reviews.default.svc.cluster.local';
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const route: ShiftRoute = { host: HOST, hostArg: 'reviews', namespace: 'default', virtualService: { namespace: 'default', name: 'reviews' }, index: 0, name: 'split', from: 'v1', to: 'v2', destinations: ['v1', 'v2'] };

function figures(subset: string, requests: number, failures = 0, p99 = 5): UpstreamFigures {
  const samples = Array.from({ length: requests }, (_, i) => ({ startMs: 0, status: i < failures ? 500 : 200, durationMs: p99, retries: 0 }));
  return { host: HOST, subset, ...figuresOf(samples, { sinceMs: 0, untilMs: 1000 }) };
}

/** Proxies that serve what they were last given; figures from a function of the served weights. */
class StandInTarget implements ShiftTarget {
  served: Weights = { v1: 100, v2: 0 };
  writes: Weights[] = [];
  stored: { weights: Weights; header: boolean; mirror?: boolean }[] = [];
  /** Figures of mirrored copies (readFigures with mirrored). */
  copies: UpstreamFigures[] = [];
  /** What the record on disk said while each write happened. */
  pendingAtWrite: (Weights | null)[] = [];
  constructor(private readonly store: ShiftStore, private readonly canary: (weights: Weights) => UpstreamFigures[]) {}
  async proxies() { return ['caller-0', 'reviews-v1-0']; }
  async readWeights(): Promise<ServedWeights[]> {
    return (await this.proxies()).map((proxy) => ({ proxy, kind: 'sidecar' as const, weights: { ...this.served }, error: null }));
  }
  async writeWeights(weights: Weights): Promise<WriteReport> {
    const disk = JSON.parse(readFileSync(this.store.file, 'utf8')) as ShiftRecord;
    this.pendingAtWrite.push(disk.pending?.weights ?? null);
    this.writes.push({ ...weights });
    this.served = { ...weights };
    return { served: await this.proxies(), notRunning: [] };
  }
  async startReading() {}
  async readFigures(_since?: number, _until?: number, options: { mirrored?: boolean } = {}): Promise<UpstreamFigures[]> { return options.mirrored ? this.copies : this.canary(this.served); }
  async storeWeights(weights: Weights, header: { name: string; value: string } | null, mirror?: boolean) { this.stored.push({ weights: { ...weights }, header: header !== null, ...(mirror !== undefined ? { mirror } : {}) }); }
  async storedWeights() { return this.stored.length ? this.stored[this.stored.length - 1].weights : null; }
}

async function setUp(plan: PlanInput, canary: (w: Weights) => UpstreamFigures[], io: Partial<RunnerIo> = {}, baseline: Weights = { v1: 100, v2: 0 }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shift-machine-'));
  dirs.push(dir);
  const store = new ShiftStore(homeLayout(dir), HOST);
  const record = newRecord(route, buildPlan({ intervalMs: 100, ...plan }), baseline, { manual: false, owner: currentOwner() });
  await store.write(record);
  const target = new StandInTarget(store, canary);
  target.served = { ...baseline };
  const events: ShiftEvent[] = [];
  const runner = new ShiftRunner(record, { target, store, emit: (e) => events.push(e), onInterrupt: async () => 'hold', resumeCommand: 'meshctl route shift reviews --resume', tickMs: 10, ...io });
  return { store, target, events, runner, record };
}

const healthy = (w: Weights) => [figures('v2', w.v2 * 2), figures('v1', w.v1 * 2)];

test('a healthy shift writes every step in order, each recorded as pending first, and ends promoted', async () => {
  const { runner, target, events, store } = await setUp({ steps: [10, 50, 100], gates: { minRequests: 10 } }, healthy);
  const result = await runner.run();
  assert.deepEqual(result, { phase: 'promoted', reason: null, interrupted: false });
  assert.deepEqual(target.writes, [{ v1: 90, v2: 10 }, { v1: 50, v2: 50 }, { v1: 0, v2: 100 }]);
  assert.deepEqual(target.pendingAtWrite, target.writes, 'the record names each change before the proxies get it');
  assert.deepEqual(target.stored.map((s) => s.weights), target.writes, 'the applied VirtualService follows every step');
  assert.deepEqual(events.map((e) => `${e.type}:${e.step}`), ['step:1', 'analysis:1', 'step:2', 'analysis:2', 'step:3', 'analysis:3', 'promoted:3']);
  const disk = (await store.read())!;
  assert.equal(disk.phase, 'promoted');
  assert.equal(disk.pending, null);
  assert.equal(disk.owner, null);
  assert.deepEqual(disk.history.map((h) => h.event), ['planned', 'step', 'step', 'step', 'promoted']);
});

test('failed checks keep the step until the threshold, then roll back with the gate and its figures as reason', async () => {
  const failing = (w: Weights) => [figures('v2', 40, w.v2 ? 20 : 0), figures('v1', 40)];
  const { runner, target, events, store } = await setUp({ steps: [25, 50, 100], gates: { minRequests: 10, failureThreshold: 2 } }, failing);
  const result = await runner.run();
  assert.equal(result.phase, 'rolled_back');
  assert.equal(result.reason, 'success rate 50% < 99% at 25% for 2 checks');
  assert.deepEqual(target.writes, [{ v1: 75, v2: 25 }, { v1: 100, v2: 0 }]);
  assert.deepEqual(events.map((e) => e.type), ['step', 'analysis', 'analysis', 'rolled_back']);
  const rolled = events[3] as Extract<ShiftEvent, { type: 'rolled_back' }>;
  const decided = Date.parse(rolled.decidedAt);
  const analysed = Date.parse(events[2].time);
  assert.ok(decided <= analysed && analysed - decided < 500, 'the rollback is decided at the second analysis');
  assert.ok(rolled.servedMs >= 0 && rolled.servedMs < 1000);
  assert.equal((await store.read())!.phase, 'rolled_back');
});

test('a slow new subset is rolled back by the latency gate', async () => {
  const slow = (w: Weights) => [figures('v2', 40, 0, w.v2 ? 900 : 5), figures('v1', 40)];
  const { runner } = await setUp({ steps: [50, 100], gates: { minRequests: 10, maxLatencyP99Ms: 500 } }, slow);
  assert.equal((await runner.run()).reason, 'p99 900 ms > 500 ms at 50% for 1 check');
});

test('no traffic holds by default, continues or rolls back when asked, and never counts as a failed check', async () => {
  const none = () => [figures('v1', 40)];
  const held = await setUp({ steps: [50, 100] }, none);
  const r = await held.runner.run();
  assert.equal(r.phase, 'held');
  assert.match(r.reason!, /^not enough traffic: 0 requests to v2 in .* at 50%$/);
  const disk = (await held.store.read())!;
  assert.equal(disk.failedChecks, 0);
  assert.equal(disk.owner, null);
  assert.deepEqual(held.events.map((e) => e.type), ['step', 'analysis', 'hold']);
  assert.equal((held.events[2] as Extract<ShiftEvent, { type: 'hold' }>).resume, 'meshctl route shift reviews --resume');
  const cont = await setUp({ steps: [50, 100], gates: { onNoTraffic: 'continue' } }, none);
  assert.equal((await cont.runner.run()).phase, 'promoted');
  const back = await setUp({ steps: [50, 100], gates: { onNoTraffic: 'rollback' } }, none);
  assert.equal((await back.runner.run()).phase, 'rolled_back');
});

test('a change of weights left pending by a crash is finished first on resume', async () => {
  const { runner, target, record, store } = await setUp({ steps: [10, 50, 100], gates: { minRequests: 10 } }, healthy);
  record.cursor = 0;
  record.served = { v1: 90, v2: 10 };
  record.pending = { event: 'step', cursor: 1, weights: { v1: 50, v2: 50 }, decidedAt: new Date().toISOString() };
  await store.write(record);
  const result = await runner.run({ resumed: true });
  assert.equal(result.phase, 'promoted');
  assert.deepEqual(target.writes, [{ v1: 50, v2: 50 }, { v1: 0, v2: 100 }]);
});

test('Ctrl-C holds the shift at a safe point, or rolls back when the person says so', async () => {
  const holdCase = await setUp({ steps: [10, 100], intervalMs: 60_000, gates: { minRequests: 10 } }, healthy);
  const running = holdCase.runner.run();
  setTimeout(() => holdCase.runner.interrupt(), 100);
  const r = await running;
  assert.deepEqual([r.phase, r.interrupted], ['held', true]);
  assert.match(r.reason!, /interrupted at step 1 of 2/);
  assert.deepEqual(holdCase.target.served, { v1: 90, v2: 10 });
  const rollCase = await setUp({ steps: [10, 100], intervalMs: 60_000 }, healthy, { onInterrupt: async () => 'rollback' });
  const running2 = rollCase.runner.run();
  setTimeout(() => rollCase.runner.interrupt(), 100);
  const r2 = await running2;
  assert.deepEqual([r2.phase, r2.interrupted], ['rolled_back', true]);
  assert.deepEqual(rollCase.target.served, { v1: 100, v2: 0 });
});

test('route abort and promote reach the running shift through the request file', async () => {
  const a = await setUp({ steps: [10, 50, 100], intervalMs: 60_000 }, healthy);
  const running = a.runner.run();
  setTimeout(() => void a.store.writeRequest({ id: 'r1', action: 'abort', by: 'meshctl route abort (pid 1)', at: new Date().toISOString() }), 100);
  const r = await running;
  assert.equal(r.phase, 'aborted');
  assert.equal(r.reason, 'aborted by meshctl route abort (pid 1)');
  assert.equal(await a.store.readRequest(), null);
  const p = await setUp({ steps: [10, 50, 100], intervalMs: 60_000 }, healthy);
  const running2 = p.runner.run();
  setTimeout(() => void p.store.writeRequest({ id: 'r2', action: 'promote-full', by: 'meshctl route promote (pid 2)', at: new Date().toISOString() }), 100);
  const r2 = await running2;
  assert.equal(r2.phase, 'promoted');
  assert.deepEqual(p.target.writes, [{ v1: 90, v2: 10 }, { v1: 0, v2: 100 }]);
});

test('a promotion asked at a step the shift has meanwhile left on its own moves no second step', async () => {
  const { runner, store, target } = await setUp({ steps: [10, 50, 100], intervalMs: 60_000 }, healthy);
  const running = runner.run();
  // The shift is at its first step (cursor 0); the person saw the plan before it (cursor -1).
  const deadline = Date.now() + 10_000;
  while (target.writes.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await store.writeRequest({ id: 'late', action: 'promote', by: 'meshctl route promote (pid 4)', at: new Date().toISOString(), cursor: -1 });
  while ((await store.readRequest()) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  // One asked at the step the shift is on moves it on.
  await store.writeRequest({ id: 'now', action: 'promote', by: 'meshctl route promote (pid 5)', at: new Date().toISOString(), cursor: 0 });
  while (target.writes.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await store.writeRequest({ id: 'stop', action: 'abort', by: 'meshctl route abort (pid 6)', at: new Date().toISOString() });
  const r = await running;
  assert.equal(r.phase, 'aborted');
  assert.deepEqual(target.writes, [{ v1: 90, v2: 10 }, { v1: 50, v2: 50 }, { v1: 100, v2: 0 }], 'the late promotion moved nothing; the current one moved one step');
});

test('--manual: a question nobody answers is withdrawn when route abort asks, and the abort happens', async () => {
  let asked = 0;
  const unanswered = (_r: ShiftRecord, _next: number, signal: AbortSignal) => new Promise<'hold'>((resolve) => {
    asked += 1;
    signal.addEventListener('abort', () => resolve('hold'));
  });
  const { runner, store, target, record } = await setUp({ steps: [10, 100] }, healthy, { ask: unanswered });
  record.manual = true;
  const running = runner.run();
  setTimeout(() => void store.writeRequest({ id: 'r3', action: 'abort', by: 'meshctl route abort (pid 3)', at: new Date().toISOString() }), 100);
  const r = await running;
  assert.equal(asked, 1);
  assert.deepEqual([r.phase, r.reason], ['aborted', 'aborted by meshctl route abort (pid 3)']);
  assert.deepEqual(target.writes, [{ v1: 100, v2: 0 }], 'nothing moved before the abort');
});

test('weights changed behind the shift hold it with the proxy named', async () => {
  const { runner, target } = await setUp({ steps: [10, 100], gates: { minRequests: 10 } }, healthy);
  const read = target.readWeights.bind(target);
  target.readWeights = async () => (await read()).map((s, i) => (i === 1 ? { ...s, weights: { v1: 80, v2: 20 } } : s));
  const r = await runner.run();
  assert.equal(r.phase, 'held');
  assert.equal(r.reason, 'the weights changed outside the shift: reviews-v1-0 serves v1 80 / v2 20 where the shift set v1 90 / v2 10');
});

test('a change that adds the header route stays pending until the route is stored, so a failure leaves it resumable', async () => {
  const { runner, target, store } = await setUp({ steps: [100], header: { name: 'x-canary', value: 'yes' }, gates: { minRequests: 10 } }, healthy);
  target.storeWeights = async (_w, header) => { if (header) throw new Error('the mesh agent did not answer'); };
  await assert.rejects(runner.run(), /the mesh agent did not answer/);
  const disk = (await store.read())!;
  assert.deepEqual([disk.pending?.event, disk.pending?.cursor, disk.cursor], ['step', 0, -1]);
  assert.notEqual(disk.phase, 'promoted');
});

test('decide: the last step promotes; failures below the threshold analyse again', () => {
  const plan = buildPlan({ steps: [10, 100], gates: { failureThreshold: 3 } });
  assert.deepEqual(decide({ plan, cursor: 0, failedChecks: 0 }, 'passed', null), { kind: 'next' });
  assert.deepEqual(decide({ plan, cursor: 1, failedChecks: 2 }, 'passed', null), { kind: 'promote' });
  assert.deepEqual(decide({ plan, cursor: 0, failedChecks: 2 }, 'failed', 'p99 600 ms > 500 ms'), { kind: 'retry', reason: 'p99 600 ms > 500 ms at 10% for 2 checks' });
  assert.deepEqual(decide({ plan, cursor: 0, failedChecks: 3 }, 'failed', 'p99 600 ms > 500 ms'), { kind: 'rollback', reason: 'p99 600 ms > 500 ms at 10% for 3 checks' });
});

test('a mirror step keeps the split, is judged on the copies, and the mirror comes off at the next step or on rollback', async () => {
  const passing = await setUp({ mirror: true, steps: [100], gates: { minRequests: 10 } }, healthy);
  passing.target.copies = [figures('v2', 40)];
  assert.equal((await passing.runner.run()).phase, 'promoted');
  assert.deepEqual(passing.target.writes, [{ v1: 100, v2: 0 }, { v1: 0, v2: 100 }]);
  assert.deepEqual(passing.target.stored.map((s) => s.mirror), [true, false]);
  const first = passing.events.find((e) => e.type === 'analysis') as Extract<ShiftEvent, { type: 'analysis' }>;
  assert.deepEqual([first.step, first.outcome, first.canary.requests, first.stable.requests], [1, 'passed', 40, 200]);

  const failing = await setUp({ mirror: true, steps: [50, 100], gates: { minRequests: 10 } }, healthy);
  failing.target.copies = [figures('v2', 40, 20)];
  const result = await failing.runner.run();
  assert.equal(result.phase, 'rolled_back');
  assert.match(result.reason ?? '', /^success rate 50% < 99% at mirror for 1 check$/);
  assert.deepEqual(failing.target.writes, [{ v1: 100, v2: 0 }, { v1: 100, v2: 0 }], 'v2 never got a weight');
  assert.deepEqual(failing.target.stored.map((s) => s.mirror), [true, false]);

  // Without a mirror step, the shift leaves the route's mirroring alone.
  const plain = await setUp({ steps: [100], gates: { minRequests: 10 } }, healthy);
  await plain.runner.run();
  assert.ok(plain.target.stored.every((s) => s.mirror === undefined));
});

test('abort puts back the weights the shift started from (80/20 stays 80/20); a failing canary rolls back to 0', async () => {
  const a = await setUp({ steps: [50, 100], intervalMs: 60_000 }, healthy, {}, { v1: 80, v2: 20 });
  const running = a.runner.run();
  setTimeout(() => void a.store.writeRequest({ id: 'r1', action: 'abort', by: 'meshctl route abort (pid 1)', at: new Date().toISOString() }), 100);
  assert.equal((await running).phase, 'aborted');
  assert.deepEqual(a.target.writes, [{ v1: 50, v2: 50 }, { v1: 80, v2: 20 }]);
  assert.deepEqual(a.target.stored[a.target.stored.length - 1].weights, { v1: 80, v2: 20 });

  const failing = (w: Weights) => [figures('v2', Math.max(40, w.v2 * 2), 20), figures('v1', w.v1 * 2)];
  const r = await setUp({ steps: [50, 100] }, failing, {}, { v1: 80, v2: 20 });
  assert.equal((await r.runner.run()).phase, 'rolled_back');
  assert.deepEqual(r.target.writes, [{ v1: 50, v2: 50 }, { v1: 100, v2: 0 }]);
});

test('an abort ends the shift even when the proxies no longer carry its subsets: the VirtualService brings them back', async () => {
  const a = await setUp({ steps: [50, 100], intervalMs: 60_000 }, healthy);
  await a.runner.act('promote', 'meshctl route promote (pid 1)');
  // As after an apply --force that took v2 off the route: the proxies refuse the abort's weights.
  a.target.writeWeights = async () => { throw new WeightWriteError('Weights {"v1":100,"v2":0} leave route r0 without a destination.'); };
  const r = await a.runner.act('abort', 'meshctl route abort (pid 2)');
  assert.equal(r.phase, 'aborted');
  assert.deepEqual(a.target.stored[a.target.stored.length - 1], { weights: { v1: 100, v2: 0 }, header: false });
  const disk = await a.store.read();
  assert.deepEqual([disk?.phase, disk?.pending, disk?.served], ['aborted', null, { v1: 100, v2: 0 }]);
});
