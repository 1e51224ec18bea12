// meshctl route shift of an HTTPRoute on a live local mesh: reviews is routed by an HTTPRoute attached
// to its Service, whose rule splits between the Services reviews-v1, reviews-v2 and reviews-v3; a caller
// pod sends a steady 100 rps to reviews through its sidecar while the shift moves the rule's backendRefs.
//
// reviews-v2 is healthy, reviews-v3 answers 500 to every second request. Margins as in route-shift.test.ts:
// 1.5–2 s intervals at 100 rps give the new backend 30+ requests at its first step where 10 are asked for.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reviewsLoad, startShiftMesh, type ShiftMesh } from '../support/shift-mesh.js';
import { failures } from '../support/load.js';
import { assertRefused } from '../support/cli.js';
import type { ShiftEvent } from '../../src/lib/shift/events.js';
import { assertContract } from '../support/shift-schemas.js';

type Of<T extends ShiftEvent['type']> = Extract<ShiftEvent, { type: T }>;

describe('route shift of an HTTPRoute on a live mesh', { timeout: 300_000 }, () => {
  let mesh: ShiftMesh;
  const load = reviewsLoad(() => mesh);

  before(async () => {
    mesh = await startShiftMesh('hrshift', { httpRoute: true, route: { v1: 3, v2: 1 }, versions: { v1: {}, v2: {}, v3: { FAIL_EVERY: '2' } } });
  });
  after(async () => {
    await load.stopAny();
    await mesh?.stop();
  });

  async function appliedBackendRefs(): Promise<Record<string, number>> {
    const r = await mesh.h.run(['get', 'httproute', 'reviews', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const route = JSON.parse(r.stdout) as { spec: { rules: { backendRefs: { name: string; weight?: number }[] }[] } };
    return Object.fromEntries(route.spec.rules[0].backendRefs.map((b) => [b.name, b.weight ?? 1]));
  }

  it('promotes a healthy backend through every step with zero failed requests, keeping the proportions 3/1 as 75/25', async () => {
    await load.start();
    const shift = mesh.startShift(['reviews', '--to', 'reviews-v2', '--route-kind', 'httproute', '--steps', '50,80,100', '--interval', '2s', '--min-requests', '10', '--max-latency-p99', '500ms']);
    const done = await shift.exited;
    const samples = await load.stop();
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(shift.events.map((e) => `${e.type}:${e.step}`), ['planned:0', 'step:1', 'analysis:1', 'step:2', 'analysis:2', 'step:3', 'analysis:3', 'promoted:3']);
    for (const e of shift.events) assertContract('event', e);
    const planned = shift.events[0] as Of<'planned'>;
    // backendRefs 3/1 are the proportions 75/25: the shift starts there and an abort would put them back.
    assert.deepEqual(planned.abortWeights, { 'reviews-v1': 75, 'reviews-v2': 25 });
    assert.deepEqual(planned.plan.map((p) => p.weights), [{ 'reviews-v1': 50, 'reviews-v2': 50 }, { 'reviews-v1': 20, 'reviews-v2': 80 }, { 'reviews-v1': 0, 'reviews-v2': 100 }]);
    for (const a of shift.events.filter((e): e is Of<'analysis'> => e.type === 'analysis')) {
      assert.equal(a.outcome, 'passed', JSON.stringify(a));
      assert.ok(a.canary.requests >= 10, JSON.stringify(a.canary));
    }
    assert.deepEqual(failures(samples), [], `failed requests during the shift (${samples.length} sent)`);
    assert.ok(samples.length >= 400, `only ${samples.length} requests were sent`);
    assert.ok(samples.some((s) => s.version === 'v2') && samples.some((s) => s.version === 'v1'));
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { 'reviews-v1': 0, 'reviews-v2': 100 }, pod);
    assert.match(done.stderr, /Promoted: reviews-v1 0 \/ reviews-v2 100/);
    // The applied HTTPRoute holds the last step, so a later apply or diff --live sees it.
    assert.deepEqual(await appliedBackendRefs(), { 'reviews-v1': 0, 'reviews-v2': 100 });
  });

  it('rolls back a backend that answers 500 to half its requests, back on the stable backend', async () => {
    await mesh.reset({ v1: 1 });
    await load.start();
    const shift = mesh.startShift(['reviews', '--to', 'reviews-v3', '--steps', '20,50,100', '--interval', '1500ms', '--min-requests', '10']);
    const done = await shift.exited;
    assert.equal(done.code, 1, done.stderr);
    const decidedAt = Date.parse((shift.events.find((e) => e.type === 'rolled_back') as Of<'rolled_back'>).decidedAt);
    await load.stop();
    assert.deepEqual(shift.events.map((e) => e.type), ['planned', 'step', 'analysis', 'rolled_back']);
    for (const e of shift.events) assertContract('event', e);
    const rolled = shift.events[3] as Of<'rolled_back'>;
    assert.match(rolled.reason, /^success rate \d+(\.\d)?% < 99% at 20% for 1 check$/);
    assert.ok(Number(/rate (\d+(?:\.\d)?)%/.exec(rolled.reason)![1]) < 70, rolled.reason);
    assert.ok(Number.isFinite(decidedAt));
    assert.match(done.stderr, /Rolled back: success rate/);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { 'reviews-v1': 100, 'reviews-v3': 0 }, pod);
    assert.deepEqual(await appliedBackendRefs(), { 'reviews-v1': 100, 'reviews-v3': 0 });
  });

  it('held without traffic: an apply that changes the rule is refused, status names the HTTPRoute, abort puts back 1/1 as 50/50', async () => {
    await mesh.reset({ v1: 1, v2: 1 });
    const dry = await mesh.h.run(['route', 'shift', 'reviews', '--to', 'reviews-v2', '--steps', '80,100', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /HTTPRoute default\/reviews rule 0, carried by \d+ prox/);
    const shift = mesh.startShift(['reviews', '--to', 'reviews-v2', '--steps', '80,100', '--interval', '1s', '--min-requests', '5']);
    const done = await shift.exited;
    assert.equal(done.code, 4, done.stderr);
    assert.deepEqual(shift.events.map((e) => e.type), ['planned', 'step', 'analysis', 'hold']);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { 'reviews-v1': 20, 'reviews-v2': 80 }, `${pod} was moved off the held step`);
    await assert.rejects(mesh.reset({ v1: 1 }), /Nothing was applied: .*, and it sets HTTPRoute default\/reviews rule 0 to reviews-v1 1 where the shift has reviews-v1 20 \/ reviews-v2 80\./);
    const status = await mesh.h.run(['route', 'status', 'reviews', '-o', 'json']);
    assert.equal(status.code, 4, status.stderr);
    assertContract('status', JSON.parse(status.stdout));
    const s = JSON.parse(status.stdout) as { shift: { state: string; httpRoute: string }; served: { consistent: boolean; step: number } };
    assert.deepEqual([s.shift.state, s.shift.httpRoute, s.served.consistent, s.served.step], ['held', 'default/reviews rule 0', true, 1]);
    const abort = await mesh.h.run(['route', 'abort', 'reviews']);
    assert.equal(abort.code, 0, abort.stderr);
    assert.match(abort.stdout, /^Aborted the shift of reviews\.default\.svc\.cluster\.local: every proxy serves reviews-v1 50 \/ reviews-v2 50\.$/m);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { 'reviews-v1': 50, 'reviews-v2': 50 }, pod);
    assert.deepEqual(await appliedBackendRefs(), { 'reviews-v1': 50, 'reviews-v2': 50 });
  });

  it('a host without an HTTPRoute, an unknown backend, --header on an HTTPRoute: one sentence, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['details', '--to', 'v1', '--route-kind', 'httproute'], /^Error: No HTTPRoute attached to Service details \(parentRefs kind Service\) is applied in namespace default; .*\.$/],
      [['reviews', '--to', 'reviews-v9'], /^Error: There is no Service reviews-v9 in namespace default for --to; .*\.$/],
      [['reviews', '--to', 'reviews-v2', '--header', 'x-canary=yes'], /^Error: --header is not offered for an HTTPRoute shift .*\.$/],
    ];
    for (const [args, message] of cases) assertRefused(await mesh.h.run(['route', 'shift', ...args]), 2, message, args.join(' '));
  });
});
