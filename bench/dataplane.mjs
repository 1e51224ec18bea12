#!/usr/bin/env node
// Benchmark of the local mesh's data plane: what the HAProxy sidecars cost, as ratios to baselines
// measured in the same run.
//
// 1. The demo's path — a client calling reviews through productpage's outbound sidecar, mTLS, and
//    the inbound sidecar of reviews v1 or v2 (the demo's VirtualService: a header match, then 80/20)
//    — and the same routing written as an HTTPRoute (on a Service, as GAMMA has it), against the
//    same app called directly: throughput at saturation (autocannon), latency at a
//    fixed 1,000 requests/s (an open-loop generator, lib-load.mjs), the sidecars' memory and CPU.
//    The workload is a tiny Node app answering 1 KiB (lib-app.mjs).
//    The same sidecars without their access log, the rules that only feed it, and their trace-context
//    rules ("plain") run beside them, so that what metrics and tracing cost the request path is a ratio
//    measured in the same run; the agent's cost of making Istio's metrics from those logs (off the path)
//    is measured on the lines they wrote.
//    For their added latency the mesh path, the plain one and a control (the plain sidecars once more)
//    take turns request by request; the control's difference from the plain path is the noise the
//    added p99 is judged with.
// 2. A weight change to every sidecar of a mesh of 20 pods (one route, two subsets), through the data
//    plane's apply path (compile, applyProxyConfig → runtime API), until every sidecar reports the
//    new revision; the baseline is the same change to one sidecar.
//
// On a machine with two or more CPUs the processes are pinned, one CPU per side of the call as two
// pods on two nodes would have: CPU 0 runs the load generator (the calling app) and its outbound
// sidecar, CPU 1 the inbound sidecars and the app. The direct baseline runs the same generator on
// CPU 0 against the same app on CPU 1. Saturation runs of the two paths alternate; at the fixed
// rate the two paths take turns in one-second blocks within every run, so that both meet the same
// stretches of noise from other work on the machine. Figures are medians over the runs; ratios and
// added latencies are medians of the per-run pairs.
//
//   npm run build && node bench/dataplane.mjs [--runs N] [--pods N] [--keep]
//   BENCH_QUICK=1 node bench/dataplane.mjs     (a few hundred requests, 2 pods: a smoke run)
//
// Exit code: 0 every target met, 1 a target missed, 2 the benchmark could not run.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, promises as fs, readFileSync, readSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, percentile } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist', 'src');
const QUICK = process.env.BENCH_QUICK === '1';
const args = process.argv.slice(2);
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const RUNS = Number(flag('--runs')) || (QUICK ? 1 : 5);
const PODS = Math.max(2, Number(flag('--pods')) || (QUICK ? 2 : 20));
const APPLY_ROUNDS = QUICK ? 1 : 7;
const KEEP = args.includes('--keep');

const TARGETS = { throughputRatio: 0.5, addedP99Ms: 0.3, sidecarRssMiB: 30, applyMs: 200, httpRouteWithin: 0.05, policiesWithin: 0.1, meshOfBare: 0.9, telemetryWithin: 0.1, telemetryAddedP99Ms: 0.1 };
// Above this p99 lateness of the generator's own writes (ms), the machine is too busy to judge added p99.
const BUSY_LAG_MS = 2;
const ANCHORS = { istioAddedP99Ms: 0.298, istioSidecarMiB: 60, istioSidecarVcpu: 0.2 };

// Load shapes. Saturation: closed loop, keep-alive connections, bounded by time and count.
const SATURATE = QUICK ? { connections: 8, amount: 300 } : { connections: 32, durationS: 5, maxRequests: 600_000 };
// Fixed rate: open loop at 1,000 requests/s; the first `warmup` requests are left out of the figures.
const RATE = QUICK ? { rps: 1000, count: 300, warmup: 50, blockMs: 100 } : { rps: 1000, count: 11_000, warmup: 1000, blockMs: 1000 };
// Metrics and tracing's added latency: the paths take turns request by request at RATE.rps together;
// twice RATE's requests per path, since a p99 difference of a tenth of a millisecond needs them.
const TURNS = QUICK ? { count: 300, warmup: 50 } : { count: 21_000, warmup: 1000 };

const NS = 'default';
const CLIENT_ID = `spiffe://cluster.local/ns/${NS}/sa/bookinfo-productpage`;

// ------------------------------------------------------------------ processes we start, and their end

const children = new Set();
const proxies = [];
let tmp = null;
let api = null;

function pinnable() {
  if (os.availableParallelism() < 2) return false;
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}
const PIN = pinnable();
const pinPrefix = (cpu) => (PIN && cpu !== undefined ? ['taskset', '-c', String(cpu)] : []);

/** Spawns a process (pinned to `cpu` when pinning is possible) and tracks it until it exits. */
function startChild(argv, cpu) {
  const full = [...pinPrefix(cpu), ...argv];
  const child = spawn(full[0], full.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  child.exitedP = new Promise((resolve) => child.on('exit', (code, signal) => {
    children.delete(child);
    resolve({ code, signal });
  }));
  child.on('error', () => children.delete(child));
  return child;
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try { process.kill(child.pid, 'SIGTERM'); } catch { return; }
  const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
  await child.exitedP;
  clearTimeout(t);
}

let cleaning = null;
/** Stops every proxy and child process, then removes the temporary directory (once, whoever asks first). */
function cleanup() {
  cleaning ??= stopEverything();
  return cleaning;
}

async function stopEverything() {
  const errors = [];
  if (api) {
    // A proxy whose start was in flight may write its pid file just after a first pass: look twice.
    const targets = proxies.splice(0);
    for (let pass = 0; pass < 2; pass++) {
      for (const t of targets) await api.stopProxy(t).catch((e) => errors.push(`${t.name}: ${e.message}`));
      if (pass === 0) await new Promise((r) => setTimeout(r, 200));
    }
  }
  for (const c of [...children]) await stopChild(c);
  if (tmp && !KEEP) await fs.rm(tmp, { recursive: true, force: true });
  else if (tmp) process.stderr.write(`files kept in ${tmp}\n`);
  tmp = null;
  if (errors.length) process.stderr.write(`could not stop every proxy:\n  ${errors.join('\n  ')}\n`);
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

// ------------------------------------------------------------------ small helpers

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function freePorts(n, taken = new Set()) {
  const out = [];
  while (out.length < n) {
    const p = await freePort();
    if (!taken.has(p)) {
      taken.add(p);
      out.push(p);
    }
  }
  return out;
}

function readLine(stream, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${what} printed nothing within ${timeoutMs} ms`)), timeoutMs);
    stream.setEncoding('utf8');
    stream.on('data', function onData(d) {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(t);
        stream.off('data', onData);
        resolve(buf.slice(0, i));
      }
    });
    stream.on('end', () => {
      clearTimeout(t);
      reject(new Error(`${what} exited before it was ready`));
    });
  });
}

/** The tiny app, listening on `count` ports; pinned to `cpu`. */
async function startApp(count, cpu) {
  const child = startChild([process.execPath, path.join(root, 'bench', 'lib-app.mjs'), ...Array(count).fill('0')], cpu);
  const { ports } = JSON.parse(await readLine(child.stdout, 10_000, 'the benchmark app'));
  return { child, pid: child.pid, ports };
}

/** Runs one bounded load (lib-load.mjs) on `cpu` and returns its JSON result. */
async function runLoad(options, cpu) {
  const child = startChild([process.execPath, path.join(root, 'bench', 'lib-load.mjs'), JSON.stringify(options)], cpu);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  const bound = ((options.durationS ?? 0) + ((options.count ?? 0) * (options.targets?.length ?? 1)) / (options.rps ?? 1000)) * 1000 + 60_000;
  const guard = setTimeout(() => stopChild(child), bound);
  const { code } = await child.exitedP;
  clearTimeout(guard);
  const last = out.trim().split('\n').pop();
  if (code !== 0 || !last) throw new Error(`the load generator exited ${code}: ${out.slice(0, 300)}`);
  const result = JSON.parse(last);
  if (result.timedOut) throw new Error(`the load generator ran out of time before every request of its schedule was answered (${options.count} per target)`);
  return result;
}

function httpGet(port, urlPath, host) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.setEncoding('utf8');
    s.setTimeout(5000, () => s.destroy(new Error(`GET ${urlPath} on port ${port} timed out`)));
    s.on('connect', () => s.write(`GET ${urlPath} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    s.on('data', (d) => { data += d; });
    s.on('end', () => {
      const [head, ...body] = data.split('\r\n\r\n');
      resolve({ status: Number(head.slice(9, 12)), head, body: body.join('\r\n\r\n') });
    });
    s.on('error', reject);
  });
}

