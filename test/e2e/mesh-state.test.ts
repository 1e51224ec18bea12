// What a new user breaks on a live mesh, and what holds now: an apply that would change a route under a
// shift (refused; --force holds the shift; --resume refuses; abort ends it), abort putting back the
// weights the shift started from, pods replaced one at a time when a Workload's directory changes (a
// replacement that never listens stops the rollout, the old pods serve on), diff --live right after an
// apply, RESTARTS kept across an agent kill, route status --watch started before the shift, and Ctrl-C
// during apply. One small mesh (caller, reviews v1 and v2, and a two-replica Workload "web"); load is
// 40 rps from the caller's sidecar for at most 30 s.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startShiftMesh, SHIFT_APP, type ShiftMesh } from '../support/shift-mesh.js';
import { shiftPolicy } from '../support/shift-policy.js';
import { serviceYaml, workloadYaml } from '../support/policy-yaml.js';
import { failures, startLoad } from '../support/load.js';
import { hasStackTrace } from '../support/cli.js';
import { BIN, ROOT } from '../support/shared.js';
import { agentPid, eventually, makeHome, podPid } from './support.js';
import type { RouteStatus } from '../../src/lib/shift/status.js';
import type { MeshStatus } from '../../src/lib/mesh/agent/protocol.js';

