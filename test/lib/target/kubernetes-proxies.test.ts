// A cluster's proxies read as the local mesh's are: `inspect pod` through a WebSocket port-forward to
// the pod's Envoy admin port (the stand-in API server carries it, as a kubelet does, to a local server
// answering with recorded Envoy admin output), and `top` from each sidecar's Istio metrics through the
// API server's pod proxy. The stand-in's request log says what meshctl asked the cluster.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import AjvModule from 'ajv';
import { ROOT } from '../../support/shared.js';
import { meshctlAsync } from '../../support/cli.js';
import { StandInApiServer, writeKubeconfig, type KubeObject } from '../../support/kube-apiserver.js';
import { IstioExporter } from '../../support/istio-metrics.js';
import { jsonOutput } from '../../support/output-schemas.js';
import type { TopSnapshot } from '../../../src/lib/mesh/top.js';
import { istioAdminRoutes, startAdmin, type FixtureServer } from '../runtime/envoy/fixture-server.js';

const Ajv = AjvModule as unknown as typeof AjvModule.default;
const validateInspect = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(path.join(ROOT, 'schemas', 'output', 'inspect.json'), 'utf8')));

function pod(name: string, namespace: string, containers: string[], labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { app: name.split('-')[0]!, ...labels } }, spec: { containers: containers.map((c) => ({ name: c })) }, status: { phase: 'Running' } };
}

/** The parts of an inspect document that do not depend on where or when it was read. */
function model(doc: Record<string, unknown>): unknown {
  const { source: _source, readAt: _readAt, ...rest } = doc;
  return JSON.parse(JSON.stringify(rest, (k, v) => (k === 'secondsLeft' ? undefined : v)));
}