// /proc readings: process groups (a proxy's processes), memory, CPU time.
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

function procStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], ppid: Number(rest[1]), pgrp: Number(rest[2]), ticks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return null;
  }
}

function groupPids(pgid) {
  const out = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = procStat(Number(e));
    if (st && st.pgrp === pgid && st.state !== 'Z') out.push(Number(e));
  }
  return out.sort((a, b) => (a === pgid ? -1 : b === pgid ? 1 : a - b));
}

function kibField(file, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

const PAGE = 4096;

/**
 * The physical pages resident in any of `pids`, each counted once (from /proc/<pid>/pagemap; the
 * page frame numbers need root). This is what the processes occupy together, as a container's
 * memory counts them; null when the frame numbers cannot be read.
 */
function residentUnion(pids) {
  const frames = new Set();
  for (const pid of pids) {
    let maps;
    let fd;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
      fd = openSync(`/proc/${pid}/pagemap`, 'r');
    } catch {
      return null;
    }
    try {
      for (const line of maps.split('\n')) {
        const m = /^([0-9a-f]+)-([0-9a-f]+)/.exec(line);
        if (!m || line.endsWith('[vsyscall]')) continue;
        const first = Number(BigInt(`0x${m[1]}`) / BigInt(PAGE));
        const pages = Number((BigInt(`0x${m[2]}`) - BigInt(`0x${m[1]}`)) / BigInt(PAGE));
        const buf = Buffer.alloc(pages * 8);
        const read = readSync(fd, buf, 0, buf.length, first * 8);
        // Little-endian 64-bit entries as 32-bit halves: bit 63 = present, bits 0-54 = frame number.
        const words = new Uint32Array(buf.buffer, buf.byteOffset, Math.floor(read / 4));
        for (let i = 0; i + 1 < words.length; i += 2) {
          const hi = words[i + 1];
          if (!(hi & 0x80000000)) continue;
          const pfn = (hi & 0x7fffff) * 4294967296 + words[i];
          if (pfn === 0) return null;
          frames.add(pfn);
        }
      }
    } catch {
      return null;
    } finally {
      closeSync(fd);
    }
  }
  return (frames.size * PAGE) / 1048576;
}

/** RSS and PSS (MiB) of each process, their sums, and the union of their resident pages. */
function memoryOf(pids) {
  const each = pids.map((pid) => ({ pid, rss: kibField(`/proc/${pid}/status`, 'VmRSS') / 1024, pss: kibField(`/proc/${pid}/smaps_rollup`, 'Pss') / 1024 }));
  const rss = each.reduce((a, b) => a + b.rss, 0);
  return { each, rss, pss: each.reduce((a, b) => a + b.pss, 0), union: residentUnion(pids) ?? rss };
}

const cpuTicks = (pids) => pids.reduce((a, pid) => a + (procStat(pid)?.ticks ?? 0), 0);

function pinGroup(pgid, cpu) {
  if (!PIN) return;
  for (const pid of groupPids(pgid)) {
    const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`taskset could not pin process ${pid}: ${r.stderr}`);
  }
}

/** CPU seconds all CPUs spent busy since boot (/proc/stat: everything but idle and iowait). */
function machineBusySeconds() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - f[3] - f[4]) / CLK_TCK;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const n0 = (v) => Math.round(v).toLocaleString('en-US');
const f2 = (v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
const f3 = (v) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const signed3 = (v) => (v >= 0 ? `+${f3(v)}` : f3(v));
const say = (line = '') => process.stdout.write(`${line}\n`);
/** Requests of a path's runs that failed: answered other than 2xx, or lost with their connection (timeouts included). */
const failureCount = (runs) => runs.reduce((a, r) => a + r.non2xx + r.errors, 0);
/** The same, with what the failures were (`HTTP 503`, `ECONNRESET`, `connection closed`, `timeout`), so that a run says why. */
function failureText(runs) {
  const kinds = {};
  for (const r of runs) for (const [kind, count] of Object.entries(r.errorKinds ?? {})) kinds[kind] = (kinds[kind] ?? 0) + count;
  const parts = Object.entries(kinds).map(([kind, count]) => `${kind} ×${count}`);
  return `${n0(failureCount(runs))}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

// ------------------------------------------------------------------ the mesh, built as the control plane does

async function loadApi() {
  const modules = ['runtime/haproxy/index.js', 'policy/mesh-model.js', 'mesh/ca.js', 'policy/load.js', 'runtime/haproxy/tracing.js', 'runtime/istio-metrics.js', 'runtime/haproxy/access-log.js'];
  const needed = modules.map((f) => path.join(dist, 'lib', f));
  const missing = needed.filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`compiled code is missing (${path.relative(root, missing[0])}); run \`npm run build\` first`);
  const imp = (f) => import(pathToFileURL(path.join(dist, 'lib', f)).href);
  return Object.assign({}, ...(await Promise.all(modules.map(imp))));
}

function loadPolicy(text) {
  const { resources } = api.loadSources([{ path: 'bench.yaml', text, format: 'yaml', size: Buffer.byteLength(text) }], { defaultNamespace: NS });
  return api.buildMeshModel(resources);
}

const workload = (name, app, version, replicas, sa) => `
apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: { name: ${name}, namespace: ${NS}, labels: { app: ${app}, version: ${version} } }
spec: { command: [node, app.js], port: 9080, replicas: ${replicas}, serviceAccount: ${sa} }
---`;
const service = (name) => `
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${NS} }
spec: { selector: { app: ${name} }, ports: [{ name: http, port: 9080 }] }
---`;

