#!/usr/bin/env node
// What Prometheus' scrape of a mesh of 50 sidecars costs: the series it holds and how long each scrape
// takes, with the agent's real metrics endpoint (dist/) serving every sidecar's Istio metrics and
// resilience counters from access logs as the sidecars write them, and a real Prometheus scraping one
// target per sidecar from the file the agent writes, as `addons enable prometheus` runs it.
//
// Every sidecar's log holds requests to --upstreams upstreams (2 subsets each; 200, a retried 200, and
// 503 overflows) and from --callers callers (200 and RBAC 403): about bookinfo's label sets. Istio's
// histograms make ~21 samples per label set and histogram, so series grow fast with either.
//
//   npm run build && node bench/scrape.mjs [--pods 50] [--scrapes 4] [--interval 5s] [--upstreams 2] [--callers 2]
//
// Bounded: at most --scrapes scrapes of every target or 90 s; Prometheus and the endpoint are stopped
// and the scratch home removed whatever happens. Exit code: 0 measured, 2 the benchmark could not run.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist', 'src');
const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const PODS = Number(arg('--pods', 50));
const SCRAPES = Number(arg('--scrapes', 4));
const INTERVAL_S = Number(String(arg('--interval', '5s')).replace(/s$/, ''));
const DEADLINE_MS = 90_000;
/** Upstreams each sidecar calls, and callers each one is called by (more of either: more series). */
const CALLED = Number(arg('--upstreams', 2));
const CALLERS = Number(arg('--callers', 2));

const load = (p) => import(pathToFileURL(path.join(dist, p)).href);
const { homeLayout } = await load('lib/mesh/home.js');
const { MeshMetricsEndpoint } = await load('lib/mesh/addons/metrics-endpoint.js');
const { prometheusConfig, findPrometheus, MESH_SCRAPE_JOB } = await load('lib/mesh/addons/prometheus.js');
const { meshPod } = await load('lib/mesh/pods.js');
const { PortAllocator } = await load('lib/mesh/ports.js');

const prometheus = await findPrometheus();
if (!prometheus) {
  console.error('scrape bench: no prometheus on PATH; install it (Debian: apt-get install prometheus) and run again.');
  process.exit(2);
}

const UPSTREAMS = ['reviews', 'ratings', 'details', 'productpage'];
function pods() {
  return Array.from({ length: PODS }, (_, i) => {
    const service = UPSTREAMS[i % UPSTREAMS.length];
    const version = `v${1 + (Math.floor(i / UPSTREAMS.length) % 2)}`;
    return {
      name: `${service}-${version}-${i}`, namespace: 'default', workload: `${service}-${version}`, replica: i, labels: { app: service, version },
      serviceAccount: `bookinfo-${service}`, command: ['true'], env: {}, workingDir: null, ports: { app: 0, inbound: 0, outbound: 0, admin: 0 }, createdAt: new Date().toISOString(),
    };
  });
}

/** A sidecar's log: its outbound requests to every upstream subset, and the inbound ones from five callers. */
function logOf(pod, all) {
  const lines = [];
  const base = { time: '2026-01-01T00:00:00Z', method: 'GET', path: '/x', duration_ms: 4, upstream_ms: 3, bytes: 900, request_bytes: 200, termination: '--', response_flags: '-' };
  let n = 0;
  for (const host of UPSTREAMS.slice(0, CALLED)) {
    for (const subset of ['v1', 'v2']) {
      for (const [status, flags, retries] of [[200, '-', '0'], [503, 'UO', '0'], [200, '-', '1']]) {
        lines.push({ ...base, start_ms: 1_700_000_000_000 + n++, request_id: `r${n}`, proxy: pod.name, direction: 'outbound', source: `spiffe://cluster.local/ns/default/sa/${pod.serviceAccount}`, host, route: `${host}.0`, destination_host: `${host}.default.svc.cluster.local`, destination_subset: subset, backend: `${host}.0:0`, server: `${host}-${subset}-0`, status, retries, response_flags: flags, peer: '-' });
      }
    }
  }
  for (const caller of all.slice(0, CALLERS)) {
    for (const [status, authz] of [[200, '-'], [403, 'rbac_access_denied_matched_policy[none]']]) {
      lines.push({ ...base, start_ms: 1_700_000_000_000 + n++, request_id: `r${n}`, proxy: pod.name, direction: 'inbound', source: `spiffe://cluster.local/ns/default/sa/${caller.serviceAccount}`, host: pod.labels.app, route: '-', destination_host: pod.labels.app, destination_subset: '-', backend: 'inbound_app', server: 'app', status, retries: '0', peer: caller.name, authz, response_flags: status === 429 ? 'RL' : '-' });
    }
  }
  return `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`;
}

