#!/usr/bin/env node
// Benchmark of `meshctl proxy-status`: the whole command (a process, as a pipeline runs it) over a
// local mesh of 50 pods, each an echo app beside a real HAProxy sidecar, against the same command over
// a mesh of one pod. Target: at most 500 ms of wall time for the 50 pods, with the proxies asked a
// bounded number at a time (the command's default concurrency).
//
// The meshes are homes run without their agent (the test helper that starts sidecars through the data
// plane directly); proxy-status reads the home and asks the proxies, so the agent plays no part.
//
//   npm run build && node bench/inspect.mjs [--pods N] [--runs N]
//
// Exit code: 0 target met, 1 target missed, 2 the benchmark could not run.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fmt, median, timeProcess } from './harness.mjs';

const TARGET_MS = 500;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'run.js');
const args = process.argv.slice(2);
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const PODS = Math.max(2, Number(flag('--pods')) || 50);
const RUNS = Math.max(1, Number(flag('--runs')) || 7);

/** `pods` replicas spread over five services, each service routed to by every sidecar. */
function policy(pods) {
  const services = 5;
  const docs = [];
  for (let s = 0; s < services; s++) {
    const replicas = Math.floor(pods / services) + (s < pods % services ? 1 : 0);
    if (!replicas) continue;
    docs.push(`apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: { name: svc${s}, namespace: default, labels: { app: svc${s}, version: v1 } }
spec: { command: [node, app.js], port: 8080, replicas: ${replicas}, serviceAccount: svc${s} }
---
apiVersion: v1
kind: Service
metadata: { name: svc${s}, namespace: default }
spec: { selector: { app: svc${s} }, ports: [{ name: http, port: 8080 }] }`);
  }
  return docs.join('\n---\n');
}

const { startLocalHome } = await import(pathToFileURL(path.join(root, 'dist', 'test', 'support', 'local-home.js')).href);

const homes = [];
let stopping = false;
async function stopAll() {
  if (stopping) return;
  stopping = true;
  await Promise.all(homes.map((h) => h.stop().catch(() => undefined)));
}
process.on('SIGINT', () => {
  stopAll().finally(() => process.exit(130));
});

function proxyStatus(home) {
  return timeProcess([process.execPath, bin, 'proxy-status', '--home', home, '-o', 'json'], { okCodes: [0] });
}

function runs(home) {
  proxyStatus(home); // warm the file cache
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push(proxyStatus(home));
  return times;
}

try {
  const started = Date.now();
  const one = await startLocalHome(policy(1));
  homes.push(one);
  const many = await startLocalHome(policy(PODS), { concurrency: 8 });
  homes.push(many);
  console.log(`meshes up in ${fmt(Date.now() - started)}: ${many.pods.length} pods and 1 pod, each pod an echo app beside its HAProxy sidecar`);

  const version = [];
  for (let i = 0; i < RUNS; i++) version.push(timeProcess([process.execPath, bin, '--version']));
  const baseline = runs(one.home);
  const measured = runs(many.home);
  const b = median(baseline);
  const m = median(measured);
  const list = (values) => values.map((v) => v.toFixed(0)).join(' ');
  console.log(`meshctl --version (process start):      median ${fmt(median(version))}`);
  console.log(`proxy-status, 1 pod:                    median ${fmt(b)} (${RUNS} runs: ${list(baseline)} ms)`);
  console.log(`proxy-status, ${many.pods.length} pods:                  median ${fmt(m)}, best ${fmt(Math.min(...measured))} (${RUNS} runs: ${list(measured)} ms)`);
  console.log(`ratio ${many.pods.length} pods / 1 pod: ${(m / b).toFixed(2)}x; target <= ${TARGET_MS} ms for ${many.pods.length} pods: ${m <= TARGET_MS ? 'ok' : 'OVER TARGET'}`);
  process.exitCode = m <= TARGET_MS ? 0 : 1;
} catch (err) {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exitCode = 2;
} finally {
  await stopAll();
}