/** The demo's reviews routing: jason → v2, everyone else 80/20 (with the demo's retries and timeout), mTLS STRICT mesh-wide as in examples/bookinfo. */
function demoPolicy() {
  return `${workload('productpage', 'productpage', 'v1', 1, 'bookinfo-productpage')}
${workload('reviews-v1', 'reviews', 'v1', 1, 'bookinfo-reviews')}
${workload('reviews-v2', 'reviews', 'v2', 1, 'bookinfo-reviews')}
${service('productpage')}
${service('reviews')}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: ${NS} }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: ${NS} }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - name: split
    route:
    - { destination: { host: reviews, subset: v1 }, weight: 80 }
    - { destination: { host: reviews, subset: v2 }, weight: 20 }
    retries: { attempts: 2, perTryTimeout: 2s }
    timeout: 10s
---
apiVersion: v1
kind: Service
metadata: { name: reviews-v1, namespace: ${NS} }
spec: { selector: { app: reviews, version: v1 }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: reviews-v2, namespace: ${NS} }
spec: { selector: { app: reviews, version: v2 }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: reviews-httproute, namespace: ${NS} }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
# The same routing written as an HTTPRoute on a Service (GAMMA): the HTTPRoute path of the benchmark.
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews, namespace: ${NS} }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews-httproute, port: 9080 }]
  rules:
  - matches: [{ headers: [{ name: end-user, value: jason }] }]
    backendRefs: [{ name: reviews-v2, port: 9080 }]
  - backendRefs:
    - { name: reviews-v1, port: 9080, weight: 80 }
    - { name: reviews-v2, port: 9080, weight: 20 }
    retry: { attempts: 2 }
    timeouts: { request: 10s, backendRequest: 2s }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
${workload('ratings', 'ratings', 'v1', 1, 'bookinfo-ratings')}
${service('ratings')}
# The policies path: the demo route's shape (retries, timeout) to ratings, plus the resilience and
# security policy a production service carries, sized never to trip: what they cost when they do not act.
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: ${NS} }
spec:
  hosts: [ratings]
  http:
  - name: guarded
    route: [{ destination: { host: ratings } }]
    retries: { attempts: 2, perTryTimeout: 2s }
    timeout: 10s
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: ${NS} }
spec:
  host: ratings
  trafficPolicy:
    connectionPool: { tcp: { maxConnections: 1000 }, http: { http1MaxPendingRequests: 1000 } }
    outlierDetection: { consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ratings-callers, namespace: ${NS} }
spec:
  selector: { matchLabels: { app: ratings } }
  action: ALLOW
  rules: [{ from: [{ source: { principals: [cluster.local/ns/${NS}/sa/bookinfo-productpage] } }], to: [{ operation: { methods: [GET] } }] }]
---
apiVersion: meshctl.dev/v1alpha1
kind: RateLimit
metadata: { name: ratings, namespace: ${NS} }
spec:
  selector: { matchLabels: { app: ratings } }
  limits: [{ requests: 1000000, per: 1s }]
`;
}

/** `pods` pods of one service in two versions, and one route splitting between the two subsets. */
function fleetPolicy(pods, [w1, w2]) {
  const v1 = Math.ceil(pods / 2);
  return `${workload('web-v1', 'web', 'v1', v1, 'web')}
${workload('web-v2', 'web', 'v2', pods - v1, 'web')}
${service('web')}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web, namespace: ${NS} }
spec:
  host: web
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: ${NS} }
spec:
  hosts: [web]
  http:
  - name: split
    route:
    - { destination: { host: web, subset: v1 }, weight: ${w1} }
    - { destination: { host: web, subset: v2 }, weight: ${w2} }
`;
}

/**
 * Gives every pod of `model` loopback ports (its app port from `appPorts`, in pod order), a
 * directory and a certificate from `ca`.
 */
async function placePods(model, dir, ca, appPorts) {
  const taken = new Set(appPorts);
  const pods = [];
  for (const [i, spec] of api.desiredPods(model).entries()) {
    const [inbound, outbound, admin] = await freePorts(3, taken);
    const pod = {
      name: spec.name, namespace: spec.namespace, workload: spec.workload, labels: spec.labels, serviceAccount: spec.serviceAccount,
      ports: { app: appPorts[i], inbound, outbound, admin },
      paths: api.proxyPaths(path.join(dir, spec.name)),
    };
    await fs.mkdir(pod.paths.dir, { recursive: true, mode: 0o700 });
    const cert = await api.issueWorkloadCertificate(ca, { namespace: pod.namespace, serviceAccount: pod.serviceAccount });
    await api.writeWorkloadCertificate(cert, ca, pod.paths);
    pods.push(pod);
  }
  return pods;
}

