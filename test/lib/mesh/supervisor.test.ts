import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Supervisor, type ProcessSpec } from '../../../src/lib/mesh/supervisor.js';
import { isRunning, waitFor } from '../../../src/lib/system/processes.js';

function spec(dir: string, name: string, script: string): ProcessSpec {
  return {
    name,
    command: process.execPath,
    args: ['-e', script],
    env: { PATH: process.env.PATH ?? '' },
    cwd: dir,
    stdoutFile: path.join(dir, `${name}.log`),
    stderrFile: path.join(dir, `${name}.log`),
    pidFile: path.join(dir, `${name}.pid`),
    stopGraceMs: 1000,
  };
}

const pidOf = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid;
/** True when `name` runs under a pid other than `old` (a restart), judged on one status snapshot. */
function runningAnew(supervisor: Supervisor, name: string, old: number): boolean {
  const status = supervisor.status(name);
  return status?.phase === 'Running' && status.pid !== null && status.pid !== old;
}
const SLEEPER = "console.log('up'); setInterval(() => {}, 1000)";

test('a killed process is restarted with backoff, its output appended to its log', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-sup-'));
  const supervisor = new Supervisor({ backoff: { initialMs: 50, maxMs: 400, resetAfterMs: 10_000 } });
  try {
    const s = spec(dir, 'app', SLEEPER);
    const { outcome } = await supervisor.ensure(s);
    assert.equal(outcome, 'started');
    const first = pidOf(s.pidFile);
    const logged = (n: number) => { try { return readFileSync(s.stdoutFile, 'utf8').split('up').length - 1 >= n; } catch { return false; } };
    assert.ok(await waitFor(() => logged(1), 5000), 'first run did not log');
    process.kill(first, 'SIGKILL');
    // One snapshot per check: two status() calls could straddle the moment the old process dies.
    assert.ok(await waitFor(() => runningAnew(supervisor, 'app', first), 10_000), 'not restarted');
    assert.equal(supervisor.status('app')?.restarts, 1);
    assert.ok(await waitFor(() => logged(2), 5000), 'the second run did not append to the log');
  } finally {
    await supervisor.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a running app\'s log past the rotation size is copied to <log>.1 and begins again, the app running on', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-sup-'));
  const supervisor = new Supervisor({ backoff: { initialMs: 50, maxMs: 400, resetAfterMs: 10_000 }, rotateOutputBytes: 4096 });
  try {
    // About 100 bytes every 20 ms: past 4 KiB within a second, numbered so that the order can be checked.
    const s = spec(dir, 'chatty', "let n = 0; setInterval(() => console.log(String(n++).padStart(6, '0') + ' ' + 'x'.repeat(92)), 20)");
    await supervisor.ensure(s);
    const pid = pidOf(s.pidFile);
    const aside = `${s.stdoutFile}.1`;
    assert.ok(await waitFor(() => { try { return readFileSync(aside, 'utf8').length > 4096; } catch { return false; } }, 10_000), 'the log was not set aside');
    assert.ok(await waitFor(() => readFileSync(s.stdoutFile, 'utf8').split('\n').length > 3, 5000), 'the app did not write on into the emptied log');
    assert.equal(supervisor.pid('chatty'), pid, 'the app runs on, not restarted');
    const numbers = (text: string) => text.split('\n').filter((l) => l !== '').map((l) => Number(l.slice(0, 6)));
    const before = numbers(readFileSync(aside, 'utf8'));
    const after = numbers(readFileSync(s.stdoutFile, 'utf8'));
    assert.deepEqual(before, before.map((_, i) => before[0]! + i), 'the set-aside copy holds whole lines in order');
    assert.ok(after.length > 0 && after[0]! > before[before.length - 1]!, 'the emptied log goes on after the copy');
    assert.ok(!readFileSync(s.stdoutFile, 'utf8').includes('\0'), 'the emptied log has no hole: the app appends at its new end');
  } finally {
    await supervisor.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a process that keeps failing backs off exponentially instead of spinning', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-sup-'));
  const events: { how: string; restartInMs: number | null }[] = [];
  const supervisor = new Supervisor({
    backoff: { initialMs: 20, maxMs: 160, resetAfterMs: 10_000 },
    onEvent: (e) => { if (e.type === 'exited') events.push({ how: e.how, restartInMs: e.restartInMs }); },
  });
  try {
    await supervisor.ensure(spec(dir, 'crash', 'process.exit(3)'));
    assert.ok(await waitFor(() => events.length >= 5, 15_000), `only ${events.length} exits`);
    assert.deepEqual(events.slice(0, 5).map((e) => e.restartInMs), [20, 40, 80, 160, 160]);
    assert.equal(events[0].how, 'exit 3');
  } finally {
    await supervisor.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new supervisor adopts a process that still runs the same spec, and replaces one whose spec changed', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-sup-'));
  const first = new Supervisor();
  const second = new Supervisor();
  try {
    const s = spec(dir, 'app', SLEEPER);
    await first.ensure(s);
    const pid = pidOf(s.pidFile);
    first.detachAll();
    const adopted = await second.ensure(s);
    assert.equal(adopted.outcome, 'adopted');
    assert.equal(adopted.status.pid, pid);
    // An adopted process is not our child: its death is noticed by polling, and it is restarted.
    process.kill(pid, 'SIGKILL');
    assert.ok(await waitFor(() => runningAnew(second, 'app', pid), 10_000), 'adopted process not restarted');

    const changed = await second.ensure({ ...s, env: { ...s.env, VERSION: 'v2' } });
    assert.equal(changed.outcome, 'replaced');
    await second.stop('app');
    assert.equal(isRunning(changed.status.pid ?? 0), false, 'stop left the process running');
  } finally {
    await second.stopAll();
    await first.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop ends the whole process group, children included', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-sup-'));
  const supervisor = new Supervisor();
  try {
    const childPidFile = path.join(dir, 'child.pid');
    const s = spec(dir, 'parent', `
      const { spawn } = require('node:child_process');
      const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      require('node:fs').writeFileSync(${JSON.stringify(childPidFile)}, String(c.pid));
      process.on('SIGTERM', () => {});
      setInterval(() => {}, 1000);
    `);
    await supervisor.ensure(s);
    assert.ok(await waitFor(() => { try { return readFileSync(childPidFile, 'utf8').length > 0; } catch { return false; } }, 5000));
    const child = Number(readFileSync(childPidFile, 'utf8'));
    const parent = pidOf(s.pidFile);
    await supervisor.stop('parent');
    assert.equal(isRunning(parent), false, 'the parent ignored SIGTERM and was not killed');
    assert.equal(isRunning(child), false, 'the child outlived its group');
  } finally {
    await supervisor.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RESTARTS survive a new supervisor (an agent killed and started again); a renamed replacement keeps running under its new name', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-sup-'));
  const first = new Supervisor({ backoff: { initialMs: 50, maxMs: 400, resetAfterMs: 10_000 } });
  const second = new Supervisor();
  try {
    const s = spec(dir, 'app', SLEEPER);
    await first.ensure(s);
    const pid = pidOf(s.pidFile);
    process.kill(pid, 'SIGKILL');
    assert.ok(await waitFor(() => runningAnew(first, 'app', pid), 10_000), 'not restarted');
    // The pid file names the new run once its start is recorded.
    assert.ok(await waitFor(() => { try { return pidOf(s.pidFile) !== pid; } catch { return false; } }, 10_000), 'the restart was not recorded');
    first.detachAll();
    const adopted = await second.ensure(s);
    assert.deepEqual([adopted.outcome, adopted.status.restarts], ['adopted', 1]);

    const next = { ...spec(dir, 'app-next', SLEEPER), env: { ...s.env, VERSION: 'v2' } };
    await second.ensure(next);
    const replacement = pidOf(next.pidFile);
    await second.stop('app');
    await second.rename('app-next', { ...next, name: 'app', pidFile: s.pidFile });
    assert.deepEqual(second.names(), ['app']);
    assert.equal(second.status('app')?.pid, replacement);
    assert.equal(pidOf(s.pidFile), replacement);
  } finally {
    await second.stopAll();
    await first.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a hand-over makes the successor the supervised process: the predecessor\'s exit is no crash; a successor that exits changes nothing', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-sup-'));
  const exits: string[] = [];
  const supervisor = new Supervisor({ backoff: { initialMs: 50, maxMs: 400, resetAfterMs: 10_000 }, onEvent: (e) => { if (e.type === 'exited') exits.push(`${e.pid} ${e.how}`); } });
  try {
    // As a proxy's successor does with -sf: once up, it tells the process it replaces to leave.
    const s = spec(dir, 'proxy', "const old = Number(process.argv[1]); if (old) process.kill(old, 'SIGTERM'); setInterval(() => {}, 1000)");
    await supervisor.ensure(s);
    const first = pidOf(s.pidFile);
    const successor = await supervisor.handOver('proxy', ['-e', s.args[1]!, String(first)], async ({ pid }) => {
      // The predecessor leaves before the successor is judged serving.
      assert.ok(await waitFor(() => !isRunning(first), 5000), 'the predecessor did not leave');
      assert.ok(isRunning(pid));
    });
    assert.notEqual(successor, first);
    assert.deepEqual([supervisor.status('proxy')?.phase, supervisor.pid('proxy'), supervisor.status('proxy')?.restarts], ['Running', successor, 0]);
    const record = JSON.parse(readFileSync(s.pidFile, 'utf8')) as { pid: number; reloads: number };
    assert.deepEqual([record.pid, record.reloads], [successor, 1]);

    // A successor that exits at once: it is not supervised, the running process stays.
    await assert.rejects(supervisor.handOver('proxy', ['-e', 'process.exit(1)'], async ({ pid }) => {
      if (!(await waitFor(() => !isRunning(pid), 5000))) throw new Error('still runs');
      throw new Error('the successor exited');
    }), /the successor exited/);
    assert.deepEqual([supervisor.status('proxy')?.phase, supervisor.pid('proxy'), supervisor.status('proxy')?.restarts], ['Running', successor, 0]);
    assert.equal((JSON.parse(readFileSync(s.pidFile, 'utf8')) as { reloads: number }).reloads, 1);
    // Nothing was taken for a crash.
    assert.deepEqual(exits, []);
    assert.ok(isRunning(successor));
  } finally {
    await supervisor.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
