#!/usr/bin/env node
// Benchmark of configuration changes at mesh scale: local meshes of 10, 50 and 100 single-replica
// workloads (one Service each, the tiny Node app of lib-app.mjs), measured in one run:
//   - the first apply (every pod started, every sidecar serving the revision);
//   - a route change (one VirtualService's timeout);
//   - a weight change (one VirtualService's split);
//   - a change to one host that Sidecar resources make known to 10 pods only (its timeout);
//   - the sidecars' total memory (resident, every HAProxy process of every sidecar).
// Each change is timed until every sidecar it concerns serves it, as `meshctl apply -o json` reports
// it (elapsedMs: from the agent's receipt of the resources to the last concerned sidecar serving
// them, without the command's own start-up, which is printed beside it). Every figure is printed with
// its growth from the smallest mesh to the largest, and each apply's report of what every sidecar
// went through (started, runtime, reloaded, unchanged).
//
//   npm run build && node bench/scale.mjs [--sizes 10,50,100] [--changes 3] [--settle 60] [--keep]
//   BENCH_QUICK=1 node bench/scale.mjs     (meshes of 3 and 6 pods, one change each: a smoke run)
//
// Exit code: 0 every target met, 1 a target missed, 2 the benchmark could not run, 130 interrupted.
import { spawn } from 'node:child_process';
import { promises as fs, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'run.js');
const dist = path.join(root, 'dist', 'src');
const QUICK = process.env.BENCH_QUICK === '1';
const args = process.argv.slice(2);
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const SIZES = (flag('--sizes') ?? (QUICK ? '3,6' : '10,50,100')).split(',').map(Number);
const CHANGES = Number(flag('--changes')) || (QUICK ? 1 : 3);
const KEEP = args.includes('--keep');
/** Pods that call the scoped host (the rest of the mesh does not know it). */
const SCOPED_CALLERS = 10;
/** The whole run, every mesh included, ends by then. */
const DEADLINE = Date.now() + 30 * 60_000;
const TARGETS = { firstApplyMs: 5000, routeChangeMs: 1000, scopedChangeMs: 200 };
/**
 * A pause between one mesh and the next one's first apply. Each mesh rewrites thousands of files while
 * it changes; ext4 without a journal (the file system these figures were measured on) passes over every
 * inode freed in the last 60 s each time it allocates one, so a first apply right after another mesh's
 * churn pays for that mesh (about 0.6 s of CPU at 100 pods, measured with perf), not for itself.
 */
const SETTLE_MS = QUICK ? 0 : Number(flag('--settle') ?? 60) * 1000;

if (SIZES.some((n) => !Number.isInteger(n) || n < 2) || !readdirSync(dist, { withFileTypes: true }).length) {
  process.stderr.write('usage: node bench/scale.mjs [--sizes 10,50,100] [--changes N] [--keep] (after npm run build)\n');
  process.exit(2);
}
const { homeLayout } = await import(pathToFileURL(path.join(dist, 'lib/mesh/home.js')).href);
const { readPlacement, meshPod } = await import(pathToFileURL(path.join(dist, 'lib/mesh/pods.js')).href);

// ------------------------------------------------------------------ processes

const running = new Set();
let tmp = null;
const homes = [];

/** Runs meshctl; resolves with its exit code, output and wall time. Bounded by `timeoutMs` and the run's deadline. */
function meshctl(argv, timeoutMs = 240_000) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [bin, ...argv], { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const limit = Math.max(1000, Math.min(timeoutMs, DEADLINE - Date.now()));
    const timer = setTimeout(() => child.kill('SIGINT'), limit);
    child.on('error', (err) => { clearTimeout(timer); running.delete(child); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, wallMs: Number(process.hrtime.bigint() - started) / 1e6 });
    });
  });
}

async function mustRun(argv, timeoutMs) {
  const r = await meshctl(argv, timeoutMs);
  if (r.code !== 0) throw new Error(`meshctl ${argv.slice(0, 3).join(' ')} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-4).join(' | ')}`);
  return r;
}

