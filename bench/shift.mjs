#!/usr/bin/env node
// Benchmark of route shift's change of weights on a live local mesh: 20 caller pods (each with its
// sidecar) calling reviews, which has v1 and v2. Figures:
//   - from a step's decision until every sidecar serves the new weights, as `meshctl route shift -o json`
//     reports it (state written before, weights to every sidecar, state written after): target ≤ 100 ms;
//   - the fan-out alone (new weights to every sidecar, in process), as a ratio to the same write to one
//     sidecar: how much the pod count costs.
//
//   node bench/shift.mjs [--pods 20] [--runs 30] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TARGET_MS = 100;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'run.js');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const pods = opt('--pods', 20);
const runs = opt('--runs', 30);
const keep = args.includes('--keep');

const { homeLayout } = await import(path.join(root, 'dist/src/lib/mesh/home.js'));
const { readApplied } = await import(path.join(root, 'dist/src/lib/mesh/state.js'));
const { resolveShiftRoute } = await import(path.join(root, 'dist/src/lib/shift/route.js'));
const { shiftTarget } = await import(path.join(root, 'dist/src/lib/shift/target.js'));
const { LocalTarget } = await import(path.join(root, 'dist/src/lib/target/local.js'));

function meshctl(argv, okCodes = [0]) {
  const r = spawnSync(process.execPath, [bin, ...argv], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
  if (!okCodes.includes(r.status)) {
    process.stderr.write(`meshctl ${argv.join(' ')} exited ${r.status}:\n${r.stderr}\n`);
    throw new Error(`meshctl ${argv[0]} failed`);
  }
  return r;
}

const quantile = (values, q) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const median = (values) => quantile(values, 0.5);
const ms = (n) => `${n.toFixed(1)} ms`;

const APP = `import http from 'node:http';
const version = process.env.VERSION || 'v1';
http.createServer((req, res) => { req.resume(); res.writeHead(200, { 'x-version': version }); res.end(version); })
  .listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function policy(appFile) {
  const workload = (name, version, replicas) => `apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: { name: ${name}, namespace: default, labels: { app: ${name.startsWith('reviews') ? 'reviews' : 'caller'}, version: ${version} } }
spec: { command: [node, ${JSON.stringify(appFile)}], env: { VERSION: ${version} }, port: 9080, replicas: ${replicas}, serviceAccount: ${name.startsWith('reviews') ? 'reviews' : 'caller'} }
---
`;
  return `${workload('caller', 'v1', pods)}${workload('reviews-v1', 'v1', 1)}${workload('reviews-v2', 'v2', 1)}apiVersion: v1
kind: Service
metadata: { name: caller, namespace: default }
spec: { selector: { app: caller }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - name: split
    route:
    - { destination: { host: reviews, subset: v1 }, weight: 100 }
    - { destination: { host: reviews, subset: v2 }, weight: 0 }
`;
}

/** The same mesh, restricted to the first of its proxies (the baseline: one sidecar). */
class OneSidecar extends LocalTarget {
  async localProxies() {
    return (await super.localProxies()).filter((p) => p.name === 'caller-0');
  }
}

async function timeWrites(target, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const v2 = (i % 9) * 10 + 10;
    const weights = { v1: 100 - v2, v2 };
    const started = process.hrtime.bigint();
    await target.writeWeights(weights);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    // Not timed: every sidecar really serves them.
    const served = await target.readWeights();
    const off = served.find((s) => !s.weights || s.weights.v1 !== weights.v1 || s.weights.v2 !== weights.v2);
    if (off) throw new Error(`${off.proxy} serves ${JSON.stringify(off.weights)} after writing ${JSON.stringify(weights)}`);
  }
  return times;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-bench-shift-'));
const home = path.join(dir, 'home');
let installed = false;
try {
  const appFile = path.join(dir, 'app.mjs');
  writeFileSync(appFile, APP);
  writeFileSync(path.join(dir, 'mesh.yaml'), policy(appFile));
  meshctl(['install', '--home', home]);
  installed = true;
  const started = Date.now();
  meshctl(['apply', '-f', path.join(dir, 'mesh.yaml'), '--home', home, '--timeout', '180s']);
  const layout = homeLayout(home);
  const resolved = resolveShiftRoute((await readApplied(layout)).resources, { host: 'reviews', namespace: 'default', to: 'v2' });
  const all = shiftTarget(new LocalTarget(layout), resolved.route);
  const sidecars = (await all.proxies()).length;
  console.log(`mesh: ${pods} pods calling reviews (v1, v2), ${sidecars} sidecars carry its route; ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // 1. The whole change of weights as route shift makes it, at each of ten steps.
  const steps = Array.from({ length: 10 }, (_, i) => (i + 1) * 10).join(',');
  const shift = meshctl(['route', 'shift', 'reviews', '--to', 'v2', '--steps', steps, '--interval', '300ms', '--min-requests', '1', '--on-no-traffic', 'continue', '-o', 'json', '--home', home]);
  const events = shift.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const served = events.filter((e) => e.type === 'step').map((e) => e.servedMs);
  if (!events.some((e) => e.type === 'promoted')) throw new Error('the shift did not end promoted');

  // 2. The fan-out alone, against one sidecar.
  const fanOut = await timeWrites(all, runs);
  const one = await timeWrites(shiftTarget(new OneSidecar(layout), resolved.route), runs);
  const ratio = median(fanOut) / median(one);

  const verdict = quantile(served, 0.9) <= TARGET_MS ? 'within' : 'ABOVE';
  console.log(`step decision → every sidecar serves (route shift, ${served.length} steps): median ${ms(median(served))}, p90 ${ms(quantile(served, 0.9))}, max ${ms(Math.max(...served))} — ${verdict} the ${TARGET_MS} ms target`);
  console.log(`weights to ${sidecars} sidecars: median ${ms(median(fanOut))}, p90 ${ms(quantile(fanOut, 0.9))} (${runs} runs)`);
  console.log(`weights to 1 sidecar:   median ${ms(median(one))}, p90 ${ms(quantile(one, 0.9))} (${runs} runs)`);
  console.log(`ratio ${sidecars} sidecars / 1 sidecar: ${ratio.toFixed(2)}× (${(median(fanOut) / sidecars).toFixed(2)} ms per sidecar)`);
  process.exitCode = verdict === 'within' ? 0 : 1;
} finally {
  if (installed && !keep) meshctl(['uninstall', '--yes', '--home', home], [0, 1, 2, 3]);
  if (!keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
