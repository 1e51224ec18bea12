// meshctl on an Istio cluster, against the stand-in API server (TLS, test CA) and a real Prometheus
// scraping Istio's standard metrics: target choice and its bad inputs, a shift promoted step by step by
// server-side apply with its record in an annotation, rolled back by a Prometheus gate, held by someone
// else's edit, held when Prometheus fails, and resumed after kill -9. A real kubectl reads back what
// meshctl wrote.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN } from '../../support/shared.js';
import { meshctlAsync } from '../../support/cli.js';
import { StandInApiServer, kubectlJson, writeKubeconfig, type KubeObject, type LoggedRequest } from '../../support/kube-apiserver.js';
import { IstioExporter, startPrometheus, type RunningPrometheus } from '../../support/istio-metrics.js';

const VS = 'networking.istio.io/v1';

function reviewsObjects(): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'istio-injection': 'enabled' } } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews', namespace: 'default' }, spec: { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] } },
    { apiVersion: VS, kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'default' }, spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } },
    {
      apiVersion: VS,
      kind: 'VirtualService',
      metadata: { name: 'reviews', namespace: 'default' },
      spec: { hosts: ['reviews'], http: [{ name: 'primary', timeout: '5s', route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 100 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 0 }] }] },
    },
  ];
}

/** The weights of route 0 and the shift record, as the cluster holds them now. */
function clusterState(server: StandInApiServer): { weights: Record<string, number>; record: { phase: string; cursor: number; served: Record<string, number>; pending: unknown } | null } {
  const vs = server.get(VS, 'VirtualService', 'default', 'reviews')!;
  const route = (vs.spec as { http: { route: { destination: { subset: string }; weight: number }[] }[] }).http[0]!.route;
  const text = vs.metadata.annotations?.['meshctl.dev/shift'];
  return { weights: Object.fromEntries(route.map((d) => [d.destination.subset, d.weight])), record: text ? JSON.parse(text) : null };
}

/** meshctl's server-side applies of the route, in order. */
function applies(server: StandInApiServer): LoggedRequest[] {
  return server.requestsTo('/virtualservices/reviews', 'PATCH').filter((r) => r.contentType === 'application/apply-patch+yaml' && r.query.fieldManager === 'meshctl');
}

