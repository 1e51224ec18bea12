// Smoke run of the data-plane benchmark (BENCH_QUICK=1: a few hundred requests, two pods): it must
// complete, print every figure with a number, and leave no process or temporary directory behind,
// also when it is interrupted. No assertion on any figure's value: they depend on the machine.
// Each run gets a temporary directory of its own (TMPDIR) and a marker in its environment, so that
// what another benchmark on the same machine runs or leaves is never taken for this run's.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../support/shared.js';
import { portClosed } from '../support/net.js';

const BENCH = path.join(ROOT, 'bench', 'dataplane.mjs');
const TMP_PREFIX = 'meshctl-bench-dp-';

/** This test's own temporary directory: the benchmark's TMPDIR. */
const TMP = mkdtempSync(path.join(os.tmpdir(), 'meshctl-bench-smoke-'));
/** Every process the benchmark starts inherits this variable. */
const MARKER = `MESHCTL_BENCH_SMOKE=${path.basename(TMP)}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the quick benchmark; `interruptWhen` sends SIGINT once stdout matches it. */
function runBench(interruptWhen?: RegExp): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BENCH], { cwd: ROOT, env: { ...process.env, BENCH_QUICK: '1', TMPDIR: TMP, MESHCTL_BENCH_SMOKE: path.basename(TMP) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    const guard = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (interruptWhen && !interrupted && interruptWhen.test(stdout)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Temporary directories of the benchmark that exist now. */
function benchDirs(): Set<string> {
  return new Set(readdirSync(TMP).filter((n) => n.startsWith(TMP_PREFIX)));
}

/** Pids of the processes this test's benchmark runs started (proxies, the app, the load generator): they carry the marker. */
function benchProcesses(): Set<number> {
  const out = new Set<number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${e}/environ`, 'utf8');
    } catch {
      continue;
    }
    if (environ.split('\0').includes(MARKER)) out.add(Number(e));
  }
  return out;
}

/** What the run left behind: new temporary directories, new processes, listening ports it printed. */
async function leftovers(before: { dirs: Set<string>; pids: Set<number> }, stdout: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of benchDirs()) if (!before.dirs.has(d)) out.push(`directory ${d}`);
  for (const pid of benchProcesses()) if (!before.pids.has(pid)) out.push(`process ${pid}`);
  for (const m of stdout.matchAll(/:(\d{2,5})\b/g)) {
    const port = Number(m[1]);
    if (port > 1024 && !(await portClosed(port))) out.push(`port ${port}`);
  }
  return out;
}

// One row per figure of the summary: label, then the baseline, the measured figure and the ratio, each with a number.
const NUM = '[0-9][0-9,]*(?:\\.[0-9]+)?';
const FIGURES: [string, RegExp][] = [
  ['throughput', new RegExp(`^throughput, saturation\\s+direct ${NUM} req/s\\s+${NUM} req/s\\s+${NUM}% of direct`, 'm')],
  ['latency p50', new RegExp(`^latency p50 @1,000 rps\\s+direct ${NUM} ms\\s+${NUM} ms\\s+[+-]${NUM} ms added`, 'm')],
  ['latency p99', new RegExp(`^latency p99 @1,000 rps\\s+direct ${NUM} ms\\s+${NUM} ms\\s+[+-]${NUM} ms added`, 'm')],
  ['metrics and tracing throughput', new RegExp(`^throughput, metrics\\+tracing\\s+plain sidecars ${NUM} req/s\\s+${NUM} req/s\\s+${NUM}% of plain`, 'm')],
  ['metrics and tracing p99', new RegExp(`^latency p99, metrics\\+tracing\\s+plain sidecars ${NUM} ms\\s+${NUM} ms\\s+[+-]${NUM} ms added`, 'm')],
  ['sidecar RSS', new RegExp(`^sidecar RSS @1,000 rps\\s+app ${NUM} MiB\\s+${NUM} MiB\\s+${NUM}x app`, 'm')],
  ['sidecar CPU', new RegExp(`^sidecar CPU @1,000 rps\\s+app ${NUM} vCPU\\s+${NUM} vCPU\\s+${NUM}x app`, 'm')],
  ['apply', new RegExp(`^apply weights, 2 pods\\s+1 sidecar ${NUM} ms\\s+${NUM} ms\\s+${NUM}x one`, 'm')],
];

describe('bench/dataplane.mjs (quick mode)', { timeout: 300_000 }, () => {
  after(() => rmSync(TMP, { recursive: true, force: true }));

  it('completes and prints every figure of the summary with a number, leaving nothing running', async () => {
    const before = { dirs: benchDirs(), pids: benchProcesses() };
    const run = await runBench();
    // 0: every target met; 1: a target missed (a smoke run on a busy machine may); 2 would be a failure.
    assert.ok(run.code === 0 || run.code === 1, `exit ${run.code}\n${run.stderr}\n${run.stdout}`);
    assert.match(run.stdout, /^== data plane summary ==$/m);
    for (const [name, re] of FIGURES) assert.match(run.stdout, re, `${name} missing from:\n${run.stdout}`);
    assert.match(run.stdout, /read back: 2\/2 sidecars serve revision \d+/);
    assert.doesNotMatch(run.stdout, /\bNaN\b|n\/a/);
    assert.deepEqual(await leftovers(before, run.stdout), []);
  });

  it('stops every process it started and removes its files when interrupted', async () => {
    const before = { dirs: benchDirs(), pids: benchProcesses() };
    // Interrupted once the proxies and the app run.
    const run = await runBench(/^sidecars: /m);
    assert.equal(run.code, 130, `exit ${run.code}\n${run.stderr}\n${run.stdout}`);
    assert.match(run.stdout, /outbound :\d+/);
    assert.deepEqual(await leftovers(before, run.stdout), []);
  });
});