/** Starts the sidecars (applyProxyConfig: validate, write, start), `parallel` at a time. */
async function startSidecars(pods, compiled, parallel) {
  const queue = [...pods];
  const worker = async () => {
    for (let pod = queue.shift(); pod; pod = queue.shift()) {
      proxies.push(pod);
      const proxy = compiled.sidecars.find((s) => s.name === pod.name);
      const r = await api.applyProxyConfig(pod, proxy, { timeoutMs: 30_000 });
      if (r.action !== 'started') throw new Error(`sidecar ${pod.name}: expected a start, got ${r.action}`);
      pod.pid = r.pid;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/**
 * A compiled sidecar without what metrics and tracing put on the request path: its access-log line (what
 * the agent makes Istio's metrics and the spans from), the rules that exist only to feed that line (the
 * request id's copy, the destination's name, the peer header: compiler.ts, telemetryOnlyRule) and its
 * trace-context rules. Everything else — routing, mTLS, request ids, XFCC — stays.
 */
function withoutTelemetry(proxy) {
  const trace = new Set([...api.traceContextLines(), ...api.b3HeaderLines()]);
  const lines = proxy.config.split('\n').flatMap((l) => {
    const rule = l.trim();
    if (trace.has(rule) || api.telemetryOnlyRule(rule) || rule.startsWith('error-log-format ')) return [];
    return rule.startsWith('log-format ') ? [l.replace(rule, 'no log')] : [l];
  });
  const config = lines.join('\n');
  if (/traceparent|x-b3-|x-meshctl-peer|txn\.(rid|dest|peer)\b/.test(config) || config.includes('log-format')) throw new Error(`sidecar ${proxy.name}: the plain variant still logs or traces; the bench no longer knows the compiler's lines`);
  return { ...proxy, config };
}

/** What the agent spends making Istio's metrics from access-log text (off the request path): µs of CPU per line. */
function agentMetricsCost(text, pods) {
  const peers = new Map(pods.map((p) => [p.name, { name: p.name, namespace: p.namespace, workload: p.workload, labels: p.labels, principal: `spiffe://cluster.local/ns/${p.namespace}/sa/${p.serviceAccount}` }]));
  const perLine = [];
  for (let run = 0; run < 4; run++) {
    const metrics = new api.IstioMetrics();
    const before = process.cpuUsage();
    const { entries } = api.parseAccessLog(text);
    for (const e of entries) metrics.record(e, peers);
    metrics.render();
    const used = process.cpuUsage(before);
    // The first run warms the JIT up.
    if (run > 0 && entries.length) perLine.push((used.user + used.system) / entries.length);
  }
  return median(perLine);
}

/** The last `bytes` of a file, from its first whole line. */
async function tailOf(file, bytes) {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, bytes);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    const text = buf.toString('utf8');
    return length < size ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    await handle.close();
  }
}

// ------------------------------------------------------------------ HAProxy itself: the same two hops, bare

/**
 * The same two hops through HAProxy with nothing of the mesh: a plain frontend forwarding to one
 * server over mTLS (the client pod's certificate, verified against the mesh CA), and an mTLS
 * frontend forwarding to the app, each one process with one thread, pinned as the sidecars are. No
 * routing rules, headers, variables, Lua or access log: what two HAProxy hops with mTLS cost before
 * anything meshctl configures, so that the sidecars' figures can be read against HAProxy's own.
 */
async function startBareHops(bin, dir, client, server, appPort) {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const [outPort, inPort] = await freePorts(2);
  const head = ['global', '  nbthread 1', 'defaults', '  mode http', '  timeout connect 2s', '  timeout client 30s', '  timeout server 60s'];
  const outbound = [...head, 'frontend outbound', `  bind 127.0.0.1:${outPort}`, '  default_backend next', 'backend next',
    `  server next 127.0.0.1:${inPort} ssl crt ${client.paths.certificate} ca-file ${client.paths.caBundle} verify required`];
  const inbound = [...head, 'frontend inbound', `  bind 127.0.0.1:${inPort} ssl crt ${server.paths.certificate} ca-file ${server.paths.caBundle} verify required`,
    '  default_backend app', 'backend app', `  server app 127.0.0.1:${appPort}`];
  const procs = [];
  for (const [name, lines, cpu] of [['inbound', inbound, 1], ['outbound', outbound, 0]]) {
    const file = path.join(dir, `${name}.cfg`);
    await fs.writeFile(file, `${lines.join('\n')}\n`);
    const child = startChild([bin.path, '-db', '-f', file], cpu);
    child.stdout.resume();
    procs.push(child);
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await httpGet(outPort, '/', 'reviews').catch(() => null);
    if (r?.status === 200) break;
    if (Date.now() > deadline) throw new Error('the bare HAProxy hops did not answer within 10 s');
    await new Promise((res) => setTimeout(res, 50));
  }
  return { port: outPort, pids: procs.map((c) => c.pid) };
}

// ------------------------------------------------------------------ 1. the demo's path against the app

async function benchPath(ca, bin) {
  const dir = path.join(tmp, 'path');
  const model = loadPolicy(demoPolicy());
  const specs = api.desiredPods(model);
  // One app process, on the server side's CPU, serves the three pods' app ports.
  const app = await startApp(specs.length, 1);
  const pods = await placePods(model, dir, ca, app.ports);
  const compiled = api.compileMesh(model, { pods }, { revision: 1 });
  await startSidecars(pods, compiled, 3);
  const client = pods.find((p) => p.name === 'productpage-0');
  const v1 = pods.find((p) => p.name === 'reviews-v1-0');
  const servers = pods.filter((p) => p !== client);
  pinGroup(client.pid, 0);
  for (const p of servers) pinGroup(p.pid, 1);
  // The same pods' sidecars once more, on their own ports, without access log (and its inputs) and trace context.
  const plainPods = await placePods(model, path.join(dir, 'plain'), ca, app.ports);
  const plainCompiled = api.compileMesh(model, { pods: plainPods }, { revision: 1 });
  await startSidecars(plainPods, { sidecars: plainCompiled.sidecars.map(withoutTelemetry) }, 3);
  const plainClient = plainPods.find((p) => p.name === 'productpage-0');
  const plainServers = plainPods.filter((p) => p !== plainClient);
  pinGroup(plainClient.pid, 0);
  for (const p of plainServers) pinGroup(p.pid, 1);
  // And a third set, the plain sidecars again: what differs between two identical paths is the noise
  // of the latency comparison, printed beside what metrics and tracing add.
  const controlPods = await placePods(model, path.join(dir, 'control'), ca, app.ports);
  const controlCompiled = api.compileMesh(model, { pods: controlPods }, { revision: 1 });
  await startSidecars(controlPods, { sidecars: controlCompiled.sidecars.map(withoutTelemetry) }, 3);
  const controlClient = controlPods.find((p) => p.name === 'productpage-0');
  pinGroup(controlClient.pid, 0);
  for (const p of controlPods) if (p !== controlClient) pinGroup(p.pid, 1);

  // The path works, with mTLS: the app sees the caller's verified identity.
  for (const [port, host] of [[client.ports.outbound, 'reviews'], [client.ports.outbound, 'reviews-httproute'], [client.ports.outbound, 'ratings'], [plainClient.ports.outbound, 'reviews'], [controlClient.ports.outbound, 'reviews']]) {
    const who = await httpGet(port, '/whoami', host);
    if (who.status !== 200 || !who.body.endsWith(`URI=${CLIENT_ID}`)) throw new Error(`the mesh path to ${host} does not work: ${who.status} ${who.head.split('\r\n')[0]} ${who.body}`);
  }
  const plain = await httpGet(v1.ports.app, '/', 'reviews');
  if (plain.status !== 200) throw new Error(`the app does not answer directly: ${plain.status}`);

  const bare = await startBareHops(bin, path.join(tmp, 'bare'), client, v1, v1.ports.app);
  const targets = {
    direct: { port: v1.ports.app, host: 'reviews', path: '/reviews/1' },
    mesh: { port: client.ports.outbound, host: 'reviews', path: '/reviews/1' },
    plain: { port: plainClient.ports.outbound, host: 'reviews', path: '/reviews/1' },
    control: { port: controlClient.ports.outbound, host: 'reviews', path: '/reviews/1' },
    httproute: { port: client.ports.outbound, host: 'reviews-httproute', path: '/reviews/1' },
    policies: { port: client.ports.outbound, host: 'ratings', path: '/reviews/1' },
    bare: { port: bare.port, host: 'reviews', path: '/reviews/1' },
  };
  const order = (i) => (i % 2 ? ['mesh', 'httproute', 'bare', 'direct'] : ['direct', 'bare', 'httproute', 'mesh']);
  // What metrics and tracing add to latency is smaller than what the machine's stalls of a few ms do to
  // whichever path is running then: the mesh path, the plain one and the control take turns request by
  // request, so that every stall falls on the three alike.
  const telemetryOrder = (i) => [['mesh', 'plain', 'control'], ['plain', 'control', 'mesh'], ['control', 'mesh', 'plain']][i % 3];
  // Saturation runs of the bare hops and of the HTTPRoute path go between the other two, alternating sides
  // with them; the plain sidecars run next to the mesh path they are compared with.
  const satOrder = (i) => (i % 2 ? ['mesh', 'plain', 'policies', 'httproute', 'bare', 'direct'] : ['direct', 'bare', 'httproute', 'policies', 'plain', 'mesh']);

  say(`demo path: client → productpage-0 outbound :${client.ports.outbound} → mTLS → reviews-v1-0 / reviews-v2-0 inbound (80/20) → app`);
  say(`httproute: the same path and routing written as an HTTPRoute on Service reviews-httproute (header match, then 80/20)`);
  say(`policies:  the same two hops to ratings, whose route and pod carry retries, a timeout, a connection pool, outlier detection, an ALLOW policy and a rate limit (none of them tripping)`);
  say(`plain:     the demo path through a second set of the same sidecars without access log, its inputs and trace context (what metrics and tracing cost the path)`);
  say(`control:   the plain path once more, through a third set of sidecars (what two identical paths differ by: the noise of the latency comparison)`);
  say(`direct:    client → app :${v1.ports.app}`);
  say(`bare:      client → HAProxy :${bare.port} → mTLS → HAProxy → app (the same two hops with nothing of the mesh: no rules, no Lua, no log)`);
  say(PIN
    ? 'pinning:   CPU 0 = load generator + outbound sidecar; CPU 1 = inbound sidecars + app (direct: generator on CPU 0, app on CPU 1)'
    : 'pinning:   none (taskset missing or a single CPU): generator, sidecars and app share every CPU');
  const procs = groupPids(client.pid).length;
  say(`sidecars:  HAProxy, ${procs} process${procs === 1 ? '' : 'es'} (nbthread 1) each, an access-log line per request, as the mesh runs them`);
  say();

  // Saturation.
  if (!QUICK) for (const t of ['direct', 'mesh', 'plain', 'httproute', 'policies', 'bare']) await runLoad({ mode: 'saturate', ...targets[t], connections: SATURATE.connections, durationS: 1, maxRequests: 200_000 }, 0);
  const sat = { direct: [], mesh: [], plain: [], httproute: [], policies: [], bare: [] };
  const groupsNow = () => ({
    outbound: groupPids(client.pid), inbound: servers.flatMap((p) => groupPids(p.pid)), app: [app.pid], bareOutbound: [bare.pids[1]], bareInbound: [bare.pids[0]],
    plainOutbound: groupPids(plainClient.pid), plainInbound: plainServers.flatMap((p) => groupPids(p.pid)),
  });
  const others = { busy: 0, ours: 0, seconds: 0 };
  /** Runs one load and measures the CPU time of every process on the path (µs per answered request). */
  async function measured(options) {
    const groups = groupsNow();
    const before = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, cpuTicks(pids)]));
    const busy0 = machineBusySeconds();
    const ownBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    const r = await runLoad(options, 0);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpuSeconds = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, (cpuTicks(pids) - before[k]) / CLK_TCK]));
    cpuSeconds.client = r.cpuSeconds;
    const own = process.cpuUsage(ownBefore);
    const ours = Object.values(cpuSeconds).reduce((a, b) => a + b, 0) + (own.user + own.system) / 1e6;
    others.busy += machineBusySeconds() - busy0;
    others.ours += ours;
    others.seconds += seconds;
    return { ...r, wall: seconds, cpuSeconds };
  }
  for (let i = 0; i < RUNS; i++) {
    for (const t of satOrder(i)) {
      const r = await measured({ mode: 'saturate', ...targets[t], ...SATURATE });
      if (r.ok === 0) throw new Error(`no successful request at saturation (${t}): ${JSON.stringify(r)}`);
      sat[t].push(r);
    }
  }
  const usPerRequest = (list, k) => median(list.map((r) => (r.cpuSeconds[k] * 1e6) / r.ok));
  const satFailures = (t) => failureCount(sat[t]);
  const loadShape = SATURATE.amount ? `${SATURATE.amount} requests` : `${SATURATE.durationS} s`;
  say(`throughput at saturation (autocannon, ${SATURATE.connections} keep-alive connections, ${loadShape} per run, ${RUNS} runs each):`);
  for (const t of ['direct', 'mesh', 'plain', 'httproute', 'policies', 'bare']) say(`  ${t.padEnd(9)} ${sat[t].map((r) => n0(r.rps)).join(' ')} req/s; failed ${failureText(sat[t])}`);
  const satRatios = sat.mesh.map((r, i) => r.rps / sat.direct[i].rps);
  const bareRatios = sat.bare.map((r, i) => r.rps / sat.direct[i].rps);
  const perRequest = {
    outbound: usPerRequest(sat.mesh, 'outbound'),
    outboundPolicies: usPerRequest(sat.policies, 'outbound'),
    inboundPolicies: usPerRequest(sat.policies, 'inbound'),
    inbound: usPerRequest(sat.mesh, 'inbound'),
    app: usPerRequest(sat.mesh, 'app'),
    appDirect: usPerRequest(sat.direct, 'app'),
    clientMesh: usPerRequest(sat.mesh, 'client'),
    clientDirect: usPerRequest(sat.direct, 'client'),
    bareOutbound: usPerRequest(sat.bare, 'bareOutbound'),
    bareInbound: usPerRequest(sat.bare, 'bareInbound'),
    plainOutbound: usPerRequest(sat.plain, 'plainOutbound'),
    plainInbound: usPerRequest(sat.plain, 'plainInbound'),
  };
  // The agent's side of metrics: the lines the mesh path's sidecars wrote, made into Istio's metrics.
  const logText = (await Promise.all([client, ...servers].map((p) => tailOf(p.paths.accessLog, 4 * 1024 * 1024)))).join('');
  perRequest.agentMetrics = agentMetricsCost(logText, pods) * 2;
  say(`  CPU per request (µs, medians): mesh: outbound sidecar ${f2(perRequest.outbound).padStart(6)}, inbound sidecars ${f2(perRequest.inbound)}, app ${f2(perRequest.app)}, client ${f2(perRequest.clientMesh)}`);
  say(`                                 policies: outbound sidecar ${f2(perRequest.outboundPolicies)}, inbound sidecar ${f2(perRequest.inboundPolicies)}`);
  say(`                                 direct: app ${f2(perRequest.appDirect)}, client ${f2(perRequest.clientDirect)}`);
  say(`                                 bare:   outbound HAProxy ${f2(perRequest.bareOutbound)}, inbound HAProxy ${f2(perRequest.bareInbound)}`);
  say(`                                 plain (no access log or its inputs, no trace context): outbound sidecar ${f2(perRequest.plainOutbound)}, inbound sidecar ${f2(perRequest.plainInbound)}`);
  say(`                                 agent, Istio metrics from the access logs (off the path): ${f2(perRequest.agentMetrics)} per request (its two lines)`);
  say();

  // Fixed rate: both paths in each run, taking turns in blocks of one second at 1,000 req/s, so that
  // both meet the same stretches of noise from the rest of the machine but never share a moment;
  // the sidecars' memory and CPU are read meanwhile (they carry traffic in two of the run's blocks).
  const rate = { direct: [], mesh: [], httproute: [], bare: [] };
  const mem = { outbound: [], inbound: [], app: [] };
  const cpu = { outbound: [], inbound: [], app: [] };
  const sampleMemory = () => ({ outbound: memoryOf(groupPids(client.pid)), inbound: memoryOf(groupPids(v1.pid)), app: memoryOf([app.pid]) });
  for (let i = 0; i < RUNS; i++) {
    let sample = null;
    // The paths take turns block by block (lib-load.mjs): read in the middle of a mesh block about 3/4
    // into the run, while the sidecars carry its traffic.
    const perBlock = (RATE.rps * RATE.blockMs) / 1000;
    const meshBlock = Math.floor((0.75 * RATE.count) / perBlock) * order(i).length + order(i).indexOf('mesh');
    const sampler = setTimeout(() => { sample = sampleMemory(); }, (meshBlock + 0.5) * RATE.blockMs);
    const streams = order(i).map((t) => ({ name: t, ...targets[t] }));
    const r = await measured({ mode: 'rate', ...RATE, targets: streams });
    clearTimeout(sampler);
    for (const t of Object.keys(rate)) {
      if (!r.targets[t]?.measured) throw new Error(`no answer at the fixed rate (${t}): ${JSON.stringify(r.targets[t])}`);
      rate[t].push(r.targets[t]);
    }
    sample ??= sampleMemory();
    for (const k of Object.keys(mem)) mem[k].push(sample[k]);
    for (const k of Object.keys(cpu)) cpu[k].push(r.cpuSeconds[k] / r.wall * (k === 'app' ? 1 : order(i).length / 2));
  }
  const rateFailures = (t) => failureCount(rate[t]);
  say(`latency at a fixed ${n0(RATE.rps)} req/s (open loop; in each run the paths take turns in blocks of ${n0(RATE.blockMs)} ms, ${n0(RATE.count)} requests each, first ${n0(RATE.warmup)} not counted; ${RUNS} runs), ms:`);
  for (const t of Object.keys(rate)) {
    say(`  ${t.padEnd(9)} p50 ${rate[t].map((r) => f3(r.p50)).join(' ')} | p99 ${rate[t].map((r) => f3(r.p99)).join(' ')} | achieved ${rate[t].map((r) => n0(r.achievedRps)).join(' ')} req/s; failed ${failureText(rate[t])}; send lag p99 ${f3(median(rate[t].map((r) => r.sendLagP99)))}`);
  }
  const added = (q, path = 'mesh') => rate[path].map((r, i) => r[q] - rate.direct[i][q]);

  // Metrics and tracing at a fixed rate: the three paths take turns request by request, together at
  // RATE.rps; each path's latencies are pooled over the runs.
  const turns = { mesh: [], plain: [], control: [] };
  const pooled = { mesh: [], plain: [], control: [] };
  for (let i = 0; i < RUNS; i++) {
    const streams = telemetryOrder(i).map((t) => ({ name: t, ...targets[t] }));
    const r = await runLoad({ mode: 'rate', rps: RATE.rps, ...TURNS, blockMs: 1000 / RATE.rps, latencies: true, targets: streams }, 0);
    for (const t of Object.keys(turns)) {
      if (!r.targets[t]?.measured) throw new Error(`no answer at the fixed rate (${t}): ${JSON.stringify({ ...r.targets[t], latencies: undefined })}`);
      const { latencies, ...figures } = r.targets[t];
      turns[t].push(figures);
      for (const x of latencies) pooled[t].push(x);
    }
  }
  for (const t of Object.keys(pooled)) pooled[t].sort((a, b) => a - b);
  const pooledAt = (t, q) => percentile(pooled[t], q);
  const turnFailures = (t) => failureCount(turns[t]);
  say(`metrics and tracing at a fixed rate: mesh, plain and control take turns request by request, ${n0(RATE.rps)} req/s together (${n0(RATE.rps / 3)} each), ${n0(TURNS.count)} requests each per run, first ${n0(TURNS.warmup)} not counted; ${RUNS} runs, latencies pooled (ms):`);
  for (const t of Object.keys(turns)) {
    say(`  ${t.padEnd(9)} p50 ${f3(pooledAt(t, 0.5))} p99 ${f3(pooledAt(t, 0.99))} p99.9 ${f3(pooledAt(t, 0.999))} (${n0(pooled[t].length)} requests); per run p99 ${turns[t].map((r) => f3(r.p99)).join(' ')}; failed ${failureText(turns[t])}`);
  }
  say(`  mesh − plain: p50 ${signed3(pooledAt('mesh', 0.5) - pooledAt('plain', 0.5))}, p99 ${signed3(pooledAt('mesh', 0.99) - pooledAt('plain', 0.99))}; control − plain (noise): p50 ${signed3(pooledAt('control', 0.5) - pooledAt('plain', 0.5))}, p99 ${signed3(pooledAt('control', 0.99) - pooledAt('plain', 0.99))}`);
  say();
  const m = (k, f) => median(mem[k].map((x) => x[f]));
  say(`memory, read in a mesh block about 3/4 into each fixed-rate run (MiB):`);
  say('  resident = pages resident in the sidecar\'s processes, each page once (as a container counts them);');
  say('  sum = VmRSS summed over its processes (counts the pages they share twice); PSS = proportional share');
  for (const k of ['outbound', 'inbound']) {
    const last = mem[k][mem[k].length - 1];
    say(`  ${k.padEnd(8)} sidecar resident ${f2(m(k, 'union'))}; sum ${f2(m(k, 'rss'))} (${last.each.map((e) => f2(e.rss)).join(' + ')}); PSS ${f2(m(k, 'pss'))}`);
  }
  say(`  app (Node) resident ${f2(m('app', 'union'))}; PSS ${f2(m('app', 'pss'))}`);
  say(`CPU at ${n0(RATE.rps)} req/s (vCPU): outbound sidecar ${f3(median(cpu.outbound))}, inbound sidecars ${f3(median(cpu.inbound))} (each: its CPU time over the blocks it carried traffic in, mesh and HTTPRoute), app ${f3(median(cpu.app))}`);
  say();

  const otherCpu = Math.max(0, (others.busy - others.ours) / others.seconds);
  say(`other processes on the machine during the loads: ${f2(otherCpu)} of ${os.availableParallelism()} CPUs busy on average (all busy CPU time less the benchmark's own)`);
  say();

  return {
    perRequest,
    otherCpu,
    direct: { rps: median(sat.direct.map((r) => r.rps)), p50: median(rate.direct.map((r) => r.p50)), p99: median(rate.direct.map((r) => r.p99)) },
    mesh: { rps: median(sat.mesh.map((r) => r.rps)), p50: median(rate.mesh.map((r) => r.p50)), p99: median(rate.mesh.map((r) => r.p99)) },
    throughputRatio: median(satRatios),
    bare: { rps: median(sat.bare.map((r) => r.rps)), ratio: median(bareRatios), meshRatio: median(sat.mesh.map((r, i) => r.rps / sat.bare[i].rps)) },
    // Retries, a connection pool, outlier detection, an ALLOW policy and a rate limit on the path, against the plain route.
    policies: { rps: median(sat.policies.map((r) => r.rps)), ratioToPlain: median(sat.policies.map((r, i) => r.rps / sat.mesh[i].rps)) },
    // The HTTPRoute path against the VirtualService path: the same HAProxy routes, so the same figures.
    httproute: {
      rps: median(sat.httproute.map((r) => r.rps)),
      ratioToVirtualService: median(sat.httproute.map((r, i) => r.rps / sat.mesh[i].rps)),
      addedP50: median(added('p50', 'httproute')),
      addedP99: median(added('p99', 'httproute')),
    },
    // The mesh path (access log, trace context) against the same sidecars without them, in the same runs.
    telemetry: {
      plainRps: median(sat.plain.map((r) => r.rps)),
      ratioToPlain: median(sat.mesh.map((r, i) => r.rps / sat.plain[i].rps)),
      meshP99: pooledAt('mesh', 0.99),
      plainP99: pooledAt('plain', 0.99),
      addedP50: pooledAt('mesh', 0.5) - pooledAt('plain', 0.5),
      addedP99: pooledAt('mesh', 0.99) - pooledAt('plain', 0.99),
      // Two identical paths: what the comparison cannot tell apart from nothing.
      noiseP99: pooledAt('control', 0.99) - pooledAt('plain', 0.99),
    },
    addedP50: median(added('p50')),
    addedP99: median(added('p99')),
    // The same two hops through bare HAProxy at the same rate: what HAProxy itself adds here.
    bareAddedP99: median(added('p99', 'bare')),
    // Direct runs only: there the generator has its CPU to itself, so its lateness is other processes' doing.
    sendLagP99: median(rate.direct.map((r) => r.sendLagP99)),
    failures: satFailures('mesh') + rateFailures('mesh') + satFailures('direct') + rateFailures('direct') + satFailures('bare') + satFailures('httproute') + satFailures('policies') + rateFailures('httproute') + satFailures('plain') + rateFailures('bare') + turnFailures('mesh') + turnFailures('plain') + turnFailures('control'),
    sidecarRss: Math.max(m('outbound', 'union'), m('inbound', 'union')),
    sidecarRssSum: Math.max(m('outbound', 'rss'), m('inbound', 'rss')),
    sidecarPss: Math.max(m('outbound', 'pss'), m('inbound', 'pss')),
    appRss: m('app', 'union'),
    sidecarCpu: Math.max(median(cpu.outbound), median(cpu.inbound)),
    appCpu: median(cpu.app),
  };
}