function appliedWeights(r: LoggedRequest): Record<string, number> | null {
  const http = (r.body as { spec?: { http?: { route: { destination: { subset: string }; weight: number }[] }[] } }).spec?.http;
  return http ? Object.fromEntries(http[0]!.route.map((d) => [d.destination.subset, d.weight])) : null;
}

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the Kubernetes target: choosing it, and its bad inputs', () => {
  let server: StandInApiServer;
  let dir: string;
  let kubeconfig: string;
  before(async () => {
    server = await StandInApiServer.start();
    server.seed(...reviewsObjects());
    dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-kubecfg-'));
    kubeconfig = writeKubeconfig(path.join(dir, 'config'), server);
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves what a real kubectl reads: discovery, the Istio CRDs, a VirtualService', async () => {
    const vs = await kubectlJson(kubeconfig, ['get', 'virtualservices.networking.istio.io', 'reviews', '-n', 'default']) as KubeObject;
    assert.equal(vs.metadata.name, 'reviews');
    const crds = await kubectlJson(kubeconfig, ['get', 'crd']) as { items: KubeObject[] };
    assert.ok(crds.items.some((c) => c.metadata.name === 'httproutes.gateway.networking.k8s.io'));
    assert.ok(server.requestsTo('/apis', 'GET').length > 0, 'kubectl asked for discovery');
  });

  it('route status --target kubernetes reads the cluster of the current context (no shift recorded)', async () => {
    const r = await meshctlAsync(['route', 'status', 'reviews', '--target', 'kubernetes'], { env: { KUBECONFIG: kubeconfig } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /No shift of reviews \(reviews\.default\.svc\.cluster\.local\) is recorded/);
    assert.ok(server.requestsTo('/apis/networking.istio.io/v1/virtualservices', 'GET').length > 0, 'meshctl listed the VirtualServices');
  });

  it('no kubeconfig: exit 3 and what to set', async () => {
    const r = await meshctlAsync(['route', 'status', 'reviews', '--target', 'kubernetes'], { env: { KUBECONFIG: path.join(dir, 'missing') } });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /No kubeconfig found \(\$KUBECONFIG: .*missing\); set KUBECONFIG or pass --kubeconfig FILE/);
  });

  it('no current context: exit 3 naming the contexts', async () => {
    const file = writeKubeconfig(path.join(dir, 'no-current'), server, { contexts: [{ name: 'staging' }, { name: 'prod' }], current: null });
    const r = await meshctlAsync(['route', 'status', 'reviews', '--kubeconfig', file]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /sets no current context; pass --context NAME \(contexts: staging, prod\)/);
  });

  it('--context picks a context of several merged kubeconfig files, with its exec credential plugin', async () => {
    // The plugin is node itself printing an ExecCredential, as gke-gcloud-auth-plugin would.
    const second = writeKubeconfig(path.join(dir, 'second'), server, { contexts: [{ name: 'exec-ctx', user: { exec: { command: process.execPath, args: ['-e', 'console.log(JSON.stringify({apiVersion:"client.authentication.k8s.io/v1",kind:"ExecCredential",status:{token:"from-plugin"}}))'] } } }] });
    server.requests.length = 0;
    const r = await meshctlAsync(['route', 'status', 'reviews', '--context', 'exec-ctx'], { env: { KUBECONFIG: [kubeconfig, second].join(path.delimiter) } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /No shift of reviews/);
    assert.ok(server.requests.length > 0 && server.requests.every((q) => q.authorization === 'Bearer from-plugin'), 'every request carried the token of the credential plugin');
  });

  it('an unreachable cluster: exit 3 with the server address', async () => {
    const gone = await StandInApiServer.start({ crds: [] });
    const file = writeKubeconfig(path.join(dir, 'gone'), gone);
    copyFileSync(gone.caFile, path.join(dir, 'gone-ca.crt'));
    writeFileSync(file, readFileSync(file, 'utf8').replace(gone.caFile, path.join(dir, 'gone-ca.crt')));
    const url = gone.url;
    await gone.close();
    const r = await meshctlAsync(['route', 'status', 'reviews', '--kubeconfig', file]);
    assert.equal(r.code, 3, r.stderr);
    assert.ok(r.stderr.includes(`the cluster of context "stand-in" (${url}) is unreachable`) || r.stderr.includes(`The cluster of context "stand-in" (${url}) is unreachable`), r.stderr);
  });

  it('RBAC forbidden: exit 3 with the verb, the resource and the rule to add', async () => {
    server.denials.push({ verb: 'list', group: 'networking.istio.io', resource: 'virtualservices' });
    try {
      const r = await meshctlAsync(['route', 'status', 'reviews', '--kubeconfig', kubeconfig]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /forbids list virtualservices\.networking\.istio\.io/);
      assert.match(r.stderr, /grant the rule \{apiGroups: \["networking\.istio\.io"\], resources: \["virtualservices"\], verbs: \["list"\]\}/);
    } finally {
      server.denials.length = 0;
    }
  });

  it('diff --live compares the files with what the cluster holds', async () => {
    const file = path.join(dir, 'reviews.yaml');
    const vs = reviewsObjects().find((o) => o.kind === 'VirtualService')!;
    const route = (vs.spec as { http: { route: { weight: number }[] }[] }).http[0]!.route;
    route[0]!.weight = 90;
    route[1]!.weight = 10;
    writeFileSync(file, JSON.stringify(vs));
    const r = await meshctlAsync(['diff', '--live', file, '--kubeconfig', kubeconfig]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /~ VirtualService default\/reviews changed/);
    assert.match(r.stdout, /~ \/spec\/http\/0\/route\/0\/weight: 100 → 90/);
    assert.match(r.stdout, /OLD context stand-in \(/, 'the old side is named by the context, not a mesh revision');
    writeFileSync(file, JSON.stringify(reviewsObjects().find((o) => o.kind === 'VirtualService')));
    const same = await meshctlAsync(['diff', '--live', file, '--kubeconfig', kubeconfig]);
    assert.equal(same.code, 0, `the cluster's own route is no change: ${same.stdout}${same.stderr}`);
  });

  it('proxy-status: SYNCED/STALE from istiod /debug/syncz through the pod proxy, readiness from each pod', async () => {
    const sidecar = (name: string, ready: boolean): KubeObject => ({
      apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app: name.split('-')[0]!, version: 'v1' } },
      spec: { containers: [{ name: 'app' }, { name: 'istio-proxy' }] },
      status: { phase: 'Running', containerStatuses: [{ name: 'app', ready: true }, { name: 'istio-proxy', ready }] },
    });
    server.seed(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'istiod-7d4', namespace: 'istio-system', labels: { app: 'istiod' } }, spec: { containers: [{ name: 'discovery' }] }, status: { phase: 'Running' } },
      sidecar('reviews-v1-a', true), sidecar('ratings-v1-b', true), sidecar('details-v1-c', false),
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'no-mesh', namespace: 'default' }, spec: { containers: [{ name: 'app' }] } },
    );
    const syncz = [
      { cluster_id: 'Kubernetes', proxy: 'reviews-v1-a.default', istio_version: '1.22.1', cluster_sent: 'n1', cluster_acked: 'n1', listener_sent: 'n2', listener_acked: 'n2', route_sent: 'n3', route_acked: 'n3', endpoint_sent: 'n4', endpoint_acked: 'n4' },
      { cluster_id: 'Kubernetes', proxy: 'ratings-v1-b.default', istio_version: '1.22.1', cluster_sent: 'n5', cluster_acked: 'n5', listener_sent: 'n6', listener_acked: 'n6', route_sent: 'n9', route_acked: 'n7', endpoint_sent: 'n8', endpoint_acked: 'n8' },
    ];
    const istiod = http.createServer((req, res) => {
      res.writeHead(req.url === '/debug/syncz' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(req.url === '/debug/syncz' ? JSON.stringify(syncz) : '{}');
    });
    await new Promise<void>((resolve) => istiod.listen(0, '127.0.0.1', resolve));
    server.podProxies.set('istio-system/istiod-7d4:15014', (istiod.address() as AddressInfo).port);
    try {
      const r = await meshctlAsync(['proxy-status', '--kubeconfig', kubeconfig, '-o', 'json']);
      assert.equal(r.code, 1, r.stderr);
      const report = JSON.parse(r.stdout) as { proxies: { name: string; status: string; ready: boolean | null; runtime: string }[] };
      assert.deepEqual(report.proxies.map((p) => [p.name, p.status, p.ready, p.runtime]), [
        ['details-v1-c', 'UNREACHABLE', false, 'envoy'],
        ['ratings-v1-b', 'STALE', true, 'envoy'],
        ['reviews-v1-a', 'SYNCED', true, 'envoy'],
      ]);
      assert.equal(server.requestsTo('/pods/istiod-7d4:15014/proxy/debug/syncz', 'GET').length, 1);
    } finally {
      istiod.close();
    }
  });

  it('a HOST whose route lives in a namespace the user cannot read: exit 3 naming the namespace and the rule', async () => {
    server.denials.push({ verb: 'list', group: 'networking.istio.io', resource: 'virtualservices', namespace: 'payments' });
    try {
      const r = await meshctlAsync(['route', 'shift', 'ledger', '-n', 'payments', '--to', 'v2', '--kubeconfig', kubeconfig, '-y']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /forbids list virtualservices\.networking\.istio\.io in namespace "payments"/);
      assert.match(r.stderr, /verbs: \["list"\]/);
    } finally {
      server.denials.length = 0;
    }
  });

  it('Istio CRDs missing: exit 3, saying what to install', async () => {
    const bare = await StandInApiServer.start({ crds: [] });
    try {
      const file = writeKubeconfig(path.join(dir, 'bare'), bare);
      const r = await meshctlAsync(['route', 'shift', 'reviews', '--to', 'v2', '--kubeconfig', file, '-y']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /Istio's CRDs are not installed on the cluster of context "stand-in" \([^)]+\) \(no virtualservices\.networking\.istio\.io\); install Istio/);
      assert.equal(bare.requests.filter((q) => q.method !== 'GET').length, 0, 'nothing was written');
    } finally {
      await bare.close();
    }
  });

  it('install --target kubernetes: pre-flight, --dry-run prints every request and writes nothing, then labels the namespace', async () => {
    const print = await meshctlAsync(['install', '--print-rbac']);
    assert.equal(print.code, 0, print.stderr);
    assert.match(print.stdout, /kind: ClusterRole\n/);
    assert.match(print.stdout, /resources: \["virtualservices"\]\n  verbs: \["get", "list", "patch"\]/);

    const noIstiod = await meshctlAsync(['install', '--target', 'kubernetes', '-n', 'shop', '--kubeconfig', kubeconfig]);
    assert.equal(noIstiod.code, 3, noIstiod.stderr);
    assert.match(noIstiod.stderr, /istiod \(revision default\) on the cluster of context "stand-in": no istiod Deployment in istio-system\. Install Istio first: istioctl install/);

    server.seed(
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'istiod', namespace: 'istio-system', labels: { app: 'istiod' } }, spec: {}, status: { readyReplicas: 1 } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'cart-1', namespace: 'shop' }, spec: { containers: [{ name: 'cart' }] } },
    );
    server.requests.length = 0;
    const dry = await meshctlAsync(['install', '--target', 'kubernetes', '-n', 'shop', '--dry-run', '--kubeconfig', kubeconfig]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /√ RBAC for every verb meshctl uses/);
    assert.match(dry.stdout, /PATCH \/api\/v1\/namespaces\/shop {2}→ label istio-injection=enabled/);
    assert.match(dry.stdout, /GET \/apis\/apiextensions\.k8s\.io\/v1\/customresourcedefinitions\/virtualservices\.networking\.istio\.io/);
    assert.match(dry.stdout, /shop\/cart-1/);
    assert.equal(server.requests.filter((q) => q.method === 'PATCH').length, 0, 'a dry run writes nothing');
    assert.ok(server.requestsTo('/selfsubjectaccessreviews', 'POST').length > 10, 'RBAC was asked verb by verb');

    const real = await meshctlAsync(['install', '--target', 'kubernetes', '-n', 'shop', '--kubeconfig', kubeconfig]);
    assert.equal(real.code, 0, real.stderr);
    const ns = await kubectlJson(kubeconfig, ['get', 'namespace', 'shop']) as KubeObject;
    assert.equal(ns.metadata.labels?.['istio-injection'], 'enabled');

    // uninstall takes off only the label meshctl added: default's own label stays.
    const un = await meshctlAsync(['uninstall', '--target', 'kubernetes', '--kubeconfig', kubeconfig]);
    assert.equal(un.code, 0, un.stderr);
    assert.match(un.stdout, /Took the sidecar injection label meshctl added off: shop/);
    assert.equal(((await kubectlJson(kubeconfig, ['get', 'namespace', 'shop'])) as KubeObject).metadata.labels?.['istio-injection'], undefined);
    assert.equal(((await kubectlJson(kubeconfig, ['get', 'namespace', 'default'])) as KubeObject).metadata.labels?.['istio-injection'], 'enabled');

    server.denials.push({ verb: 'patch', group: '', resource: 'namespaces', namespace: 'shop' });
    try {
      // The stand-in's RBAC answers a real kubectl auth can-i (protobuf) as it answers meshctl.
      const canI = await promisify(execFile)('kubectl', ['--kubeconfig', kubeconfig, 'auth', 'can-i', 'patch', 'namespaces', '-n', 'shop']).catch((err: { stdout: string; code: number }) => err);
      assert.equal(canI.stdout.trim(), 'no');
      const allowed = await promisify(execFile)('kubectl', ['--kubeconfig', kubeconfig, 'auth', 'can-i', 'patch', 'virtualservices.networking.istio.io', '-n', 'shop']);
      assert.match(allowed.stdout, /^yes/);
      const denied = await meshctlAsync(['install', '--target', 'kubernetes', '-n', 'shop', '--kubeconfig', kubeconfig]);
      assert.equal(denied.code, 3, denied.stderr);
      assert.match(denied.stderr, /denied: patch namespaces in shop \(install labels namespaces for sidecar injection\)\. Grant the rules meshctl install --target kubernetes --print-rbac prints/);
    } finally {
      server.denials.length = 0;
    }
  });

  it('check --target kubernetes: pre-flight, then per pod sidecar present, ready and in sync with istiod', async () => {
    const syncz = ['reviews-v1-a', 'ratings-v1-b'].map((name) => ({ proxy: `${name}.default`, cluster_sent: 'a', cluster_acked: 'a', listener_sent: 'b', listener_acked: 'b', route_sent: 'c', route_acked: 'c', endpoint_sent: 'd', endpoint_acked: 'd' }));
    const istiod = http.createServer((_req, res) => res.end(JSON.stringify(syncz)));
    await new Promise<void>((resolve) => istiod.listen(0, '127.0.0.1', resolve));
    server.podProxies.set('istio-system/istiod-7d4:15014', (istiod.address() as AddressInfo).port);
    try {
      const r = await meshctlAsync(['check', '--target', 'kubernetes', '-n', 'default', '--kubeconfig', kubeconfig]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /√ Istio's CRDs: VirtualService served as v1/);
      assert.match(r.stdout, /√ pod default\/reviews-v1-a: sidecar ready, in sync with istiod/);
      assert.match(r.stdout, /× pod default\/details-v1-c: istiod does not list it as connected/);
      assert.match(r.stdout, /‼ pod default\/no-mesh: no sidecar/);
      assert.match(r.stdout, /1 check failed, 1 warning\./);
    } finally {
      istiod.close();
    }
  });

  it('--context with --target local is a usage error', async () => {
    const r = await meshctlAsync(['route', 'status', 'reviews', '--target', 'local', '--context', 'x']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--context names a Kubernetes cluster, and --target is local/);
  });
});