describe('mesh state a new user can break, on a live mesh', { timeout: 600_000 }, () => {
  let mesh: ShiftMesh;
  before(async () => {
    mesh = await startShiftMesh('mesh-state', { versions: { v1: {}, v2: {} } });
  });
  after(async () => {
    await mesh?.stop();
  });

  const web = workloadYaml({ name: 'web', labels: 'app: web, version: v1', serviceAccount: 'web', command: ['node', 'app.js'], replicas: 2, env: { VERSION: 'web' } }) + serviceYaml('web');
  async function status(): Promise<MeshStatus> {
    return JSON.parse((await mesh.h.run(['status', '-o', 'json'])).stdout) as MeshStatus;
  }

  it('route status --watch waits for a shift that has not started, bounded by --timeout', async () => {
    const none = await mesh.h.run(['route', 'status', 'reviews', '--watch', '--timeout', '1s']);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /^Error: No shift of reviews \(reviews\.default\.svc\.cluster\.local\) started within 1s; start one with meshctl route shift reviews --to SUBSET, or wait longer with --timeout\.\n$/);

    const watch = spawn(process.execPath, [BIN, 'route', 'status', 'reviews', '--watch', '--timeout', '60s', '-o', 'json', '--home', mesh.h.home], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let watched = '';
    watch.stdout.setEncoding('utf8').on('data', (d: string) => { watched += d; });
    const exited = new Promise<number | null>((resolve) => watch.on('close', (c) => resolve(c)));
    try {
      const shift = mesh.startShift(['reviews', '--to', 'v2', '--steps', '100', '--interval', '1s', '--min-requests', '1', '--on-no-traffic', 'continue']);
      const done = await shift.exited;
      assert.equal(done.code, 0, done.stderr);
      assert.equal(await exited, 0, 'the watch ends with the promoted shift');
      const docs = watched.trim().split('\n').map((l) => JSON.parse(l) as RouteStatus);
      assert.equal(docs[docs.length - 1].shift.state, 'promoted');
    } finally {
      if (watch.exitCode === null && watch.pid) process.kill(watch.pid, 'SIGKILL');
    }
  });

  it('abort puts back the weights the shift started from (80/20 stays 80/20); the plan says so and warns of a lower first step', async () => {
    await mesh.reset({ v1: 80, v2: 20 });
    const plan = await mesh.h.run(['route', 'shift', 'reviews', '--to', 'v2', '--steps', '5,50,100', '--dry-run']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /\n  roll back    30s after a failure starts \(30s × 1 failed check\), to v1 100 \/ v2 0\n/);
    assert.match(plan.stdout, /\n  abort        meshctl route abort puts back v1 80 \/ v2 20, the weights before the shift\n/);
    assert.match(plan.stdout, /\n  warning      Step 1 lowers v2 from the 20% it holds now to 5%; start --steps at 20 or more to keep its share\.\n/);

    const shift = mesh.startShift(['reviews', '--to', 'v2', '--steps', '50,100', '--interval', '60s']);
    await shift.waitFor((e) => e.type === 'step' && e.step === 1);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 50, v2: 50 }, pod);
    const abort = await mesh.h.run(['route', 'abort', 'reviews']);
    assert.equal(abort.code, 0, abort.stderr);
    assert.equal(abort.stdout, 'Aborted the shift of reviews.default.svc.cluster.local: every proxy serves v1 80 / v2 20.\n');
    assert.equal((await shift.exited).code, 1);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 80, v2: 20 }, pod);
  });

  it('apply refuses to change a route under a held shift; --force holds it with the reason, --resume refuses, abort restores the route', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    // A header-canary shift moved on to 50% and held there, as in the report that led here.
    const shift = mesh.startShift(['reviews', '--to', 'v2', '--header', 'x-canary=yes', '--steps', '50,100', '--interval', '60s']);
    await shift.waitFor((e) => e.type === 'step' && e.step === 1);
    assert.equal((await mesh.h.run(['route', 'promote', 'reviews'])).code, 0);
    await shift.waitFor((e) => e.type === 'step' && e.step === 2);
    shift.child.kill('SIGINT');
    assert.equal((await shift.exited).code, 130);

    // The same policy with reviews' route sending everything to v1, as a user's older file would.
    const dropsV2 = path.join(mesh.h.dir, 'drops-v2.yaml');
    await fs.writeFile(dropsV2, shiftPolicy({ command: ['node', SHIFT_APP], versions: { v1: {}, v2: {} }, route: { v1: 100 } }));
    const refused = await mesh.h.run(['apply', '-f', dropsV2]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /^Error: Nothing was applied: a shift of reviews\.default\.svc\.cluster\.local from v1 to v2 is in progress \(step 2 of 3, held: interrupted at step 2 of 3\), and it sets VirtualService default\/reviews http\[0\] \(split\) to v1 100 where the shift has v1 50 \/ v2 50\. Finish the shift with meshctl route promote reviews --home \S+ --full, or end it with meshctl route abort reviews --home \S+ \(back to v1 100 \/ v2 0, the weights before the shift\), then apply again; or apply with --force, which holds the shift\.\n$/);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 50, v2: 50 }, pod);

    const forced = await mesh.h.run(['apply', '-f', dropsV2, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /^Warning: The shift of reviews\.default\.svc\.cluster\.local is held: meshctl apply --force changed its route at revision \d+: sets VirtualService default\/reviews http\[0\] \(split\) to v1 100 where the shift has v1 50 \/ v2 50; meshctl route abort reviews ends it and puts back the weights it started from\.$/m);
    const held = JSON.parse((await mesh.h.run(['route', 'status', 'reviews', '-o', 'json'])).stdout) as RouteStatus;
    assert.equal(held.shift.state, 'held');
    assert.match(held.shift.reason ?? '', /^meshctl apply --force changed its route at revision \d+/);

    const resume = await mesh.h.run(['route', 'shift', 'reviews', '--resume']);
    assert.equal(resume.code, 2, resume.stderr);
    assert.match(resume.stderr, /^Error: The route of the shift of reviews\.default\.svc\.cluster\.local changed since it was held: VirtualService default\/reviews http\[0\] \(split\) holds v1 100 where the shift set v1 50 \/ v2 50, and resuming would overwrite it\. End the shift with meshctl route abort reviews --home \S+ \(back to v1 100 \/ v2 0, the weights before the shift\), or apply the route with the shift's weights \(v1 50 \/ v2 50, with --force\) and resume\.\n$/);

    const abort = await mesh.h.run(['route', 'abort', 'reviews']);
    assert.equal(abort.code, 0, abort.stderr);
    assert.ok(!hasStackTrace(abort.stderr));
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 100, v2: 0 }, pod);
    const next = await mesh.h.run(['route', 'shift', 'reviews', '--to', 'v2', '--dry-run']);
    assert.equal(next.code, 0, 'a new shift is planned without editing the route by hand');
  });

  it('apply --force under a running shift: the shift stops, held with the reason (exit 4), and abort ends it', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    const shift = mesh.startShift(['reviews', '--to', 'v2', '--steps', '50,100', '--interval', '5m', '--min-requests', '1', '--on-no-traffic', 'continue']);
    await shift.waitFor((e) => e.type === 'step' && e.step === 1);
    // The window lasts far longer than the test: the shift must notice the hold while it waits.
    const forced = await mesh.h.run(['apply', '-f', path.join(mesh.h.dir, 'drops-v2.yaml'), '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const done = await shift.exited;
    assert.equal(done.code, 4, done.stderr);
    assert.match(done.stderr, /Error: The shift of reviews\.default\.svc\.cluster\.local is held: meshctl apply --force changed its route at revision \d+: sets VirtualService default\/reviews http\[0\] \(split\) to v1 100 where the shift has v1 50 \/ v2 50\. Continue it with meshctl route shift reviews --resume --home \S+ once its route agrees with it, or end it with meshctl route abort reviews --home \S+\.\n$/);
    assert.equal(shift.events[shift.events.length - 1].type, 'hold');
    const abort = await mesh.h.run(['route', 'abort', 'reviews']);
    assert.equal(abort.code, 0, abort.stderr);
    for (const [pod, w] of await mesh.served()) assert.deepEqual(w, { v1: 100, v2: 0 }, pod);
  });

  it('diff --live right after apply finds no change; the same Workloads applied from another folder restart pods one at a time', async () => {
    const here = path.join(mesh.h.dir, 'web-a');
    const there = path.join(mesh.h.dir, 'web-b');
    await fs.mkdir(here);
    await fs.mkdir(there);
    await fs.copyFile(SHIFT_APP, path.join(here, 'app.js'));
    await fs.writeFile(path.join(here, 'web.yaml'), web);
    await fs.writeFile(path.join(there, 'web.yaml'), web);
    const applied = await mesh.h.run(['apply', '-f', path.join(here, 'web.yaml')]);
    assert.equal(applied.code, 0, applied.stderr);

    const same = await mesh.h.run(['diff', '--live', path.join(here, 'web.yaml')]);
    assert.equal(same.code, 0, same.stdout);
    assert.match(same.stdout, /\nNo changes: 12 resources compared, all the same in meaning\.\n$/);

    const moved = await mesh.h.run(['diff', '--live', path.join(there, 'web.yaml'), '-o', 'json']);
    assert.equal(moved.code, 1, moved.stderr);
    const report = JSON.parse(moved.stdout) as { changes: { resource: { kind: string; name: string }; risk: string; reasons: string[] }[] };
    assert.deepEqual(report.changes.map((c) => [c.resource.kind, c.resource.name, c.risk]), [['Workload', 'web', 'medium']]);
    assert.match(report.changes[0].reasons[0], /^Restarts the 2 pods of Workload default\/web one at a time, each replacement ready before the old pod stops \(its working directory moves from \S+web-a to \S+web-b/);

    const port = await mesh.callerPort();
    const pids = () => ['web-0', 'web-1'].map((p) => podPid(mesh.h.home, p, 'app'));
    const before = pids();
    const load = startLoad({ port, host: 'web', rps: 40, maxMs: 30_000 });
    try {
      // web-b has no app.js: the first replacement never listens, so the rollout stops there.
      const broken = await mesh.h.run(['apply', '-f', path.join(there, 'web.yaml'), '--timeout', '10s']);
      assert.equal(broken.code, 3, broken.stderr);
      assert.match(broken.stderr, /^Error: Revision \d+ is stored, but the rollout of Workload default\/web stopped at pod web-0: its replacement (keeps crashing|did not listen within 10s) \(its last log line: "Error: Cannot find module '\S+web-b\/app\.js'"\); the old apps of 2 pods keep serving\. Fix the Workload/m);
      assert.deepEqual(pids(), before, 'no pod was restarted');
      // An agent started afresh meanwhile takes the old apps over as they run, replacing none at once.
      process.kill(agentPid(mesh.h.home)!, 'SIGKILL');
      const s = await status();
      assert.deepEqual(pids(), before, 'a new agent replaced no pod');
      for (const pod of ['web-0', 'web-1']) assert.equal(s.pods.find((p) => p.name === pod)?.ready, true, pod);

      await fs.copyFile(SHIFT_APP, path.join(there, 'app.js'));
      const fixed = await mesh.h.run(['apply', '-f', path.join(there, 'web.yaml')]);
      assert.equal(fixed.code, 0, fixed.stderr);
      assert.match(fixed.stdout, /pod\/web-0 restarted\npod\/web-1 restarted\n/);
      const after = pids();
      assert.ok(after.every((p, i) => p !== null && p !== before[i]), 'both pods run a new app');
    } finally {
      const samples = await load.stop();
      assert.ok(samples.length >= 40, `only ${samples.length} requests were sent`);
      assert.deepEqual(failures(samples), [], 'requests failed while pods were replaced');
    }
  });

  it("killing the agent keeps every pod's RESTARTS", async () => {
    const app = podPid(mesh.h.home, 'web-1', 'app')!;
    process.kill(app, 'SIGKILL');
    await eventually('web-1 restarted and ready', async () => {
      const p = (await status()).pods.find((x) => x.name === 'web-1');
      return Boolean(p && p.restarts >= 1 && p.ready);
    }, 30_000);
    const counted = (await status()).pods.find((x) => x.name === 'web-1')!.restarts;
    process.kill(agentPid(mesh.h.home)!, 'SIGKILL');
    const again = await status();
    assert.equal(again.pods.find((x) => x.name === 'web-1')?.restarts, counted);
  });

  it('Ctrl-C during apply exits 130 and says what was left', async () => {
    const slow = path.join(mesh.h.dir, 'slow.yaml');
    // An app that takes a while to listen, so that the apply is still waiting when interrupted.
    await fs.writeFile(slow, workloadYaml({ name: 'slow', labels: 'app: slow', serviceAccount: 'slow', command: ['node', '-e', "setTimeout(() => require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1'), 20000)"] }));
    const revision = (await status()).revision;
    const child = spawn(process.execPath, [BIN, 'apply', '-f', slow, '--timeout', '5s', '--home', mesh.h.home], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const exited = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    try {
      await eventually('the new revision stored', async () => (await status()).revision > revision, 30_000);
      child.kill('SIGINT');
      assert.equal(await exited, 130, stderr);
      assert.match(stderr, new RegExp(`^Interrupted: revision ${revision + 1} is stored, still starting: slow-0; the agent goes on without this command, check with meshctl status --home \\S+\\.\\n$`));
    } finally {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    }
    assert.equal((await mesh.h.run(['delete', '-f', slow])).code, 0);
  });

  it('Ctrl-C during install exits 130, undoes it and says so', async () => {
    const h = await makeHome('install-int');
    try {
      const child = spawn(process.execPath, [BIN, 'install', '--home', h.home], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let sent = false;
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        // Once the home is in place, the install goes on to start the agent: interrupt it there.
        if (!sent && stderr.includes('✓')) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      clearTimeout(timer);
      assert.equal(code, 130, stderr);
      assert.match(stderr, /\nInterrupted: the install was undone and nothing is left at \S+; run meshctl install again to install the mesh\.\n$/);
      await assert.rejects(fs.stat(h.home), 'the home is gone');
    } finally {
      await h.cleanup();
    }
  });
});