async function cleanup() {
  for (const child of running) child.kill('SIGTERM');
  for (const home of homes.splice(0)) {
    const r = await meshctl(['uninstall', '--yes', '--home', home], 120_000).catch((err) => ({ code: -1, stderr: err.message }));
    if (r.code !== 0) process.stderr.write(`could not uninstall the mesh in ${home} (exit ${r.code}): ${String(r.stderr).trim()}\n`);
  }
  if (tmp && !KEEP) await fs.rm(tmp, { recursive: true, force: true });
  else if (tmp) process.stderr.write(`files kept in ${tmp}\n`);
  tmp = null;
}

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${sig}: stopping every process the benchmark started\n`);
    cleanup().finally(() => process.exit(130));
  });
}

// ------------------------------------------------------------------ the meshes

const APP = path.join(root, 'bench', 'lib-app.mjs');
/** Workload i of a mesh of n: the last one lives in namespace `scoped` (the host 10 pods call). */
const namespaceOf = (i, n) => (i === n - 1 ? 'scoped' : 'default');

function basePolicy(n) {
  const docs = [];
  for (let i = 0; i < n; i++) {
    const ns = namespaceOf(i, n);
    const caller = i < SCOPED_CALLERS ? ', caller: "yes"' : '';
    docs.push(`apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: { name: w${i}, namespace: ${ns}, labels: { app: w${i}${caller} } }
spec: { command: [node, ${JSON.stringify(APP)}], port: 9080, replicas: 1, serviceAccount: w${i} }`);
    docs.push(`apiVersion: v1
kind: Service
metadata: { name: w${i}, namespace: ${ns} }
spec: { selector: { app: w${i} }, ports: [{ name: http, port: 9080 }] }`);
  }
  // Istio's scoping: pods of namespace default know their own namespace; the callers also know `scoped`.
  docs.push(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec: { egress: [{ hosts: ["./*"] }] }`);
  docs.push(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: callers, namespace: default }
spec: { workloadSelector: { labels: { caller: "yes" } }, egress: [{ hosts: ["./*", "scoped/*"] }] }`);
  docs.push(routeVs(n, 5), weightVs(90), scopedVs(n, 5));
  return `${docs.join('\n---\n')}\n`;
}

const routeVs = (n, seconds) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: w0-route, namespace: default }
spec: { hosts: [w0], http: [{ timeout: ${seconds}s, route: [{ destination: { host: w0 } }] }] }`;

const weightVs = (first) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: w1-split, namespace: default }
spec: { hosts: [w1], http: [{ route: [{ destination: { host: w1 }, weight: ${first} }, { destination: { host: w0 }, weight: ${100 - first} }] }] }`;

const scopedVs = (n, seconds) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: w${n - 1}-route, namespace: scoped }
spec: { hosts: [w${n - 1}], http: [{ timeout: ${seconds}s, route: [{ destination: { host: w${n - 1} } }] }] }`;

/** Resident memory of every HAProxy process of every sidecar (each sidecar's process group), in MiB. */
async function sidecarMemoryMiB(home) {
  const layout = homeLayout(home);
  const groups = new Set();
  for (const pod of (await readPlacement(layout)).pods) {
    try {
      groups.add(JSON.parse(readFileSync(meshPod(layout, pod).paths.pid, 'utf8')).pid);
    } catch {
      // Not running: counts nothing.
    }
  }
  let kib = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (!groups.has(Number(fields[2]))) continue;
      const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      if (rss) kib += Number(rss[1]);
    } catch {
      // Gone meanwhile.
    }
  }
  return kib / 1024;
}

const TICKS_PER_SECOND = 100;

/** Every process's parent, command name and CPU time (user + system, its own and its reaped children's), in ms. */
function processTable() {
  const table = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = (i) => Number(fields[i]);
      table.set(Number(entry), {
        ppid: ticks(1),
        comm,
        ownMs: ((ticks(11) + ticks(12)) * 1000) / TICKS_PER_SECOND,
        childrenMs: ((ticks(13) + ticks(14)) * 1000) / TICKS_PER_SECOND,
      });
    } catch {
      // Gone meanwhile.
    }
  }
  return table;
}

/**
 * The CPU time the mesh's processes spent so far, in ms: the agent itself (with its spawner process),
 * what it ran to completion (`haproxy -c`, reaped: its children's time), and every process running below it by kind (the
 * sidecars' HAProxy processes, the apps), with the meshctl commands this benchmark ran.
 */
