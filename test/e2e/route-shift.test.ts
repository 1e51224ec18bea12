// meshctl route shift on a live local mesh: a caller pod sends a steady 100 rps to reviews through its
// sidecar while the shift moves reviews' route from v1 to a new version, gated on what every sidecar logged.
//
// Versions: v2 healthy, v3 answers 500 to every second request, v4 answers after 300 ms. Thresholds leave
// margins for a busy 2-core machine: the healthy version's p99 is a few ms against a 500 ms gate (v4's
// 300 ms against a 150 ms gate); with 100 rps and 1.5–2 s intervals the new subset gets 30–40 requests at
// its first step where 10 are asked for; "back on stable within 1 s" is checked against the 1 s target,
// while the decision-to-served time itself is tens of ms.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import { loadAll } from 'js-yaml';
import path from 'node:path';
import { startShiftMesh, type ShiftMesh } from '../support/shift-mesh.js';
import { readAccessLog } from '../../src/lib/runtime/haproxy/access-log.js';
import { failures, startLoad, type Load, type Sample } from '../support/load.js';
import { hasStackTrace } from '../support/cli.js';
import { eventually } from './support.js';
import type { ShiftEvent } from '../../src/lib/shift/events.js';
import { assertContract } from '../support/shift-schemas.js';

type Of<T extends ShiftEvent['type']> = Extract<ShiftEvent, { type: T }>;