async function query(url, q) {
  const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(5000) });
  const body = await r.json();
  if (body.status !== 'success') throw new Error(`${q}: ${body.error}`);
  return body.data.result;
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-scrape-bench-'));
const layout = homeLayout(path.join(dir, 'home'));
const endpoint = new MeshMetricsEndpoint(layout, 'cluster.local', () => undefined);
let child = null;
let exitCode = 0;
try {
  const placed = pods();
  for (const pod of placed) {
    const paths = meshPod(layout, pod).paths;
    await fs.mkdir(path.dirname(paths.accessLog), { recursive: true });
    await fs.writeFile(paths.accessLog, '');
  }
  await endpoint.start();
  await endpoint.setPlacement({ pods: placed, gateways: [] });
  // Written after the placement: the endpoint counts them from their first line.
  for (const pod of placed) await fs.appendFile(meshPod(layout, pod).paths.accessLog, logOf(pod, placed));

  const port = await new PortAllocator().next();
  const settings = { bin: prometheus.bin, version: prometheus.version, port, scrapeIntervalSeconds: INTERVAL_S, enabledAt: new Date().toISOString() };
  const promDir = path.join(dir, 'prometheus');
  await fs.mkdir(path.join(promDir, 'data'), { recursive: true });
  await fs.writeFile(path.join(promDir, 'prometheus.yml'), prometheusConfig(layout, settings).replace('refresh_interval: 30s', 'refresh_interval: 1s'));
  const log = await fs.open(path.join(promDir, 'prometheus.log'), 'w');
  child = spawn(prometheus.bin, [`--config.file=${path.join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', log.fd, log.fd] });
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  const within = () => Date.now() - started < DEADLINE_MS;
  const pause = () => new Promise((r) => setTimeout(r, 250));
  let scrapes = 0;
  while (within()) {
    const up = await query(url, `count_over_time(up{job="${MESH_SCRAPE_JOB}"}[5m])`).catch(() => []);
    // Each target's scrapes so far, failed ones included: the figures below say how many failed.
    scrapes = up.length === PODS ? Math.min(...up.map((s) => Number(s.value[1]))) : 0;
    if (scrapes >= SCRAPES) break;
    await pause();
  }
  if (scrapes < SCRAPES) throw new Error(`Prometheus scraped every one of ${PODS} targets only ${scrapes} times within ${DEADLINE_MS / 1000} s`);
  const range = `[${Math.ceil((Date.now() - started) / 1000)}s]`;
  const series = Number((await query(url, `count({job="${MESH_SCRAPE_JOB}"})`))[0].value[1]);
  const samples = (await query(url, `scrape_samples_scraped{job="${MESH_SCRAPE_JOB}"}`)).map((s) => Number(s.value[1]));
  const durations = (await query(url, `max_over_time(scrape_duration_seconds{job="${MESH_SCRAPE_JOB}"}${range})`)).map((s) => Number(s.value[1]) * 1000);
  const medians = (await query(url, `quantile_over_time(0.5, scrape_duration_seconds{job="${MESH_SCRAPE_JOB}"}${range})`)).map((s) => Number(s.value[1]) * 1000);
  const up = (await query(url, `sum(up{job="${MESH_SCRAPE_JOB}"})`))[0].value[1];
  const failed = (await query(url, `count(min_over_time(up{job="${MESH_SCRAPE_JOB}"}${range}) == 0)`))[0]?.value[1] ?? '0';
  console.log(`Prometheus ${prometheus.version} scraping ${PODS} sidecars' metrics every ${INTERVAL_S}s from the agent's endpoint (${scrapes} scrapes of each):`);
  console.log(`  targets up                         ${up} of ${PODS} (${failed} missed a scrape: the scrape timeout is the interval's, at most 10 s)`);
  console.log(`  series of the job                  ${series} (${(series / PODS).toFixed(0)} per sidecar; samples per scrape: median ${median(samples)})`);
  console.log(`  scrape duration per target         median ${median(medians).toFixed(2)} ms, worst target's worst ${Math.max(...durations).toFixed(2)} ms (scrapes of one round queue on the agent's one thread)`);
} catch (err) {
  console.error(`scrape bench: ${err.message}`);
  exitCode = 2;
} finally {
  endpoint.close();
  if (child && child.exitCode === null) {
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await fs.rm(dir, { recursive: true, force: true });
}
process.exit(exitCode);