async function meshCpu(home) {
  const agent = await fs.readFile(homeLayout(home).agentPid, 'utf8').then((t) => JSON.parse(t).pid).catch(() => null);
  const table = processTable();
  const own = table.get(process.pid);
  const out = { agent: 0, checks: 0, haproxy: 0, app: 0, other: 0, commands: own ? own.childrenMs : 0 };
  const self = agent === null ? undefined : table.get(agent);
  if (!self) return out;
  out.agent = self.ownMs;
  out.checks = self.childrenMs;
  const children = new Map();
  for (const [pid, p] of table) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid).push(pid);
  }
  const below = [...(children.get(agent) ?? [])];
  while (below.length) {
    const pid = below.pop();
    const p = table.get(pid);
    const kind = p.comm === 'haproxy' ? 'haproxy' : p.comm === 'meshctl-spawner' ? 'agent' : p.comm === 'node' || p.comm === 'MainThread' ? 'app' : 'other';
    out[kind] += p.ownMs + p.childrenMs;
    below.push(...(children.get(pid) ?? []));
  }
  return out;
}

const cpuDelta = (after, before) => Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
const cpuText = (cpu, pods) => {
  const total = Object.values(cpu).reduce((a, b) => a + b, 0);
  const parts = ['haproxy', 'app', 'agent', 'checks', 'commands', 'other'].filter((k) => cpu[k] > 0).map((k) => `${k} ${(cpu[k] / pods).toFixed(1)}`);
  return `${(total / 1000).toFixed(2)} s CPU, ${(total / pods).toFixed(1)} ms per pod (${parts.join(', ')})`;
};

/** Applies `text`; returns the agent's time, the command's wall time and what each sidecar went through. */
async function timedApply(dir, home, name, text) {
  const file = path.join(dir, `${name}.yaml`);
  await fs.writeFile(file, text);
  const r = await mustRun(['apply', '-f', file, '--home', home, '-o', 'json', '--timeout', '300s'], 420_000);
  const result = JSON.parse(r.stdout);
  if (!result.synced) throw new Error(`${name}: apply returned before every sidecar served revision ${result.revision}`);
  const paths = {};
  for (const p of result.proxies ?? []) paths[p.path] = (paths[p.path] ?? 0) + 1;
  return { agentMs: result.elapsedMs, wallMs: r.wallMs, paths, notes: result.notes ?? [], phases: await agentPhases(home, result.revision) };
}

/** The agent's own account of where an apply's time went (its log line for `revision`), or null. */
async function agentPhases(home, revision) {
  const log = await fs.readFile(homeLayout(home).agentLog, 'utf8').catch(() => '');
  const match = new RegExp(`revision ${revision} \\((.*?)\\): `).exec(log);
  return match ? match[1] : null;
}

const pathsText = (paths) => Object.entries(paths).map(([k, v]) => `${v} ${k}`).join(', ') || 'no per-sidecar report';
const changeText = (change) => `${fmt(change.agentMs)} (command ${fmt(change.wallMs)}; ${pathsText(change.paths)})${change.phases ? `\n      agent: ${change.phases}` : ''}`;

async function measure(n) {
  const dir = path.join(tmp, `mesh-${n}`);
  await fs.mkdir(dir, { recursive: true });
  const home = path.join(dir, 'home');
  await mustRun(['install', '--home', home], 120_000);
  homes.push(home);
  const cpuBefore = await meshCpu(home);
  const first = await timedApply(dir, home, 'mesh', basePolicy(n));
  const firstCpu = cpuDelta(await meshCpu(home), cpuBefore);
  const scopedEnforced = !first.notes.some((note) => /\bSidecar\b/.test(note));
  console.log(`  ${n} pods: first apply ${fmt(first.agentMs)} (command ${fmt(first.wallMs)}; ${pathsText(first.paths)})`);
  console.log(`    first apply's CPU: ${cpuText(firstCpu, n)}${first.phases ? `\n      agent: ${first.phases}` : ''}`);
  const series = { route: [], weight: [], scoped: [] };
  for (let k = 1; k <= CHANGES; k++) {
    const route = await timedApply(dir, home, `route-${k}`, routeVs(n, 5 + k));
    const weight = await timedApply(dir, home, `weight-${k}`, weightVs(90 - 10 * k));
    const scoped = await timedApply(dir, home, `scoped-${k}`, scopedVs(n, 5 + k));
    series.route.push(route.agentMs);
    series.weight.push(weight.agentMs);
    series.scoped.push(scoped.agentMs);
    if (k === CHANGES) {
      console.log(`    route change: ${changeText(route)}`);
      console.log(`    weight change: ${changeText(weight)}`);
      console.log(`    scoped change: ${changeText(scoped)}`);
    }
  }
  const memory = await sidecarMemoryMiB(home);
  homes.splice(homes.indexOf(home), 1);
  // Its processes stop; its files stay until the run ends, so that their removal frees no inode just
  // before the next mesh's first apply (SETTLE_MS).
  const down = await meshctl(['uninstall', '--yes', '--keep-state', '--home', home], 120_000);
  // The figures stand; a port another program took meanwhile only keeps the home (uninstall says so).
  if (down.code !== 0) process.stderr.write(`warning: uninstall of the ${n}-pod mesh exited ${down.code}: ${down.stderr.trim().split('\n').pop()}\n`);
  return {
    pods: n,
    firstApplyMs: first.agentMs,
    firstApplyCpuMsPerPod: Object.values(firstCpu).reduce((a, b) => a + b, 0) / n,
    routeChangeMs: median(series.route),
    weightChangeMs: median(series.weight),
    scopedChangeMs: median(series.scoped),
    memoryMiB: memory,
    scopedEnforced,
  };
}

