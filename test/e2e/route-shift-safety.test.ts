// What keeps a shift safe on a live mesh: kill -9 of meshctl (route status shows what every sidecar
// serves, --resume completes), a crash between two sidecars' writes, Ctrl-C without a terminal, a second
// shift of the same host, promote and abort from another process, and proxies that disagree with the
// applied VirtualService. Load: 100 rps from the caller's sidecar where an analysis must pass (a healthy
// v2 has a p99 of a few ms against the 500 ms default gate, 150 requests per 1.5 s window against 10–20).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { startShiftMesh, type ShiftMesh } from '../support/shift-mesh.js';
import { failures, startLoad, type Load } from '../support/load.js';
import { BIN, ROOT } from '../support/shared.js';
import { proxyPaths } from '../../src/lib/runtime/haproxy/types.js';
import { readRouteWeights } from '../../src/lib/runtime/haproxy/weights.js';
import { RuntimeApi } from '../../src/lib/runtime/haproxy/runtime-api.js';
import type { ShiftEvent } from '../../src/lib/shift/events.js';
import type { ShiftRecord } from '../../src/lib/shift/record.js';
import type { RouteStatus } from '../../src/lib/shift/status.js';
import { assertContract } from '../support/shift-schemas.js';
import { loadAll } from 'js-yaml';
import { eventually } from './support.js';

type Of<T extends ShiftEvent['type']> = Extract<ShiftEvent, { type: T }>;

