#!/usr/bin/env node
// Benchmark of a shift step on a cluster, against the stand-in API server over TLS and a real Prometheus
// scraping a test exporter of Istio's metrics: meshctl's KubernetesTarget writing a step's weights
// (read the route, one server-side apply with the record), reading them back, and one gate window
// from Prometheus (three PromQL queries), beside the bare cost of the same requests made by a minimal
// client (node:https with the same keep-alive agent settings, fetch for Prometheus) in the same run.
// Target: a step's own overhead ≤ 1.5× the bare requests it makes. Then `meshctl proxy-status` over
// 50 sidecar pods (the real binary: pods listed, istiod's /debug/syncz through the pod proxy) beside the
// same two requests made bare. Target: ≤ 2 s.
//
//   node bench/kube.mjs [--runs 50]
import { execFile } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
const { promqlRange, requestDurationQuery, requestsByCodeQuery, successRateQuery } = await import(path.join(root, 'dist/src/lib/shift/promql.js'));

const VS = 'networking.istio.io/v1';
const server = await StandInApiServer.start();
server.seed(
  { apiVersion: VS, kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'default' }, spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } },
  ...['reviews', 'reviews-bare'].map((name) => ({ apiVersion: VS, kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 100 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 0 }] }] } })),
);
const exporter = new IstioExporter('reviews', 'default');
await exporter.start();
exporter.record('v1', 200, 1000, 10);
exporter.record('v2', 200, 1000, 10);
const prometheus = await startPrometheus([exporter.port]);
const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-bench-kube-'));
try {
  const kubeconfig = writeKubeconfig(path.join(dir, 'config'), server);
  const client = KubeClient.fromFlags({ kubeconfig });
  const target = new KubernetesTarget(client, { prometheusUrl: prometheus.url });
  const host = 'reviews.default.svc.cluster.local';
  const ref = { host, virtualService: { namespace: 'default', name: 'reviews' }, index: 0, name: '' };
  const traffic = target.traffic({ host });

  const meshctlStep = async (i) => {
    const w = i % 2 ? 40 : 60;
    await target.writeRouteWeights(ref, { v1: 100 - w, v2: w });
    await target.readRouteWeights(ref);
    const now = Date.now();
    await traffic.figures({ sinceMs: now - 10_000, untilMs: now }, { host });
  };

  // The same requests, bare (on a twin route, which meshctl would rightly see as someone else's edit): GET the route, apply it, GET it again, three PromQL queries.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca: readFileSync(server.caFile) });
  const call = (method, p, body, type) => new Promise((resolve, reject) => {
    const req = https.request(server.url + p, { method, agent, headers: { authorization: 'Bearer stand-in-token', accept: 'application/json', ...(body ? { 'content-type': type, 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end(body);
  });
  const vsPath = '/apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews-bare';
  const bareStep = async (i) => {
    const w = i % 2 ? 40 : 60;
    const vs = await call('GET', vsPath);
    const http = vs.spec.http.map((h) => ({ ...h, route: h.route.map((d) => ({ ...d, weight: d.destination.subset === 'v2' ? w : 100 - w })) }));
    const body = JSON.stringify({ apiVersion: VS, kind: 'VirtualService', metadata: { name: 'reviews-bare', namespace: 'default', annotations: { 'meshctl.dev/shift': '{}' } }, spec: { http } });
    await call('PATCH', `${vsPath}?fieldManager=bench`, body, 'application/apply-patch+yaml');
    await call('GET', vsPath);
    const range = promqlRange(10_000);
    const queries = ['v1', 'v2'].flatMap((v) => {
      const scope = { service: host, versions: [v] };
      return [requestsByCodeQuery(scope, range), successRateQuery(scope, range), ...[0.5, 0.9, 0.95, 0.99].map((q) => requestDurationQuery(scope, range, q))];
    });
    await Promise.all(queries.map((query) => fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(query)}&time=${Date.now() / 1000}`).then((r) => r.json())));
  };

  const time = async (fn) => {
    const out = [];
    for (let i = 0; i < runs; i++) {
      const t = process.hrtime.bigint();
      await fn(i);
      out.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    out.sort((a, b) => a - b);
    return { median: out[Math.floor(out.length / 2)], p90: out[Math.floor(out.length * 0.9)] };
  };
  await meshctlStep(0);
  await bareStep(0);
  // Interleaved halves, so that the machine's load falls on both alike.
  const m1 = await time(meshctlStep);
  const b1 = await time(bareStep);
  const m2 = await time(meshctlStep);
  const b2 = await time(bareStep);
  const meshctlMs = (m1.median + m2.median) / 2;
  const bareMs = (b1.median + b2.median) / 2;
  const ratio = meshctlMs / bareMs;
  console.log(`shift step on the stand-in (apply + read back + one gate window), median of ${runs}×2:`);
  console.log(`  meshctl: ${meshctlMs.toFixed(1)} ms   bare requests: ${bareMs.toFixed(1)} ms   ratio ${ratio.toFixed(2)} (target ≤ ${TARGET_RATIO})`);
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
  for (let i = 0; i < statusRuns; i++) {
    const t = process.hrtime.bigint();
    await new Promise((resolve, reject) => {
      const child = execFile(process.execPath, [path.join(root, 'bin/run.js'), 'proxy-status', '--kubeconfig', kubeconfig, '-o', 'json'], (err, out) => (err && err.code !== 1 ? reject(err) : resolve(out)));
      void child;
    });
    cli.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const bare = [];
  for (let i = 0; i < statusRuns; i++) {
    const t = process.hrtime.bigint();
    await call('GET', '/api/v1/pods');
    await new Promise((resolve) => https.get(`${server.url}/api/v1/namespaces/istio-system/pods/istiod-1:15014/proxy/debug/syncz`, { agent, headers: { authorization: 'Bearer stand-in-token' } }, (res) => res.resume().on('end', resolve)));
    bare.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  cli.sort((a, b) => a - b);
  bare.sort((a, b) => a - b);
  console.log(`proxy-status over 50 pods (the meshctl process, start-up included), median of ${statusRuns}:`);
  console.log(`  meshctl: ${cli[Math.floor(cli.length / 2)].toFixed(0)} ms (target ≤ 2000)   bare requests: ${bare[Math.floor(bare.length / 2)].toFixed(1)} ms`);
  istiod.close();
  client.close();
  agent.destroy();
} finally {
  await prometheus.stop();
  await exporter.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
