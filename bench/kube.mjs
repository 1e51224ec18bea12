#!/usr/bin/env node
// Benchmark of a shift step on a cluster, against the stand-in API server over TLS and a real Prometheus
// scraping a test exporter of Istio's metrics. A step is what the shift's runner does at each change of
// weights on the Kubernetes target, through the same seam (the annotation record store, the shift's view
// of the target): the record written with the change pending (read, then one server-side apply), the
// weights applied, the record written again, the weights recorded in the applied policy, then one gate
// window (the route's weights read back, Prometheus' queries for both subsets). Every API request and
// PromQL query the step makes is logged, then the same requests are made bare by a minimal client
// (node:https with the same keep-alive agent settings, fetch for Prometheus) in the same run, on a twin
// route so that their applies conflict with nothing. Target: a step's own overhead ≤ 1.5× those bare
// requests. Then `meshctl proxy-status` over 50 sidecar pods (the real binary: pods listed, istiod's
// /debug/syncz through the pod proxy) beside the same requests made bare. Target: ≤ 2 s. Last, the
// start-up of `meshctl --version` and of `validate` on one file, which must load none of the cluster
// client.
//
//   node bench/kube.mjs [--runs 50]
import { execFile, execFileSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TARGET_RATIO = 1.5;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 50;

const { StandInApiServer, writeKubeconfig } = await import(path.join(root, 'dist/test/support/kube-apiserver.js'));
const { IstioExporter, startPrometheus } = await import(path.join(root, 'dist/test/support/istio-metrics.js'));
const { KubeClient } = await import(path.join(root, 'dist/src/lib/kube/client.js'));
const { KubernetesTarget } = await import(path.join(root, 'dist/src/lib/target/kubernetes.js'));
const { resolveShiftRoute } = await import(path.join(root, 'dist/src/lib/shift/route.js'));
const { shiftTarget } = await import(path.join(root, 'dist/src/lib/shift/target.js'));
const { newRecord } = await import(path.join(root, 'dist/src/lib/shift/machine.js'));
const { buildPlan } = await import(path.join(root, 'dist/src/lib/shift/plan.js'));

const VS = 'networking.istio.io/v1';
const route0 = (name) => ({ apiVersion: VS, kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 100 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 0 }] }] } });
const server = await StandInApiServer.start();
server.seed(
  { apiVersion: VS, kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'default' }, spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } },
  route0('reviews'),
);
const exporter = new IstioExporter('reviews', 'default');
await exporter.start();
exporter.record('v1', 200, 1000, 10);
exporter.record('v2', 200, 1000, 10);
const prometheus = await startPrometheus([exporter.port]);
const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-bench-kube-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// The CPU time of the child processes this one has waited for (Linux: cutime + cstime of /proc/self/stat),
// which a busy machine disturbs far less than their wall time.
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const childCpuMs = () => {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / ticksPerSecond;
};
try {
  const kubeconfig = writeKubeconfig(path.join(dir, 'config'), server);
  const client = KubeClient.fromFlags({ kubeconfig });
  const target = new KubernetesTarget(client, { prometheusUrl: prometheus.url });
  const host = 'reviews.default.svc.cluster.local';
  const { resources } = await target.applied();
  const { route, baseline } = resolveShiftRoute(resources, { host: 'reviews', namespace: 'default', to: 'v2' });
  const view = shiftTarget(target, route);
  const store = target.shiftRecords(host);
  const record = newRecord(route, buildPlan({ steps: [40, 60] }), baseline, { manual: false, owner: { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() } });
  await store.write(record);

  // The PromQL queries a step makes, as the twin replays them.
  const realFetch = globalThis.fetch;
  let queries = null;
  globalThis.fetch = (url, init) => {
    queries?.push(String(url));
    return realFetch(url, init);
  };
  const meshctlStep = async (i) => {
    const weights = i % 2 ? { v1: 60, v2: 40 } : { v1: 40, v2: 60 };
    const cursor = i % 2;
    await store.locked(async () => {
      await store.read();
      record.pending = { event: 'step', cursor, weights, at: new Date().toISOString() };
      await store.write(record);
    });
    await view.writeWeights(weights);
    await store.locked(async () => {
      await store.read();
      record.pending = null;
      record.cursor = cursor;
      record.served = weights;
      await store.write(record);
    });
    await view.storeWeights(weights, null);
    const now = Date.now();
    await Promise.all([view.readFigures(now - 10_000, now), view.readWeights()]);
  };

  // One step, logged: the requests a step makes, to replay bare on the twin route.
  await meshctlStep(0);
  server.requests.length = 0;
  queries = [];
  await meshctlStep(1);
  const stepRequests = server.requests.map((r) => ({ method: r.method, path: r.path.replace('/virtualservices/reviews', '/virtualservices/reviews-bare'), query: r.query, contentType: r.contentType, body: r.body }));
  const stepQueries = queries;
  queries = null;
  server.seed(route0('reviews-bare'));

  const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca: readFileSync(server.caFile) });
  const call = (method, p, body, type) => new Promise((resolve, reject) => {
    const req = https.request(server.url + p, { method, agent, headers: { authorization: 'Bearer stand-in-token', accept: 'application/json', ...(body ? { 'content-type': type, 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve(text ? JSON.parse(text) : null));
    });
    req.on('error', reject);
    req.end(body);
  });
  const bareStep = async () => {
    // In the step's order: its requests one after the other, the gate window's queries together.
    for (const r of stepRequests) {
      const body = r.body === undefined ? undefined : JSON.stringify({ ...r.body, metadata: { ...r.body.metadata, name: 'reviews-bare', resourceVersion: undefined } });
      await call(r.method, `${r.path}?${new URLSearchParams(r.query)}`, body, r.contentType);
    }
    await Promise.all(stepQueries.map((u) => realFetch(u).then((res) => res.json())));
  };

  // Each run times a meshctl step then the bare requests, back to back, so that the machine's load
  // (busy or not) falls on both alike; the ratio is of the medians.
  // CPU time too (this process: the client and the in-process stand-in alike; Prometheus runs apart),
  // which a busy machine disturbs far less than wall time.
  const meshctlRuns = [];
  const bareRuns = [];
  const meshctlCpu = [];
  const bareCpu = [];
  const cpuMs = (c) => (c.user + c.system) / 1000;
  await bareStep();
  for (let i = 0; i < runs * 2; i++) {
    let t = process.hrtime.bigint();
    let c = process.cpuUsage();
    await meshctlStep(i);
    meshctlRuns.push(Number(process.hrtime.bigint() - t) / 1e6);
    meshctlCpu.push(cpuMs(process.cpuUsage(c)));
    t = process.hrtime.bigint();
    c = process.cpuUsage();
    await bareStep();
    bareRuns.push(Number(process.hrtime.bigint() - t) / 1e6);
    bareCpu.push(cpuMs(process.cpuUsage(c)));
  }
  const meshctlMs = median(meshctlRuns);
  const bareMs = median(bareRuns);
  const ratio = meshctlMs / bareMs;
  console.log(`shift step on the stand-in (${stepRequests.length} API requests: record, apply, record, applied policy, read back; ${stepQueries.length} PromQL queries), median of ${runs * 2}, each beside its bare twin:`);
  console.log(`  meshctl: ${meshctlMs.toFixed(1)} ms   bare requests: ${bareMs.toFixed(1)} ms   ratio ${ratio.toFixed(2)} (target ≤ ${TARGET_RATIO})`);
  console.log(`  CPU time: meshctl ${median(meshctlCpu).toFixed(1)} ms   bare ${median(bareCpu).toFixed(1)} ms   ratio ${(median(meshctlCpu) / median(bareCpu)).toFixed(2)}`);
  // proxy-status over 50 pods.
  const pods = Array.from({ length: 50 }, (_, i) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `app-${i}`, namespace: 'default', labels: { app: `app-${i % 10}` } },
    spec: { containers: [{ name: 'app' }, { name: 'istio-proxy' }] }, status: { phase: 'Running', containerStatuses: [{ name: 'istio-proxy', ready: true }] },
  }));
  server.seed({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'istiod-1', namespace: 'istio-system', labels: { app: 'istiod' } }, spec: { containers: [{ name: 'discovery' }] }, status: { phase: 'Running' } }, ...pods);
  const syncz = JSON.stringify(pods.map((p) => ({ proxy: `${p.metadata.name}.default`, cluster_sent: 'a', cluster_acked: 'a', listener_sent: 'b', listener_acked: 'b', route_sent: 'c', route_acked: 'c', endpoint_sent: 'd', endpoint_acked: 'd' })));
  const istiod = http.createServer((_req, res) => res.end(syncz));
  await new Promise((r) => istiod.listen(0, '127.0.0.1', r));
  server.podProxies.set('istio-system/istiod-1:15014', istiod.address().port);
  const statusRuns = Math.max(5, Math.round(runs / 5));
  const cli = [];
  const cliCpu = [];
  for (let i = 0; i < statusRuns; i++) {
    const t = process.hrtime.bigint();
    const c = childCpuMs();
    await new Promise((resolve, reject) => {
      const child = execFile(process.execPath, [path.join(root, 'bin/run.js'), 'proxy-status', '--kubeconfig', kubeconfig, '-o', 'json'], (err, out) => (err && err.code !== 1 ? reject(err) : resolve(out)));
      void child;
    });
    cli.push(Number(process.hrtime.bigint() - t) / 1e6);
    cliCpu.push(childCpuMs() - c);
  }
  const bare = [];
  for (let i = 0; i < statusRuns; i++) {
    const t = process.hrtime.bigint();
    await call('GET', '/api/v1/pods');
    await call('GET', '/api/v1/pods');
    await call('GET', '/api/v1/namespaces/istio-system/pods?labelSelector=app%3Distiod');
    await new Promise((resolve) => https.get(`${server.url}/api/v1/namespaces/istio-system/pods/istiod-1:15014/proxy/debug/syncz`, { agent, headers: { authorization: 'Bearer stand-in-token' } }, (res) => res.resume().on('end', resolve)));
    bare.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  cli.sort((a, b) => a - b);
  bare.sort((a, b) => a - b);
  console.log(`proxy-status over 50 pods (the meshctl process, start-up included), median of ${statusRuns}:`);
  console.log(`  meshctl: ${cli[Math.floor(cli.length / 2)].toFixed(0)} ms (target ≤ 2000), ${median(cliCpu).toFixed(0)} ms of CPU   bare requests: ${bare[Math.floor(bare.length / 2)].toFixed(1)} ms`);
  istiod.close();
  client.close();
  agent.destroy();

  // Start-up: --version and validate load none of the cluster client (compare with the figures before it).
  const policy = path.join(dir, 'policy.yaml');
  writeFileSync(policy, JSON.stringify(route0('reviews')));
  const startup = (argv) => {
    const wall = [];
    const cpu = [];
    for (let i = 0; i < Math.max(5, Math.round(runs / 5)); i++) {
      const t = process.hrtime.bigint();
      const c = childCpuMs();
      try {
        execFileSync(process.execPath, argv, { stdio: 'ignore' });
      } catch {
        // validate's exit 1 on findings is an answer too.
      }
      wall.push(Number(process.hrtime.bigint() - t) / 1e6);
      cpu.push(childCpuMs() - c);
    }
    return `${median(wall).toFixed(0)} ms (${median(cpu).toFixed(0)} ms of CPU)`;
  };
  const bin = path.join(root, 'bin/run.js');
  console.log('start-up, median (the Kubernetes client must not load: compare with node -e 0 and with these figures before):');
  console.log(`  node -e 0 ${startup(['-e', '0'])}   meshctl --version ${startup([bin, '--version'])}   meshctl validate (one file) ${startup([bin, 'validate', policy])}`);
} finally {
  await prometheus.stop();
  await exporter.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