function fmt(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

let code = 2;
try {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-bench-scale-'));
  console.log(`meshes of ${SIZES.join(', ')} single-replica workloads, ${CHANGES} change${CHANGES === 1 ? '' : 's'} of each kind (medians); ${os.availableParallelism()} CPUs`);
  const rows = [];
  for (const [i, n] of SIZES.entries()) {
    if (i > 0 && SETTLE_MS > 0) {
      // The mesh before rewrote many files while it changed: its freed inodes must age first.
      console.log(`  (${SETTLE_MS / 1000} s for the file system to settle before the next mesh's first apply)`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(SETTLE_MS, Math.max(0, DEADLINE - Date.now()))));
    }
    rows.push(await measure(n));
  }
  const small = rows[0];
  const large = rows[rows.length - 1];
  const growth = (key) => `${(large[key] / Math.max(small[key], 0.001)).toFixed(1)}× from ${small.pods} to ${large.pods} pods`;
  const scopedLabel = large.scopedEnforced
    ? `change to one host scoped by Sidecar resources to ${SCOPED_CALLERS} pods`
    : `change to one host that only ${SCOPED_CALLERS} pods call (Sidecar resources not enforced by this build: every sidecar knows the host)`;
  console.log('');
  console.log(`${'pods'.padStart(6)} ${'first apply'.padStart(12)} ${'route'.padStart(9)} ${'weight'.padStart(9)} ${'scoped'.padStart(9)} ${'memory'.padStart(10)}`);
  for (const r of rows) {
    console.log(`${String(r.pods).padStart(6)} ${fmt(r.firstApplyMs).padStart(12)} ${fmt(r.routeChangeMs).padStart(9)} ${fmt(r.weightChangeMs).padStart(9)} ${fmt(r.scopedChangeMs).padStart(9)} ${`${r.memoryMiB.toFixed(0)} MiB`.padStart(10)}`);
  }
  console.log('');
  const verdicts = [];
  const judge = (label, value, target) => {
    const within = value <= target;
    verdicts.push(within);
    console.log(`${label}: ${fmt(value)} at ${large.pods} pods (${within ? 'within' : 'ABOVE'} the ${fmt(target)} target)`);
  };
  judge('first apply', large.firstApplyMs, TARGETS.firstApplyMs);
  console.log(`  growth ${growth('firstApplyMs')}`);
  judge('route change (timeout)', large.routeChangeMs, TARGETS.routeChangeMs);
  console.log(`  growth ${growth('routeChangeMs')}`);
  console.log(`weight change: ${fmt(large.weightChangeMs)} at ${large.pods} pods; growth ${growth('weightChangeMs')}`);
  judge(scopedLabel, large.scopedChangeMs, TARGETS.scopedChangeMs);
  console.log(`  growth ${growth('scopedChangeMs')}`);
  console.log(`sidecars' memory: ${large.memoryMiB.toFixed(0)} MiB at ${large.pods} pods (${(large.memoryMiB / large.pods).toFixed(1)} MiB each); growth ${growth('memoryMiB')}`);
  code = verdicts.every(Boolean) ? 0 : 1;
} catch (err) {
  process.stderr.write(`bench/scale could not run: ${err.message}\n`);
  code = 2;
} finally {
  if (!stopping) await cleanup();
}
if (!stopping) process.exit(code);