describe('route shift on a cluster, gated by a real Prometheus', () => {
  let server: StandInApiServer;
  let exporter: IstioExporter;
  let prometheus: RunningPrometheus;
  let dir: string;
  let kubeconfig: string;
  let traffic: NodeJS.Timeout;
  /** What v2 answers now (the test flips it to fail the gate). */
  let v2Code = 200;

  before(async () => {
    server = await StandInApiServer.start();
    exporter = new IstioExporter('reviews', 'default');
    await exporter.start();
    prometheus = await startPrometheus([exporter.port]);
    dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-kubeshift-'));
    kubeconfig = writeKubeconfig(path.join(dir, 'config'), server);
    // Steady traffic to both versions: 20 requests each per 100 ms tick, bounded by the suite's life.
    let ticks = 0;
    traffic = setInterval(() => {
      if (++ticks > 6000) return clearInterval(traffic);
      exporter.record('v1', 200, 20, 12);
      exporter.record('v2', v2Code, 20, 18);
    }, 100);
  });
  after(async () => {
    clearInterval(traffic);
    await prometheus?.stop();
    await exporter?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const fresh = () => {
    // A pod of each version: a shift refuses a subset that selects none.
    for (const o of [...reviewsObjects(), ...['v1', 'v2'].map((v): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `reviews-${v}-0`, namespace: 'default', labels: { app: 'reviews', version: v } }, spec: { containers: [{ name: 'reviews' }] } }))]) server.seed(o);
    server.requests.length = 0;
  };
  const shiftArgs = (interval: string, ...extra: string[]) => ['route', 'shift', 'reviews', '--kubeconfig', kubeconfig, '--prometheus-url', prometheus.url, '--interval', interval, '--min-requests', '20', '-y', ...extra];

  it('promotes through every step: each apply carries the weights and the record, under field manager meshctl', async () => {
    fresh();
    v2Code = 200;
    const r = await meshctlAsync(shiftArgs('3s', '--to', 'v2', '--steps', '50,100', '-o', 'json'));
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; weights: Record<string, number> });
    assert.deepEqual(events.filter((e) => e.type === 'step').map((e) => e.weights), [{ v1: 50, v2: 50 }, { v1: 0, v2: 100 }]);
    assert.equal(events.at(-1)!.type, 'promoted');
    const withWeights = applies(server).filter((a) => appliedWeights(a) !== null);
    // Each change of weights is one apply that also carries the record, with that change pending.
    const changes = withWeights.filter((a, i) => i === 0 || JSON.stringify(appliedWeights(a)) !== JSON.stringify(appliedWeights(withWeights[i - 1]!)));
    assert.deepEqual(changes.map(appliedWeights), [{ v1: 50, v2: 50 }, { v1: 0, v2: 100 }]);
    for (const a of changes) {
      const record = JSON.parse((a.body as KubeObject).metadata.annotations!['meshctl.dev/shift']!) as { pending: { weights: Record<string, number> } | null };
      assert.deepEqual(record.pending?.weights, appliedWeights(a), 'the record in the same apply names the change as pending');
    }
    const state = clusterState(server);
    assert.deepEqual(state.weights, { v1: 0, v2: 100 });
    assert.equal(state.record?.phase, 'promoted');
    // A real kubectl reads back what meshctl wrote, and sees meshctl as a field manager of the route.
    const vs = await kubectlJson(kubeconfig, ['get', 'virtualservice', 'reviews', '-n', 'default', '--show-managed-fields']) as KubeObject;
    assert.ok(vs.metadata.managedFields!.some((m) => m.manager === 'meshctl' && m.operation === 'Apply'));
    assert.equal((vs.spec as { http: { timeout: string }[] }).http[0]!.timeout, '5s', 'fields meshctl does not shift are kept');
    // Gates were read from Prometheus with Istio's metrics.
    const status = await meshctlAsync(['route', 'status', 'reviews', '--kubeconfig', kubeconfig, '-o', 'json']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /"promoted"/);
  });

  it('rolls back when Prometheus shows v2 failing', async () => {
    fresh();
    v2Code = 503;
    try {
      const r = await meshctlAsync(shiftArgs('3s', '--to', 'v2', '--steps', '50,100'));
      assert.equal(r.code, 1, r.stderr);
      // Flagger's rate() ratio over the window: v2's last answers before the failures may fall inside it.
      const rate = /Rolled back: success rate (\d+(?:\.\d+)?)% < 99%/.exec(r.stdout + r.stderr);
      assert.ok(rate && Number(rate[1]) < 50, `rolled back by the success-rate gate with v2 mostly failing: ${r.stdout}${r.stderr}`);
      assert.deepEqual(clusterState(server).weights, { v1: 100, v2: 0 });
      assert.equal(clusterState(server).record?.phase, 'rolled_back');
    } finally {
      v2Code = 200;
    }
  });

  it('holds (exit 4) and names who changed which field when the route is edited mid-shift', async () => {
    fresh();
    const running = meshctlAsync(shiftArgs('5s', '--to', 'v2', '--steps', '20,50,100'));
    await until('the first step recorded', () => clusterState(server).weights.v2 === 20 && clusterState(server).record?.pending === null).catch(async (err) => {
      const r = await running;
      throw new Error(`${(err as Error).message}: ${r.code} ${r.stderr}`);
    });
    server.edit(VS, 'VirtualService', 'default', 'reviews', 'kubectl-edit', (o) => {
      (o.spec as { http: { route: { weight: number }[] }[] }).http[0]!.route[0]!.weight = 70;
      (o.spec as { http: { route: { weight: number }[] }[] }).http[0]!.route[1]!.weight = 30;
    });
    const r = await running;
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /kubectl-edit \(at [^)]+\) changed \.spec\.http\[0\]\.route\[0\]\.weight of VirtualService default\/reviews from 80 to 70/);
    assert.deepEqual(clusterState(server).weights, { v1: 70, v2: 30 }, 'the other edit stands');
    assert.equal(clusterState(server).record?.phase, 'held');
  });

  it('a Prometheus that fails is "metrics unavailable": held where it was, not rolled back', async () => {
    fresh();
    const r = await meshctlAsync(['route', 'shift', 'reviews', '--kubeconfig', kubeconfig, '--prometheus-url', 'http://127.0.0.1:9/', '--interval', '2s', '-y', '--to', 'v2', '--steps', '50,100']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /metrics unavailable: Prometheus at http:\/\/127\.0\.0\.1:9\/ did not answer/);
    assert.deepEqual(clusterState(server).weights, { v1: 50, v2: 50 });
    assert.equal(clusterState(server).record?.phase, 'held');
  });

  it('after kill -9, --resume continues from the annotation and the weights the cluster holds', async () => {
    fresh();
    const child = spawn(process.execPath, [BIN, ...shiftArgs('6s', '--to', 'v2', '--steps', '50,100')], { stdio: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
    try {
      await until('the first step applied', () => clusterState(server).weights.v2 === 50 && clusterState(server).record?.pending === null);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    const r = await meshctlAsync(['route', 'shift', 'reviews', '--resume', '--kubeconfig', kubeconfig, '--prometheus-url', prometheus.url, '-y', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"resumed":true/);
    assert.deepEqual(clusterState(server).weights, { v1: 0, v2: 100 });
    assert.equal(clusterState(server).record?.phase, 'promoted');
  });
});

describe('validate --live on a cluster: the files analyzed together with what the cluster holds', () => {
  let server: StandInApiServer;
  let dir: string;
  let kubeconfig: string;
  // A route the cluster holds to a subset no DestinationRule defines, beside the reviews objects.
  const broken: KubeObject = {
    apiVersion: VS,
    kind: 'VirtualService',
    metadata: { name: 'reviews-canary', namespace: 'default' },
    spec: { hosts: ['reviews-canary'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v9' } }] }] },
  };
  const canaryService: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews-canary', namespace: 'default' }, spec: { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] } };
  before(async () => {
    server = await StandInApiServer.start();
    server.seed(...reviewsObjects(), broken, canaryService);
    dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-validate-live-'));
    kubeconfig = writeKubeconfig(path.join(dir, 'config'), server);
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names a finding on a cluster object <context>/<namespace>/<Kind>/<name>, reading each kind with one list request', async () => {
    server.requests.length = 0;
    const r = await meshctlAsync(['validate', '--live', '--kubeconfig', kubeconfig]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /stand-in\/default\/VirtualService\/reviews-canary:\d+:\d+ +error +IST0101 +Route subset v9 of host reviews/);
    assert.doesNotMatch(r.stdout, /VirtualService\/reviews:/, 'the cluster route to defined subsets has no finding');
    const lists = server.requests.filter((q) => q.method === 'GET' && !q.path.includes('customresourcedefinitions')).map((q) => q.path).sort();
    for (const kind of ['virtualservices', 'destinationrules', 'httproutes', 'services', 'deployments', 'pods', 'namespaces']) {
      assert.equal(lists.filter((p) => p.endsWith(`/${kind}`)).length, 1, `one list request for ${kind}: ${lists.join(' ')}`);
    }
  });

  it('takes an object the files and the cluster both hold from the files', async () => {
    const file = path.join(dir, 'canary.yaml');
    writeFileSync(file, JSON.stringify({ ...broken, spec: { hosts: ['reviews-canary'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v2' } }] }] } }));
    const fixed = await meshctlAsync(['validate', '--live', file, '--kubeconfig', kubeconfig]);
    assert.equal(fixed.code, 0, `the file's route replaces the cluster's: ${fixed.stdout}${fixed.stderr}`);
    assert.doesNotMatch(fixed.stdout, /IST0101/);
    writeFileSync(file, JSON.stringify({ ...broken, spec: { hosts: ['reviews-canary'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v7' } }] }] } }));
    const wrong = await meshctlAsync(['validate', '--live', file, '--kubeconfig', kubeconfig]);
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stdout, /canary\.yaml:\d+:\d+ +error +IST0101 +Route subset v7/, 'the finding names the file under review');
    assert.doesNotMatch(wrong.stdout, /stand-in\/default\/VirtualService\/reviews-canary/, "the cluster's copy is not analyzed");
  });

  it('-o sarif gives the cluster object as the finding\'s location', async () => {
    const r = await meshctlAsync(['validate', '--live', '-o', 'sarif', '--kubeconfig', kubeconfig]);
    assert.equal(r.code, 1, r.stderr);
    const sarif = JSON.parse(r.stdout) as { runs: { results: { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[] };
    const subset = sarif.runs[0]!.results.filter((x) => x.ruleId === 'IST0101');
    assert.ok(subset.length > 0, r.stdout.slice(0, 400));
    for (const x of subset) {
      assert.equal(x.locations[0]!.physicalLocation.artifactLocation.uri, 'stand-in/default/VirtualService/reviews-canary');
      assert.ok(x.locations[0]!.physicalLocation.region.startLine > 1);
    }
  });

  it('a cluster flag without --live, or -n with -A, is a usage error naming the flags', async () => {
    const r = await meshctlAsync(['validate', '--kubeconfig', kubeconfig, path.join(dir, 'canary.yaml')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--kubeconfig names the mesh validate --live reads; add --live/);
    const both = await meshctlAsync(['validate', '--live', '-n', 'default', '-A', '--kubeconfig', kubeconfig]);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /-n default asks for one namespace and -A for every one/);
  });
});