describe('route shift safety on a live mesh', { timeout: 300_000 }, () => {
  let mesh: ShiftMesh;
  let load: Load | null = null;

  before(async () => {
    mesh = await startShiftMesh('shift-safety', { callerReplicas: 2 });
  });
  after(async () => {
    await load?.stop();
    await mesh?.stop();
  });

  const shiftFile = () => path.join(mesh.h.home, 'state', 'shifts', 'reviews.default.svc.cluster.local.json');
  async function steadyLoad(): Promise<Load> {
    load = startLoad({ port: await mesh.callerPort(), host: 'reviews', rps: 100, maxMs: 60_000 });
    return load;
  }
  async function stopLoad() {
    const samples = await load!.stop();
    load = null;
    return samples;
  }
  async function status(): Promise<{ code: number; status: RouteStatus }> {
    const r = await mesh.h.run(['route', 'status', 'reviews', '-o', 'json']);
    const parsed = JSON.parse(r.stdout) as RouteStatus;
    assertContract('status', parsed);
    return { code: r.code, status: parsed };
  }
  /** Sets caller-`n`'s sidecar to other weights behind everyone's back, as a crash half-way through a change leaves it. */
  async function setSidecar(pod: string, weights: { v1: number; v2: number }) {
    const placement = JSON.parse(await fs.readFile(path.join(mesh.h.home, 'state', 'pods.json'), 'utf8')) as { pods: { name: string; namespace: string; ports: { admin: number } }[] };
    const p = placement.pods.find((x) => x.name === pod)!;
    const target = { name: p.name, namespace: p.namespace, ports: p.ports, paths: proxyPaths(path.join(mesh.h.home, 'pods', p.name)) };
    const split = (await readRouteWeights(target)).routes.find((r) => r.virtualService?.name === 'reviews')!;
    await new RuntimeApi(target.paths.runtimeSocket).setRouteWeights([{ id: split.routeId, weights: split.destinations.map((d) => weights[d.subset as 'v1' | 'v2']) }]);
  }

  /** No shift of reviews in progress, and its route back at v1 100 / v2 0. */
  async function fresh() {
    const leftover = await mesh.h.run(['route', 'abort', 'reviews']);
    assert.ok(leftover.code === 0 || leftover.code === 2, leftover.stderr);
    await mesh.reset({ v1: 100, v2: 0 });
  }

  it('after kill -9 during a step, route status shows the weights every sidecar serves and --resume completes the shift', async () => {
    await fresh();
    await steadyLoad();
    const shift = mesh.startShift(['reviews', '--to', 'v2', '--steps', '25,50,75,100', '--interval', '1500ms', '--min-requests', '10']);
    await shift.waitFor((e) => e.type === 'step' && e.step === 2);
    shift.child.kill('SIGKILL');
    const killed = await shift.exited;
    assert.equal(killed.signal, 'SIGKILL');

    const { code, status: s } = await status();
    assert.equal(code, 4, 'an interrupted shift waits for a person');
    assert.equal(s.shift.state, 'interrupted');
    assert.equal(s.served.consistent, true, s.served.summary);
    assert.equal(s.served.step, 2);
    assert.deepEqual(s.served.weights, { v1: 50, v2: 50 });
    assert.equal(s.served.proxies.length, 5);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 50, v2: 50 }, pod);
    const text = await mesh.h.run(['route', 'status', 'reviews']);
    assert.match(text.stdout, /State +interrupted \(its meshctl process is gone\); step 2 of 4 \(50%\)/);
    assert.match(text.stdout, /Served +All 5 proxies serve v1 50 \/ v2 50: step 2 \(50%\)\./);

    const second = await mesh.h.run(['route', 'shift', 'reviews', '--to', 'v2']);
    assert.equal(second.code, 2);
    assert.match(second.stderr, /^Error: A shift of reviews\.default\.svc\.cluster\.local from v1 to v2 is in progress \(step 2 of 4, its meshctl process is gone\); continue it with meshctl route shift reviews --resume --home \S+, or roll it back with meshctl route abort reviews --home \S+\.\n$/);

    const resumed = await mesh.h.run(['route', 'shift', 'reviews', '--resume', '-o', 'json']);
    const samples = await stopLoad();
    assert.equal(resumed.code, 0, resumed.stderr);
    const events = resumed.stdout.trim().split('\n').map((l) => JSON.parse(l) as ShiftEvent);
    events.forEach((e) => assertContract('event', e));
    assert.deepEqual(events.map((e) => `${e.type}:${e.step}`), ['planned:2', 'step:2', 'analysis:2', 'step:3', 'analysis:3', 'step:4', 'analysis:4', 'promoted:4']);
    assert.equal((events[0] as Of<'planned'>).resumed, true);
    assert.equal((events[1] as Of<'step'>).by, 'resume');
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 0, v2: 100 }, pod);
    assert.deepEqual(failures(samples), []);
    const end = await status();
    assert.deepEqual([end.code, end.status.shift.state], [0, 'promoted']);
    assert.deepEqual(end.status.history.map((h) => `${h.event}:${h.cursor + 1}${h.by ? ` by ${h.by}` : ''}`), ['planned:0', 'step:1', 'step:2', 'step:2 by resume', 'step:3', 'step:4', 'promoted:4']);
  });

  it('a crash between two sidecars: status shows both steps, --resume finishes the change first', async () => {
    await fresh();
    const shift = mesh.startShift(['reviews', '--to', 'v2', '--steps', '50,100', '--interval', '60s']);
    await shift.waitFor((e) => e.type === 'step' && e.step === 1);
    shift.child.kill('SIGKILL');
    await shift.exited;
    // As if meshctl had died after recording the change to step 2 and writing one sidecar of five.
    const record = JSON.parse(await fs.readFile(shiftFile(), 'utf8')) as ShiftRecord;
    record.pending = { event: 'step', cursor: 1, weights: { v1: 0, v2: 100 }, decidedAt: new Date().toISOString() };
    record.plan.intervalMs = 1500;
    await fs.writeFile(shiftFile(), JSON.stringify(record));
    await setSidecar('caller-1', { v1: 0, v2: 100 });

    const { status: s } = await status();
    assert.equal(s.served.consistent, false);
    assert.equal(s.served.planWeights, true, 'every sidecar serves weights of the plan');
    assert.match(s.served.summary, /^The proxies disagree \(4 at step 1 \(50%\), 1 at step 2 \(100%\)\): a change of weights was interrupted; --resume finishes it\.$/);
    assert.deepEqual(s.served.proxies.find((p) => p.proxy === 'caller-1')!.weights, { v1: 0, v2: 100 });

    await steadyLoad();
    const resumed = await mesh.h.run(['route', 'shift', 'reviews', '--resume', '-o', 'json']);
    await stopLoad();
    assert.equal(resumed.code, 0, resumed.stderr);
    const events = resumed.stdout.trim().split('\n').map((l) => JSON.parse(l) as ShiftEvent);
    assert.deepEqual(events.map((e) => `${e.type}:${e.step}`), ['planned:1', 'step:2', 'analysis:2', 'promoted:2']);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 0, v2: 100 }, pod);
  });

  it('Ctrl-C without a terminal holds the shift, prints how to resume and exits 130', async () => {
    await fresh();
    const shift = mesh.startShift(['reviews', '--to', 'v2', '--steps', '20,100', '--interval', '60s']);
    await shift.waitFor((e) => e.type === 'step' && e.step === 1);
    shift.child.kill('SIGINT');
    const done = await shift.exited;
    assert.equal(done.code, 130, done.stderr);
    assert.match(done.stderr, /Held at step 1\/2: interrupted at step 1 of 2\. Resume with: meshctl route shift reviews --resume --home \S+\n/);
    assert.equal(shift.events[shift.events.length - 1].type, 'hold');
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 80, v2: 20 }, pod);
    const { code, status: s } = await status();
    assert.deepEqual([code, s.shift.state], [4, 'held']);
    const abort = await mesh.h.run(['route', 'abort', 'reviews', '-o', 'json']);
    assert.equal(abort.code, 0, abort.stderr);
    assertContract('control', JSON.parse(abort.stdout));
    assert.deepEqual(JSON.parse(abort.stdout), { action: 'abort', actedBy: 'this-process', host: 'reviews.default.svc.cluster.local', state: 'aborted', step: 1, steps: 2, stepLabel: '20%', weights: { v1: 100, v2: 0 }, reason: `aborted by meshctl route abort (pid ${JSON.parse(abort.stdout).reason.match(/pid (\d+)/)[1]})` });
  });

  it('refuses a second shift of the same host; promote and abort reach the running one; status --watch exits when it ends', async () => {
    await fresh();
    const shift = mesh.startShift(['reviews', '--to', 'v2', '--steps', '10,50,100', '--interval', '60s']);
    await shift.waitFor((e) => e.type === 'step' && e.step === 1);

    const second = await mesh.h.run(['route', 'shift', 'reviews', '--to', 'v3']);
    assert.equal(second.code, 2);
    assert.match(second.stderr, new RegExp(`^Error: A shift of reviews\\.default\\.svc\\.cluster\\.local from v1 to v2 is in progress \\(step 1 of 3, run by meshctl pid ${shift.child.pid}\\); follow it with meshctl route status reviews --watch --home \\S+, or stop it with meshctl route abort reviews --home \\S+\\.\\n$`));
    const again = await mesh.h.run(['route', 'shift', 'reviews', '--resume']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /is running in meshctl pid \d+; follow it with/);

    // A watch ended by Ctrl-C while the shift runs: exit 130, after YAML documents that hold to the contract.
    const interrupted = spawn(process.execPath, [BIN, 'route', 'status', 'reviews', '--watch', '-o', 'yaml', '--home', mesh.h.home], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let yaml = '';
    interrupted.stdout.setEncoding('utf8').on('data', (d: string) => { yaml += d; });
    const interruptedExit = new Promise<number | null>((resolve) => interrupted.on('close', (c) => resolve(c)));
    try {
      await eventually('a first route status document', () => /\nserved:/.test(yaml), 30_000);
    } finally {
      interrupted.kill('SIGINT');
    }
    const killer = setTimeout(() => interrupted.kill('SIGKILL'), 10_000);
    assert.equal(await interruptedExit, 130, 'route status --watch did not end on Ctrl-C with 130');
    clearTimeout(killer);
    const yamlDocs = loadAll(yaml) as RouteStatus[];
    assert.ok(yamlDocs.length >= 1);
    yamlDocs.forEach((d) => assertContract('status', d));
    assert.equal(yamlDocs[0]!.shift.state, 'running');

    const watch = spawn(process.execPath, [BIN, 'route', 'status', 'reviews', '--watch', '-o', 'json', '--home', mesh.h.home], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let watched = '';
    watch.stdout.setEncoding('utf8').on('data', (d: string) => { watched += d; });
    const watchExit = new Promise<number | null>((resolve) => watch.on('close', (c) => resolve(c)));
    try {
      const promote = await mesh.h.run(['route', 'promote', 'reviews']);
      assert.equal(promote.code, 0, promote.stderr);
      assert.match(promote.stdout, /^The shift of reviews\.default\.svc\.cluster\.local is at step 2 of 3 \(50%\): every proxy serves v1 50 \/ v2 50; the running shift analyses it next\.$/m);
      const moved = await shift.waitFor((e) => e.type === 'step' && e.step === 2) as Of<'step'>;
      assert.match(moved.by ?? '', /^meshctl route promote \(pid \d+\)$/);
      for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 50, v2: 50 }, pod);

      const abort = await mesh.h.run(['route', 'abort', 'reviews']);
      assert.equal(abort.code, 0, abort.stderr);
      const done = await shift.exited;
      assert.equal(done.code, 1, done.stderr);
      const aborted = shift.events[shift.events.length - 1] as Of<'aborted'>;
      assert.equal(aborted.type, 'aborted');
      assert.match(aborted.reason, /^aborted by meshctl route abort \(pid \d+\)$/);
      for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 100, v2: 0 }, pod);
      assert.equal(await watchExit, 1, 'status --watch exits 1 once the shift is aborted');
      const docs = watched.trim().split('\n').map((l) => JSON.parse(l) as RouteStatus);
      docs.forEach((d) => assertContract('status', d));
      shift.events.forEach((e) => assertContract('event', e));
      assert.equal(docs[docs.length - 1].shift.state, 'aborted');
    } finally {
      if (watch.exitCode === null && watch.pid) process.kill(watch.pid, 'SIGKILL');
    }
  });

  /**
   * Runs meshctl on a pseudo-terminal (util-linux script), answering each prompt as it appears:
   * `answers` pairs text to wait for with the keys to type then.
   */
  function onTerminal(argv: string[], answers: [string, string][]): Promise<{ code: number | null; output: string }> {
    const line = [process.execPath, BIN, ...argv, '--home', mesh.h.home].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qfec', line, '/dev/null'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let next = 0;
    // Each prompt is looked for after the previous one was seen (a prompt redraws its choices).
    let from = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      let at: number;
      while (next < answers.length && (at = output.indexOf(answers[next][0], from)) >= 0) {
        from = at + answers[next][0].length;
        const keys = answers[next][1];
        next += 1;
        setTimeout(() => child.stdin.write(keys), 200);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    return new Promise((resolve) => child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }));
  }
  it('on a terminal: --manual asks before every step; Ctrl-C asks whether to hold or roll back', async () => {
    // util-linux's script gives the command a terminal (Debian's bsdutils, an essential package).
    assert.equal(spawnSync('script', ['--version']).status, 0, 'this test needs util-linux script to give meshctl a terminal');
    await fresh();
    const manual = await onTerminal(['route', 'shift', 'reviews', '--to', 'v2', '--steps', '50,100', '--interval', '1s', '--min-requests', '1', '--on-no-traffic', 'continue', '--manual'], [
      ['Next: step 1 of 2', '\r'],
      ['Next: step 2 of 2', '\r'],
    ]);
    assert.equal(manual.code, 0, manual.output);
    assert.match(manual.output, /continue to the next step/);
    assert.match(manual.output, /Promoted: v1 0 \/ v2 100/);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 0, v2: 100 }, pod);

    await fresh();
    const interrupted = await onTerminal(['route', 'shift', 'reviews', '--to', 'v2', '--steps', '30,100', '--interval', '60s'], [
      ['Start?', '\r'],
      ['Step 1/2', '\x03'],
      ['roll back now', '\x1b[B'],
      ['❯ roll back now', '\r'],
    ]);
    assert.equal(interrupted.code, 130, interrupted.output);
    assert.match(interrupted.output, /Interrupted\. Hold the shift here, or roll back to the stable subset now\?/);
    assert.match(interrupted.output, /Rolled back: interrupted at step 1 of 2, and rolling back was chosen\./);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 100, v2: 0 }, pod);
  });

  it('refuses to start while a sidecar serves other weights than the applied VirtualService', async () => {
    await fresh();
    await setSidecar('caller-0', { v1: 70, v2: 30 });
    try {
      const r = await mesh.h.run(['route', 'shift', 'reviews', '--to', 'v2']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /^Error: The proxy of caller-0 serves v1 70 \/ v2 30 but VirtualService default\/reviews says v1 100 \/ v2 0; apply the VirtualService again .*\.\n$/);
    } finally {
      await setSidecar('caller-0', { v1: 100, v2: 0 });
    }
  });
});