// ------------------------------------------------------------------ 2. a weight change to every sidecar

async function benchApply(ca) {
  const dir = path.join(tmp, 'apply');
  let weights = [50, 50];
  let revision = 1;
  const model = loadPolicy(fleetPolicy(PODS, weights));
  const specs = api.desiredPods(model);
  const app = await startApp(specs.length, undefined);
  const pods = await placePods(model, dir, ca, app.ports);
  await startSidecars(pods, api.compileMesh(model, { pods }, { revision }), 4);
  const routeId = `vs:${NS}:web:split`;

  /** Compiles the new weights for `targets` (the whole mesh or one pod) and applies them; ms per phase. */
  async function change(targets) {
    revision += 1;
    const w1 = 10 + ((revision * 37) % 81);
    weights = [w1, 100 - w1];
    const t0 = process.hrtime.bigint();
    const next = loadPolicy(fleetPolicy(PODS, weights));
    const compiled = targets.length === pods.length
      ? api.compileMesh(next, { pods }, { revision }).sidecars
      : targets.map((p) => api.compileSidecar(next, p, pods, { revision }));
    const t1 = process.hrtime.bigint();
    const results = await Promise.all(targets.map((p, i) => api.applyProxyConfig(p, compiled[i], { timeoutMs: 10_000 })));
    const t2 = process.hrtime.bigint();
    await Promise.all(targets.map((p) => api.waitForRevision(p.ports.admin, revision, { timeoutMs: 10_000 })));
    const t3 = process.hrtime.bigint();
    const wrong = results.filter((r) => r.action !== 'runtime');
    if (wrong.length) throw new Error(`a weight change was not applied through the runtime API: ${wrong.map((r) => r.action).join(', ')}`);
    const ms = (a, b) => Number(b - a) / 1e6;
    return { compile: ms(t0, t1), push: ms(t1, t2), confirm: ms(t2, t3), total: ms(t0, t3) };
  }

  const one = [];
  const all = [];
  for (let i = 0; i < APPLY_ROUNDS; i++) {
    if (i % 2) {
      all.push(await change(pods));
      one.push(await change([pods[0]]));
    } else {
      one.push(await change([pods[0]]));
      all.push(await change(pods));
    }
  }
  // A last change to all, then read every sidecar's weights back through the runtime API.
  all.push(await change(pods));
  const states = await Promise.all(pods.map((p) => new api.RuntimeApi(p.paths.runtimeSocket).meshState()));
  const serving = states.filter((s) => s.revision === revision && JSON.stringify((s.routes.get(routeId) ?? []).map((b) => b.weight)) === JSON.stringify(weights)).length;
  if (serving !== pods.length) throw new Error(`only ${serving} of ${pods.length} sidecars serve revision ${revision} with weights ${weights.join('/')}`);

  const med = (list, k) => median(list.map((x) => x[k]));
  say(`weight change through the runtime API (${PODS} pods: web v1 × ${Math.ceil(PODS / 2)}, v2 × ${PODS - Math.ceil(PODS / 2)}; one route, two subsets; ${APPLY_ROUNDS} rounds each), ms:`);
  say(`  1 sidecar    total ${one.map((x) => f2(x.total)).join(' ')}; median compile ${f2(med(one, 'compile'))} + push ${f2(med(one, 'push'))} + confirm ${f2(med(one, 'confirm'))}`);
  say(`  ${String(PODS).padEnd(2)} sidecars  total ${all.map((x) => f2(x.total)).join(' ')}; median compile ${f2(med(all, 'compile'))} + push ${f2(med(all, 'push'))} + confirm ${f2(med(all, 'confirm'))}`);
  say(`  read back: ${serving}/${pods.length} sidecars serve revision ${revision} with weights ${weights.join('/')}`);
  say();
  return { one: med(one, 'total'), all: med(all, 'total') };
}