describe('inspect pod and top on a cluster', () => {
  let server: StandInApiServer;
  let admin: FixtureServer;
  let exporter: IstioExporter;
  let dir: string;
  let kubeconfig: string;

  before(async () => {
    server = await StandInApiServer.start();
    admin = await startAdmin(istioAdminRoutes());
    exporter = new IstioExporter('reviews', 'default', 'source');
    await exporter.start();
    server.seed(
      pod('reviews-v1-a', 'default', ['reviews', 'istio-proxy'], { version: 'v1' }),
      pod('productpage-v1-b', 'default', ['productpage', 'istio-proxy'], { version: 'v1' }),
      pod('cart-1', 'shop', ['cart']),
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'default' }, spec: { host: 'reviews', subsets: [{ name: 'stable', labels: { version: 'v1' } }, { name: 'canary', labels: { version: 'v2' } }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default' }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'stable' }, weight: 80 }, { destination: { host: 'reviews', subset: 'canary' }, weight: 20 }] }] } },
    );
    server.podPorts.set('default/reviews-v1-a:15000', Number(new URL(admin.url).port));
    server.podProxies.set('default/productpage-v1-b:15020', exporter.port);
    dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-kubepods-'));
    kubeconfig = writeKubeconfig(path.join(dir, 'config'), server);
  });
  after(async () => {
    await exporter?.close();
    await admin?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('inspect pod -n NS: the Envoy admin model through a port-forward to 15000, the same as --admin-url reads', async () => {
    server.requests.length = 0;
    admin.requests.length = 0;
    const r = await meshctlAsync(['inspect', 'pod', 'reviews-v1-a', '-n', 'default', '--kubeconfig', kubeconfig, '-s', 'health', '-s', 'routes', '-s', 'clusters', '-s', 'certs']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^envoy proxy, read from pod default\/reviews-v1-a \(context stand-in\)/);
    assert.match(r.stdout, /Istio Version:\s+1\.21\.0-1226/);
    assert.match(r.stdout, /outbound\|9080\|\|reviews\.default\.svc\.cluster\.local\s+reviews\.default\.svc\.cluster\.local\s+9080/, 'the clusters table');
    assert.match(r.stdout, /inbound-vip\|8000\|http\|httpbin\.default\.svc\.cluster\.local\s+inbound\|http\|8000\s+\*\s+\/\*/, 'the routes table');
    assert.match(r.stdout, /default\s+Cert Chain\s+ACTIVE\s+false\s+6fbee254c22900615cb1f74e3d2f1713/, 'the workload certificate and its serial');

    const forwards = server.requestsTo('/portforward');
    assert.ok(forwards.length >= 1, 'meshctl opened a port-forward');
    for (const f of forwards) {
      assert.equal(f.path, '/api/v1/namespaces/default/pods/reviews-v1-a/portforward');
      assert.deepEqual(f.query, { ports: '15000' });
      assert.equal(f.status, 101, 'upgraded to WebSocket');
      assert.equal(f.authorization, 'Bearer stand-in-token', 'with the kubeconfig user\'s credentials');
    }
    assert.ok(['/server_info', '/config_dump?include_eds', '/clusters?format=json'].every((p) => admin.requests.includes(p)), `the pod's admin API was read: ${admin.requests.join(' ')}`);
    assert.equal(server.openForwards, 0, 'every forward was closed when the command ended');

    const json = await meshctlAsync(['inspect', 'pod', 'reviews-v1-a', '--kubeconfig', kubeconfig, '-o', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.ok(validateInspect(doc), JSON.stringify(validateInspect.errors?.slice(0, 3)));
    assert.deepEqual(doc.source, { runtime: 'envoy', kind: 'admin', target: 'pod default/reviews-v1-a (context stand-in)' });
    const direct = await meshctlAsync(['inspect', 'pod', '--admin-url', admin.url, '-o', 'json']);
    assert.equal(direct.code, 0, direct.stderr);
    assert.deepEqual(model(doc), model(JSON.parse(direct.stdout)), 'the pod reads as the same admin API read directly');
  });

  it('the port-forward carries the credentials of an exec plugin, run once for the whole command', async () => {
    const runs = path.join(dir, 'plugin-runs');
    const plugin = `require("fs").appendFileSync(${JSON.stringify(runs)}, "run\\n"); console.log(JSON.stringify({apiVersion:"client.authentication.k8s.io/v1",kind:"ExecCredential",status:{token:"from-plugin"}}))`;
    const file = writeKubeconfig(path.join(dir, 'exec'), server, { contexts: [{ name: 'exec-ctx', namespace: 'default', user: { exec: { command: process.execPath, args: ['-e', plugin] } } }] });
    server.requests.length = 0;
    const r = await meshctlAsync(['inspect', 'pod', 'reviews-v1-a', '--kubeconfig', file, '-s', 'clusters']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(server.requestsTo('/portforward').length >= 1);
    assert.ok(server.requests.every((q) => q.authorization === 'Bearer from-plugin'), 'every request, the WebSocket upgrades too, carried the plugin\'s token');
    assert.equal(readFileSync(runs, 'utf8'), 'run\n', 'the plugin ran once');
  });

  it('RBAC forbids the port-forward: exit 3 naming create pods/portforward and the rule to add', async () => {
    server.denials.push({ verb: 'create', group: '', resource: 'pods', subresource: 'portforward', namespace: 'default' });
    try {
      const r = await meshctlAsync(['inspect', 'pod', 'reviews-v1-a', '-n', 'default', '--kubeconfig', kubeconfig]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /forbids create pods\/portforward on pod "reviews-v1-a" in namespace "default" \(.*User "meshctl-tester" cannot create resource "pods\/portforward"/);
      assert.match(r.stderr, /grant the rule \{apiGroups: \[""\], resources: \["pods\/portforward"\], verbs: \["get", "create"\]\}/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(server.openForwards, 0);
    } finally {
      server.denials.length = 0;
    }
  });

  it('a pod without an istio-proxy container: exit 3, one sentence; an unknown pod: exit 2', async () => {
    const plain = await meshctlAsync(['inspect', 'pod', 'cart-1', '-n', 'shop', '--kubeconfig', kubeconfig]);
    assert.equal(plain.code, 3, plain.stderr);
    assert.match(plain.stderr, /Pod shop\/cart-1 on the cluster of context "stand-in" \([^)]+\) has no istio-proxy container \(containers: cart\), so there is no Envoy to read; enable sidecar injection/);
    assert.equal(server.requestsTo('/pods/cart-1/portforward').length, 0, 'no forward was tried');
    const unknown = await meshctlAsync(['inspect', 'pod', 'ghost', '-n', 'default', '--kubeconfig', kubeconfig]);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /There is no pod "ghost" in namespace "default" on the cluster of context "stand-in"/);
  });

  it('nothing listens on the pod\'s admin port: exit 3 with what the pod\'s side said', async () => {
    const r = await meshctlAsync(['inspect', 'pod', 'productpage-v1-b', '-n', 'default', '--kubeconfig', kubeconfig]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /Reading the Envoy admin API of pod default\/productpage-v1-b through a port-forward to 15000 failed: error forwarding port 15000 to pod productpage-v1-b.*connection refused\.$/m);
    assert.equal(server.openForwards, 0);
  });

  it('top: every destination\'s figures from the sidecars\' Istio metrics through the pod proxy, no port-forward', async () => {
    // Each reading of the caller's sidecar finds one more batch: 90 OK to v1 in 12 ms, 8 OK and 2 failed to v2 in 40 ms.
    // The two failures are upstream resets after a retry (UF,URX); the canary cluster counts 3 retries a batch.
    let retries = 0;
    exporter.beforeScrape = () => {
      exporter.record('v1', 200, 90, 12);
      exporter.record('v2', 200, 8, 40);
      exporter.record('v2', 503, 2, 40, 'UF,URX');
      retries += 3;
    };
    exporter.envoyStats = () => ['# TYPE envoy_cluster_upstream_rq_retry counter', `envoy_cluster_upstream_rq_retry{cluster_name="outbound|9080|canary|reviews.default.svc.cluster.local"} ${retries}`];
    server.requests.length = 0;
    try {
      const r = await meshctlAsync(['top', '-n', 'default', '--kubeconfig', kubeconfig, '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const snapshot = JSON.parse(r.stdout) as { rows: { service: string; namespace: string; subset: string | null; requests: number; successRate: number | null; statusClasses: Record<string, number>; latencyMs: { p50: number | null } }[] };
      const rows = Object.fromEntries(snapshot.rows.map((x) => [`${x.service}.${x.namespace}/${x.subset}`, x]));
      assert.deepEqual(Object.keys(rows).sort(), ['reviews.default/canary', 'reviews.default/stable'], 'the DestinationRule\'s subsets name the versions, and the route\'s short host is the service');
      assert.equal(rows['reviews.default/stable']!.requests, 90);
      assert.equal(rows['reviews.default/stable']!.successRate, 100);
      assert.equal(rows['reviews.default/canary']!.requests, 10);
      assert.equal(rows['reviews.default/canary']!.statusClasses['5xx'], 2);
      assert.equal(rows['reviews.default/canary']!.successRate, 80);
      // What the policy did, where the sidecar's stats say it; what they do not carry is not reported (null).
      const figures = jsonOutput<TopSnapshot>('top', r.stdout).rows.find((x) => x.subset === 'canary')!;
      assert.deepEqual(figures.resilience, { retried: null, retries: 3, denied: null, rateLimited: 0, overflows: 0, timeouts: 0, noRoute: 0, upstreamFailures: 2, ejected: null });
      assert.equal(jsonOutput<TopSnapshot>('top', r.stdout).rows.find((x) => x.subset === 'stable')!.resilience.retries, null, 'no retry counter for the stable cluster');
      const p50 = rows['reviews.default/canary']!.latencyMs.p50!;
      assert.ok(p50 > 25 && p50 <= 50, `p50 ${p50} ms falls in the 40 ms requests' bucket`);

      const reads = server.requestsTo('/pods/productpage-v1-b:15020/proxy/stats/prometheus', 'GET');
      assert.equal(reads.length, 2, 'two readings of the sidecar, a sample apart');
      assert.equal(server.requestsTo('/portforward').length, 0, 'stats come through the pod proxy');

      const text = await meshctlAsync(['top', 'reviews', '-n', 'default', '--kubeconfig', kubeconfig]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /reviews\s+default\s+canary\s+10\s+[\d.]+\s+80\.00%.*retries 3, upstream failure 2/);
      assert.match(text.stdout, /not reported by this mesh's proxies: retried requests, retries, denials/);
    } finally {
      exporter.beforeScrape = null;
      exporter.envoyStats = () => [];
    }
  });

  it('top: RBAC forbids the pod proxy: exit 3 naming get pods/proxy', async () => {
    server.denials.push({ verb: 'get', group: '', resource: 'pods', subresource: 'proxy', namespace: 'default' });
    try {
      const r = await meshctlAsync(['top', '-n', 'default', '--kubeconfig', kubeconfig]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /forbids get pods\/proxy "(productpage-v1-b|reviews-v1-a)" in namespace "default"/);
      assert.match(r.stderr, /grant the rule \{apiGroups: \[""\], resources: \["pods\/proxy"\], verbs: \["get"\]\}/);
    } finally {
      server.denials.length = 0;
    }
  });
});