describe('route shift on a live mesh', { timeout: 300_000 }, () => {
  let mesh: ShiftMesh;
  let load: Load | null = null;

  before(async () => {
    mesh = await startShiftMesh('shift', { versions: { v1: {}, v2: {}, v3: { FAIL_EVERY: '2' }, v4: { DELAY_MS: '300' } } });
  });
  after(async () => {
    await load?.stop();
    await mesh?.stop();
  });

  async function steadyLoad(): Promise<Load> {
    load = startLoad({ port: await mesh.callerPort(), host: 'reviews', rps: 100, maxMs: 60_000 });
    return load;
  }
  async function stopLoad() {
    const samples = await load!.stop();
    load = null;
    return samples;
  }
  const shiftFile = () => path.join(mesh.h.home, 'state', 'shifts', 'reviews.default.svc.cluster.local.json');

  it('promotes a healthy version through every step with zero failed requests', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    await steadyLoad();
    const shift = mesh.startShift(['reviews', '--to', 'v2', '--steps', '10,50,100', '--interval', '2s', '--min-requests', '10', '--max-latency-p99', '500ms']);
    const done = await shift.exited;
    const samples = await stopLoad();
    assert.equal(done.code, 0, done.stderr);
    const types = shift.events.map((e) => `${e.type}:${e.step}`);
    assert.deepEqual(types, ['planned:0', 'step:1', 'analysis:1', 'step:2', 'analysis:2', 'step:3', 'analysis:3', 'promoted:3']);
    for (const e of shift.events) assertContract('event', e);
    for (const a of shift.events.filter((e): e is Of<'analysis'> => e.type === 'analysis')) {
      assert.equal(a.outcome, 'passed', JSON.stringify(a));
      assert.ok(a.canary.requests >= 10);
    }
    assert.deepEqual(failures(samples), [], `failed requests during the shift (${samples.length} sent)`);
    assert.ok(samples.length >= 400, `only ${samples.length} requests were sent`);
    assert.ok(samples.some((s) => s.version === 'v2') && samples.some((s) => s.version === 'v1'));
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 0, v2: 100 }, pod);
    assert.match(done.stderr, /Promoted: v1 0 \/ v2 100/);
    // The applied VirtualService holds the last step, so a later apply or diff --live sees it.
    const vs = await mesh.h.run(['get', 'virtualservice', 'reviews', '-o', 'json']);
    assert.match(vs.stdout, /"subset": "v2",\s*"host": "reviews"|"host": "reviews",\s*"subset": "v2"/);
    assert.match(vs.stdout.replace(/\s+/g, ''), /"subset":"v2"},"weight":100/);
  });

  it('rolls back a version that fails half its requests at the first analysis after the threshold, back on stable within 1 s', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    await steadyLoad();
    const shift = mesh.startShift(['reviews', '--to', 'v3', '--steps', '20,50,100', '--interval', '1500ms', '--min-requests', '10', '--failure-threshold', '2']);
    const done = await shift.exited;
    assert.equal(done.code, 1, done.stderr);
    // Keep the load on until 50 requests sent more than 1 s after the decision have their answer.
    const decidedAt = Date.parse((shift.events.find((e) => e.type === 'rolled_back') as Of<'rolled_back'>).decidedAt);
    await eventually('50 answers to requests sent 1 s after the rollback decision', () => load!.samples.filter((x) => x.sentAt > decidedAt + 1000).length >= 50, 20_000);
    const samples = await stopLoad();
    const analyses = shift.events.filter((e): e is Of<'analysis'> => e.type === 'analysis');
    assert.deepEqual(analyses.map((a) => [a.outcome, a.failedChecks]), [['failed', 1], ['failed', 2]]);
    assert.deepEqual(shift.events.map((e) => e.type), ['planned', 'step', 'analysis', 'analysis', 'rolled_back']);
    for (const e of shift.events) assertContract('event', e);
    const rolled = shift.events[4] as Of<'rolled_back'>;
    assert.match(rolled.reason, /^success rate \d+(\.\d)?% < 99% at 20% for 2 checks$/);
    assert.ok(Number(/rate (\d+(?:\.\d)?)%/.exec(rolled.reason)![1]) < 70, rolled.reason);
    assert.match(done.stderr, /Rolled back: success rate \d+(\.\d)?% < 99% at 20% for 2 checks/);
    const decided = Date.parse(rolled.decidedAt);
    assert.ok(Math.abs(decided - Date.parse(analyses[1].time)) < 500, 'decided at the second analysis');
    assert.ok(rolled.servedMs < 1000, `stable served ${rolled.servedMs} ms after the decision`);
    const late = samples.filter((s) => s.sentAt > decided + 1000);
    assert.ok(late.length > 20, 'the load ran on after the rollback');
    assert.deepEqual(late.filter((s) => s.version !== 'v1'), [], 'requests sent 1 s after the decision reached another version than v1');
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 100, v2: 0, v3: 0 }, pod);
  });

  it('rolls back a slow version with the latency gate as reason', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    await steadyLoad();
    const shift = mesh.startShift(['reviews', '--to', 'v4', '--steps', '50,100', '--interval', '1500ms', '--min-requests', '10', '--max-latency-p99', '150ms']);
    const done = await shift.exited;
    await stopLoad();
    assert.equal(done.code, 1, done.stderr);
    const rolled = shift.events.find((e): e is Of<'rolled_back'> => e.type === 'rolled_back')!;
    assert.match(rolled.reason, /^p99 \d+ ms > 150 ms at 50% for 1 check$/);
    assert.ok(Number(/p99 (\d+)/.exec(rolled.reason)![1]) >= 300);
    const analysis = shift.events.find((e): e is Of<'analysis'> => e.type === 'analysis')!;
    assert.deepEqual(analysis.checks.map((c) => [c.gate, c.passed]), [['requests', true], ['success-rate', true], ['latency-p99', false]]);
    assert.ok((analysis.stable.latencyMs.p99 ?? 0) < (analysis.canary.latencyMs.p99 ?? 0), 'the stable subset is the faster one');
  });

  it('a header-canary first step sends only matching requests to the new version, then the weights move', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    const port = await mesh.callerPort();
    const plain = startLoad({ port, host: 'reviews', rps: 80, maxMs: 60_000 });
    const marked = startLoad({ port, host: 'reviews', rps: 20, maxMs: 60_000, headers: { 'x-canary': 'yes' } });
    try {
      const shift = mesh.startShift(['reviews', '--to', 'v2', '--header', 'x-canary=yes', '--steps', '100', '--interval', '2s', '--min-requests', '10']);
      const done = await shift.exited;
      assert.equal(done.code, 0, done.stderr);
      assert.deepEqual(shift.events.map((e) => `${e.type}:${e.step}`), ['planned:0', 'step:1', 'analysis:1', 'step:2', 'analysis:2', 'promoted:2']);
      shift.events.forEach((e) => assertContract('event', e));
      const header = shift.events[1] as Of<'step'>;
      assert.deepEqual([header.kind, header.label, header.weights], ['header', 'header x-canary=yes', { v1: 100, v2: 0 }]);
      const analysis = shift.events[2] as Of<'analysis'>;
      assert.equal(analysis.outcome, 'passed');
      assert.ok(analysis.canary.requests >= 10 && analysis.canary.requests <= 60, `${analysis.canary.requests} requests reached v2 at the header step`);
      // While the header route was in place: marked requests on v2, the others on v1 (from half a second
      // after the reload, when the replaced processes' keep-alive connections have taken their last request).
      const from = Date.parse(header.time) + 500;
      const until = Date.parse(analysis.time);
      const during = (samples: Sample[]) => samples.filter((x) => x.sentAt > from && x.sentAt < until);
      const plainSamples = await plain.stop();
      const markedSamples = await marked.stop();
      assert.ok(during(plainSamples).length > 50 && during(markedSamples).length > 10);
      assert.deepEqual([...new Set(during(plainSamples).map((x) => x.version))], ['v1']);
      assert.deepEqual([...new Set(during(markedSamples).map((x) => x.version))], ['v2']);
      assert.deepEqual(failures([...plainSamples, ...markedSamples]), []);
      // The canary route is gone once the weights move.
      const vs = await mesh.h.run(['get', 'virtualservice', 'reviews', '-o', 'json']);
      assert.doesNotMatch(vs.stdout, /meshctl-canary/);
    } finally {
      await plain.stop();
      await marked.stop();
    }
  });

  /** What reviews-<version>'s sidecar let in (its inbound access log). */
  const inboundOf = async (version: string) => (await readAccessLog(path.join(mesh.h.home, 'pods', `reviews-${version}-0`, 'access.log'))).entries.filter((e) => e.direction === 'inbound');
  const storedVs = async () => (await mesh.h.run(['get', 'virtualservice', 'reviews', '-o', 'json'])).stdout;

  // The mirror tests are about the copies and the success-rate gate (latency gates are tested above):
  // without a latency gate, a machine busy with other work cannot decide them.
  it('a mirror first step copies every request to the new version and is gated on the copies; the next step removes the mirror', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    const before = (await inboundOf('v2')).length;
    await steadyLoad();
    const shift = mesh.startShift(['reviews', '--to', 'v2', '--mirror', '--steps', '100', '--interval', '2s', '--min-requests', '10', '--max-latency-p99', 'none']);
    const mirrorStep = await shift.waitFor((e) => e.type === 'step' && e.step === 1) as Of<'step'>;
    // While the mirror is on, the applied VirtualService says so.
    assert.match((await storedVs()).replace(/\s+/g, ''), /"mirror":\{"host":"reviews\.default\.svc\.cluster\.local","subset":"v2"\}/);
    const done = await shift.exited;
    const samples = await stopLoad();
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(shift.events.map((e) => `${e.type}:${e.step}`), ['planned:0', 'step:1', 'analysis:1', 'step:2', 'analysis:2', 'promoted:2']);
    shift.events.forEach((e) => assertContract('event', e));
    assert.deepEqual([mirrorStep.kind, mirrorStep.label, mirrorStep.weights], ['mirror', 'mirror', { v1: 100, v2: 0 }]);
    const analysis = shift.events[2] as Of<'analysis'>;
    assert.equal(analysis.outcome, 'passed', JSON.stringify(analysis));
    // Judged on the copies: about the whole load reached v2 as copies while no caller was served by it.
    assert.ok(analysis.canary.requests >= 50, `${analysis.canary.requests} copies reached v2 at the mirror step`);
    assert.ok(analysis.stable.requests >= 50, `${analysis.stable.requests} requests reached v1 at the mirror step`);
    const from = Date.parse(mirrorStep.time);
    const until = Date.parse(analysis.time);
    const during = samples.filter((x) => x.sentAt > from && x.sentAt < until);
    assert.ok(during.length > 100, `${during.length} requests during the mirror step`);
    assert.deepEqual([...new Set(during.map((x) => x.version))], ['v1']);
    assert.deepEqual(failures(samples), [], `failed requests during the shift (${samples.length} sent)`);
    const copies = (await inboundOf('v2')).slice(before).filter((e) => e.host === 'reviews-shadow');
    assert.ok(copies.length >= analysis.canary.requests, `${copies.length} copies logged by v2's sidecar`);
    // The mirror is gone once the weights move.
    assert.doesNotMatch(await storedVs(), /mirror/);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 0, v2: 100 }, pod);
  });

  it('rolls back a new version that fails on mirrored copies before it gets any real traffic', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    const before = (await inboundOf('v3')).length;
    await steadyLoad();
    const shift = mesh.startShift(['reviews', '--to', 'v3', '--mirror', '--steps', '50,100', '--interval', '1500ms', '--min-requests', '10', '--max-latency-p99', 'none']);
    const done = await shift.exited;
    const samples = await stopLoad();
    assert.equal(done.code, 1, done.stderr);
    assert.deepEqual(shift.events.map((e) => `${e.type}:${e.step}`), ['planned:0', 'step:1', 'analysis:1', 'rolled_back:1']);
    shift.events.forEach((e) => assertContract('event', e));
    const analysis = shift.events[2] as Of<'analysis'>;
    assert.equal(analysis.outcome, 'failed');
    assert.ok(analysis.canary.requests >= 10 && analysis.canary.statusClasses['5xx'] > 0, JSON.stringify(analysis.canary));
    const rolled = shift.events[3] as Of<'rolled_back'>;
    assert.match(rolled.reason, /^success rate \d+(\.\d)?% < 99% at mirror for 1 check$/);
    assert.match(done.stderr, /Rolled back: success rate \d+(\.\d)?% < 99% at mirror for 1 check/);
    // No caller was ever served by v3, nor saw a failure; v3 only ever got copies.
    assert.ok(samples.length >= 100, `only ${samples.length} requests were sent`);
    assert.deepEqual(failures(samples), []);
    assert.deepEqual([...new Set(samples.map((x) => x.version))], ['v1']);
    const v3 = (await inboundOf('v3')).slice(before);
    assert.ok(v3.length >= 10 && v3.every((e) => e.host === 'reviews-shadow'), `v3 got ${v3.length} requests, hosts ${[...new Set(v3.map((e) => e.host))].join(', ')}`);
    assert.doesNotMatch(await storedVs(), /mirror/);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 100, v2: 0, v3: 0 }, pod);
  });

  it('holds without traffic: exit 4, "not enough traffic", not rolled back; status says held, abort sends it back', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    const shift = mesh.startShift(['reviews', '--to', 'v2', '--steps', '50,100', '--interval', '1s', '--min-requests', '5']);
    const done = await shift.exited;
    assert.equal(done.code, 4, done.stderr);
    assert.match(done.stderr, /Held at step 1\/2: not enough traffic: 0 requests to v2 in 1(\.\d)?s, fewer than the 5 --min-requests asks for at 50%\. Resume with: meshctl route shift reviews --resume --home /);
    assert.deepEqual(shift.events.map((e) => e.type), ['planned', 'step', 'analysis', 'hold']);
    assert.equal((shift.events[2] as Of<'analysis'>).outcome, 'no_traffic');
    assert.equal((shift.events[2] as Of<'analysis'>).failedChecks, 0);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 50, v2: 50 }, `${pod} was moved off the held step`);
    const status = await mesh.h.run(['route', 'status', 'reviews', '-o', 'json']);
    assert.equal(status.code, 4, status.stderr);
    assertContract('status', JSON.parse(status.stdout));
    for (const e of shift.events) assertContract('event', e);
    const s = JSON.parse(status.stdout) as { shift: { state: string; reason: string; step: number }; served: { consistent: boolean; step: number } };
    assert.equal(s.shift.state, 'held');
    assert.match(s.shift.reason, /^not enough traffic/);
    assert.deepEqual([s.served.consistent, s.served.step], [true, 1]);
    const abort = await mesh.h.run(['route', 'abort', 'reviews']);
    assert.equal(abort.code, 0, abort.stderr);
    assert.match(abort.stdout, /^Aborted the shift of reviews\.default\.svc\.cluster\.local: every proxy serves v1 100 \/ v2 0\.$/m);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 100, v2: 0 }, pod);
  });

  it('--dry-run prints the plan with the time to promote and to roll back, and changes nothing', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    await fs.rm(shiftFile(), { force: true });
    const before = await mesh.served();
    const r = await mesh.h.run(['route', 'shift', 'reviews', '--to', 'v2', '--step-weight', '30', '--interval', '30s', '--failure-threshold', '2', '--header', 'x-canary=yes', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Plan for reviews\.default\.svc\.cluster\.local \(dry run: nothing was changed\)/);
    assert.match(r.stdout, /step 1 +header x-canary=yes +requests with x-canary: yes go to v2/);
    assert.match(r.stdout, /step 2 +30% +v1 70 \/ v2 30/);
    assert.match(r.stdout, /step 5 +100% +v1 0 \/ v2 100/);
    assert.doesNotMatch(r.stdout, /120%/);
    assert.match(r.stdout, /promote +at least 2m30s \(30s × 5 steps\)/);
    assert.match(r.stdout, /roll back +1m after a failure starts \(30s × 2 failed checks\)/);
    const json = await mesh.h.run(['route', 'shift', 'reviews', '--to', 'v2', '--steps', '10,100', '--dry-run', '-o', 'json']);
    assert.equal(json.code, 0);
    const lines = json.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const planned = JSON.parse(lines[0]) as Of<'planned'>;
    assertContract('event', planned);
    assert.deepEqual([planned.type, planned.dryRun, planned.minPromoteMs, planned.rollbackMs], ['planned', true, 60_000, 30_000]);
    const yaml = await mesh.h.run(['route', 'shift', 'reviews', '--to', 'v2', '--steps', '10,100', '--dry-run', '-o', 'yaml']);
    assert.equal(yaml.code, 0, yaml.stderr);
    const documents = loadAll(yaml.stdout) as Of<'planned'>[];
    assert.equal(documents.length, 1, yaml.stdout);
    assertContract('event', documents[0]);
    // Two runs: the same plan, at another time and under another shift id.
    const { time: _t1, shift: _s1, ...plannedYaml } = documents[0]!;
    const { time: _t2, shift: _s2, ...plannedJson } = planned;
    assert.deepEqual(plannedYaml, plannedJson, 'the YAML document is not the JSON event');
    assert.equal(existsSync(shiftFile()), false, 'a dry run recorded a shift');
    assert.deepEqual(await mesh.served(), before);
  });

  it('unknown host, unknown subset, a route without subsets, --manual without a terminal: one sentence, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['reviewz', '--to', 'v2'], /^Error: No Service, ServiceEntry or VirtualService of the mesh is host reviewz \(reviewz\.default\.svc\.cluster\.local\); .*\.$/],
      [['reviews', '--to', 'v9'], /^Error: DestinationRule default\/reviews defines no subset v9 of reviews \(it defines v1, v2, v3, v4\); pass one of them to --to\.$/],
      [['details', '--to', 'v1'], /^Error: VirtualService default\/details has no http route whose destinations are subsets of details; add one .* and apply it before shifting\.$/],
      [['reviews', '--to', 'v2', '--manual'], /^Error: --manual asks before every step, and there is no terminal to ask on; drop --manual .*\.$/],
      [['reviews', '--to', 'v2', '--steps', '50,20'], /^Error: --steps must rise at every step, but 20 follows 50; .*\.$/],
      [['reviews', '--resume'], /^Error: No shift of reviews is in progress( \(.*\))?, so there is nothing to resume; .*\.$/],
    ];
    for (const [args, message] of cases) {
      const r = await mesh.h.run(['route', 'shift', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr.trim(), message, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(!hasStackTrace(r.stderr));
    }
  });
});