// ------------------------------------------------------------------ summary

function summary(p, a, bin, load) {
  const rows = [];
  const row = (figure, baseline, measured, ratio, target, ok, note = '') => rows.push({ figure, baseline, measured, ratio, target, verdict: ok === null ? (target ? 'UNSURE' : '') : ok ? 'ok' : 'MISSED', note });
  const okTp = p.throughputRatio >= TARGETS.throughputRatio;
  // The generator's own lateness in writing requests (in the direct runs) is scheduling noise from other
  // processes: when its p99 passes BUSY_LAG_MS, a sub-millisecond difference of p99s is lost in that noise.
  const busy = p.sendLagP99 > BUSY_LAG_MS;
  const okP99 = busy ? null : p.addedP99 <= TARGETS.addedP99Ms;
  const okRss = p.sidecarRss <= TARGETS.sidecarRssMiB;
  const okApply = a.all <= TARGETS.applyMs;
  row('throughput, saturation', `direct ${n0(p.direct.rps)} req/s`, `${n0(p.mesh.rps)} req/s`, `${(p.throughputRatio * 100).toFixed(0)}% of direct`, `>= ${TARGETS.throughputRatio * 100}%`, okTp);
  row('throughput, bare HAProxy', `direct ${n0(p.direct.rps)} req/s`, `${n0(p.bare.rps)} req/s`, `${(p.bare.ratio * 100).toFixed(0)}% of direct`, '', null, 'the same two hops with mTLS and nothing else');
  const okBare = p.bare.meshRatio >= TARGETS.meshOfBare;
  row('throughput, sidecars vs bare', `bare ${n0(p.bare.rps)} req/s`, `${n0(p.mesh.rps)} req/s`, `${(p.bare.meshRatio * 100).toFixed(0)}% of bare HAProxy`, `>= ${TARGETS.meshOfBare * 100}%`, okBare);
  const okPolicies = p.policies.ratioToPlain >= 1 - TARGETS.policiesWithin;
  row('throughput, with policies', `plain route ${n0(p.mesh.rps)} req/s`, `${n0(p.policies.rps)} req/s`, `${(p.policies.ratioToPlain * 100).toFixed(0)}% of plain`, `>= ${(1 - TARGETS.policiesWithin) * 100}%`, okPolicies, `connection pool, outlier detection, ALLOW policy, rate limit; outbound ${f2(p.perRequest.outboundPolicies)} + inbound ${f2(p.perRequest.inboundPolicies)} µs CPU per request`);
  const okHttpRoute = Math.abs(p.httproute.ratioToVirtualService - 1) <= TARGETS.httpRouteWithin;
  row('throughput, HTTPRoute path', `VirtualService ${n0(p.mesh.rps)} req/s`, `${n0(p.httproute.rps)} req/s`, `${(p.httproute.ratioToVirtualService * 100).toFixed(0)}% of VirtualService`, `within ±${TARGETS.httpRouteWithin * 100}%`, okHttpRoute, `added latency p50 ${signed3(p.httproute.addedP50)} ms, p99 ${signed3(p.httproute.addedP99)} ms (VirtualService: ${signed3(p.addedP50)}, ${signed3(p.addedP99)})`);
  const okTelemetry = p.telemetry.ratioToPlain >= 1 - TARGETS.telemetryWithin;
  row('throughput, metrics+tracing', `plain sidecars ${n0(p.telemetry.plainRps)} req/s`, `${n0(p.mesh.rps)} req/s`, `${(p.telemetry.ratioToPlain * 100).toFixed(0)}% of plain`, `>= ${(1 - TARGETS.telemetryWithin) * 100}%`, okTelemetry, `access log + trace context: outbound ${f2(p.perRequest.outbound - p.perRequest.plainOutbound)} + inbound ${f2(p.perRequest.inbound - p.perRequest.plainInbound)} µs CPU per request; the agent's Istio metrics ${f2(p.perRequest.agentMetrics)} µs, off the path`);
  // Two identical paths differ by the comparison's noise: the target is met when the added p99 with that
  // noise on top is within it, missed when it is past it with the noise taken off, and not judged between.
  const noise = Math.abs(p.telemetry.noiseP99);
  const telemetryNoisy = !busy && p.telemetry.addedP99 + noise > TARGETS.telemetryAddedP99Ms && p.telemetry.addedP99 - noise <= TARGETS.telemetryAddedP99Ms;
  const okTelemetryP99 = busy || telemetryNoisy ? null : p.telemetry.addedP99 + noise <= TARGETS.telemetryAddedP99Ms;
  row('latency p99, metrics+tracing', `plain sidecars ${f3(p.telemetry.plainP99)} ms`, `${f3(p.telemetry.meshP99)} ms`, `${signed3(p.telemetry.addedP99)} ms added`, `<= +${TARGETS.telemetryAddedP99Ms} ms`, okTelemetryP99, `p50 ${signed3(p.telemetry.addedP50)} ms; two identical paths differ by ${signed3(p.telemetry.noiseP99)} ms at p99 (the comparison's noise${telemetryNoisy ? ': the target lies within it' : ''}); the paths take turns request by request, latencies pooled over the runs`);
  row('latency p50 @1,000 rps', `direct ${f3(p.direct.p50)} ms`, `${f3(p.mesh.p50)} ms`, `${signed3(p.addedP50)} ms added`, '', null);
  row('latency p99 @1,000 rps', `direct ${f3(p.direct.p99)} ms`, `${f3(p.mesh.p99)} ms`, `${signed3(p.addedP99)} ms added`, `<= +${TARGETS.addedP99Ms} ms`, okP99, `${busy ? `machine busy: the generator's own send lag p99 was ${f3(p.sendLagP99)} ms; ` : ''}bare HAProxy hops ${signed3(p.bareAddedP99)} ms; Istio 1.20: +${ANCHORS.istioAddedP99Ms} ms`);
  row('sidecar RSS @1,000 rps', `app ${f2(p.appRss)} MiB`, `${f2(p.sidecarRss)} MiB`, `${f2(p.sidecarRss / p.appRss)}x app`, `<= ${TARGETS.sidecarRssMiB} MiB`, okRss, `every process of the sidecar, shared pages once (sum ${f2(p.sidecarRssSum)}, PSS ${f2(p.sidecarPss)}); Istio Envoy: ${ANCHORS.istioSidecarMiB} MB`);
  row('CPU per request, saturation', `app ${f2(p.perRequest.appDirect)} µs`, `sidecars ${f2(p.perRequest.outbound + p.perRequest.inbound)} µs`, `${f2((p.perRequest.outbound + p.perRequest.inbound) / p.perRequest.appDirect)}x app`, '', null, `outbound ${f2(p.perRequest.outbound)} + inbound ${f2(p.perRequest.inbound)}; bare HAProxy ${f2(p.perRequest.bareOutbound)} + ${f2(p.perRequest.bareInbound)}`);
  row('sidecar CPU @1,000 rps', `app ${f3(p.appCpu)} vCPU`, `${f3(p.sidecarCpu)} vCPU`, `${f2(p.sidecarCpu / p.appCpu)}x app`, '', null, `Istio 1.24: ${ANCHORS.istioSidecarVcpu} vCPU`);
  row(`apply weights, ${PODS} pods`, `1 sidecar ${f2(a.one)} ms`, `${f2(a.all)} ms`, `${f2(a.all / a.one)}x one`, `<= ${TARGETS.applyMs} ms`, okApply);
  const cols = ['figure', 'baseline', 'measured', 'ratio', 'target', 'verdict', 'note'];
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(c.length, ...rows.map((r) => r[c].length))]));
  const fmtRow = (r) => cols.map((c) => r[c].padEnd(width[c])).join('  ').trimEnd();
  say('== data plane summary ==');
  say(`HAProxy ${bin.version.text}, Node ${process.version}, ${os.availableParallelism()} CPUs; load average ${load.start.map(f2).join(' ')} at start, ${load.end.map(f2).join(' ')} at end; other processes kept ${f2(p.otherCpu)} CPUs busy during the loads`);
  say(`medians of ${RUNS} runs per path (saturation: runs alternate; 1,000 rps: the paths take turns in ${n0(RATE.blockMs)} ms blocks within each run); ratios and added latency: medians of the per-run pairs, but metrics and tracing's added latency: pooled over runs in which the paths take turns request by request`);
  say(PIN ? 'CPU 0: load generator + outbound sidecar; CPU 1: inbound sidecars + app; workload: a tiny Node app answering 1 KiB' : 'processes not pinned; workload: a tiny Node app answering 1 KiB');
  say(fmtRow(Object.fromEntries(cols.map((c) => [c, c]))));
  for (const r of rows) say(fmtRow(r));
  if (p.failures) say(`failed requests during the loads: ${p.failures}`);
  const missed = [!okTp && 'throughput', !okBare && 'sidecars against bare HAProxy', !okPolicies && 'throughput with policies', !okHttpRoute && 'HTTPRoute path throughput', !okTelemetry && 'throughput with metrics and tracing', okTelemetryP99 === false && 'added p99 of metrics and tracing', okP99 === false && 'added p99', !okRss && 'sidecar RSS', !okApply && 'apply'].filter(Boolean);
  if (missed.length) say(`targets missed: ${missed.join(', ')}`);
  if (busy) say('added p99 not judged: other processes kept the machine too busy; run again on a quiet machine');
  else if (telemetryNoisy) say('added p99 of metrics and tracing not judged: its target lies within what two identical paths differed by; run again on a quiet machine');
  if (!missed.length && !busy && !telemetryNoisy) say('every target met');
  return missed.length || busy || telemetryNoisy || p.failures ? 1 : 0;
}

// ------------------------------------------------------------------ main

async function main() {
  api = await loadApi();
  const bin = await api.findHaproxy();
  const start = loadavg();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-bench-dp-'));
  say(`meshctl data-plane benchmark${QUICK ? ' (quick mode: a smoke run, figures are not meaningful)' : ''}`);
  say(`HAProxy ${bin.version.text} at ${bin.path}; Node ${process.version}; ${os.availableParallelism()} CPUs; load average ${start.map(f2).join(' ')}`);
  say();
  const ca = await api.createMeshCa();
  const p = await benchPath(ca, bin);
  // The path's processes are stopped before the fleet starts: neither measurement disturbs the other.
  for (const t of proxies.splice(0)) await api.stopProxy(t);
  for (const c of [...children]) await stopChild(c);
  const a = await benchApply(ca);
  return summary(p, a, bin, { start, end: loadavg() });
}

let code = 2;
try {
  code = await main();
} catch (err) {
  // Interrupted: the measurement in progress fails because its processes were stopped; say nothing more.
  if (!stopping) process.stderr.write(`benchmark failed: ${err instanceof Error ? err.message : String(err)}\n`);
  code = 2;
} finally {
  await cleanup();
}
process.exit(stopping ? 130 : code);
