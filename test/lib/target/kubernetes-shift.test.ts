// route shift on a cluster beyond a VirtualService gated by Prometheus: an HTTPRoute's backendRefs
// shifted by server-side apply with the record in its annotation (promoted, held by someone else's edit,
// aborted); route promote and route abort on a held shift and on a running one; gates read from the
// calling pods' Envoy sidecars through the API server's pod proxy when no Prometheus runs; and the
// summary validate --live prints. A real kubectl reads back what meshctl wrote.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { meshctlAsync } from '../../support/cli.js';
import { StandInApiServer, kubectlJson, waitUntil, writeKubeconfig, type KubeObject, type LoggedRequest } from '../../support/kube-apiserver.js';
import { IstioExporter, startPrometheus, type RunningPrometheus } from '../../support/istio-metrics.js';

const VS = 'networking.istio.io/v1';
const GW = 'gateway.networking.k8s.io/v1';
type Weights = Record<string, number>;
interface Record_ { phase: string; cursor: number; pending: { weights: Weights } | null; route: { host: string } }

function pod(name: string, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels },
    spec: { containers: [{ name: 'app' }, { name: 'istio-proxy' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'app', ready: true }, { name: 'istio-proxy', ready: true }] },
  };
}

const service = (name: string, selector: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector, ports: [{ name: 'http', port: 9080 }] } });

/** reviews split between subsets v1 and v2 by a VirtualService, with a pod of each version and a caller. */
function virtualServiceObjects(): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'istio-injection': 'enabled' } } },
    service('reviews', { app: 'reviews' }),
    pod('reviews-v1-0', { app: 'reviews', version: 'v1' }),
    pod('reviews-v2-0', { app: 'reviews', version: 'v2' }),
    pod('productpage-v1-0', { app: 'productpage', version: 'v1' }),
    { apiVersion: VS, kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'default' }, spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } },
    {
      apiVersion: VS, kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default' },
      spec: { hosts: ['reviews'], http: [{ name: 'primary', timeout: '5s', route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 100 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 0 }] }] },
    },
  ];
}

/** reviews as a Service whose HTTPRoute (parentRefs kind Service) sends everything to backend Service reviews-v1. */
function httpRouteObjects(): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } },
    service('reviews', { app: 'reviews' }),
    service('reviews-v1', { app: 'reviews', version: 'v1' }),
    service('reviews-v2', { app: 'reviews', version: 'v2' }),
    pod('reviews-v1-0', { app: 'reviews', version: 'v1' }),
    pod('reviews-v2-0', { app: 'reviews', version: 'v2' }),
    {
      apiVersion: GW, kind: 'HTTPRoute', metadata: { name: 'reviews', namespace: 'default' },
      spec: { parentRefs: [{ group: '', kind: 'Service', name: 'reviews', port: 9080 }], rules: [{ timeouts: { request: '5s' }, backendRefs: [{ name: 'reviews-v1', port: 9080 }] }] },
    },
  ];
}

function vsState(server: StandInApiServer): { weights: Weights; record: Record_ | null; request: string | undefined } {
  const vs = server.get(VS, 'VirtualService', 'default', 'reviews')!;
  const route = (vs.spec as { http: { route: { destination: { subset: string }; weight: number }[] }[] }).http[0]!.route;
  const text = vs.metadata.annotations?.['meshctl.dev/shift'];
  return { weights: Object.fromEntries(route.map((d) => [d.destination.subset, d.weight])), record: text ? JSON.parse(text) : null, request: vs.metadata.annotations?.['meshctl.dev/shift-request'] };
}

function backendWeights(o: KubeObject | { spec?: unknown }): Weights | null {
  const rules = (o.spec as { rules?: { backendRefs: { name: string; weight?: number }[] }[] } | undefined)?.rules;
  return rules ? Object.fromEntries(rules[0]!.backendRefs.map((b) => [b.name, b.weight ?? 1])) : null;
}

function routeState(server: StandInApiServer): { weights: Weights; record: Record_ | null } {
  const route = server.get(GW, 'HTTPRoute', 'default', 'reviews')!;
  const text = route.metadata.annotations?.['meshctl.dev/shift'];
  return { weights: backendWeights(route)!, record: text ? JSON.parse(text) : null };
}

/** meshctl's server-side applies of one route, in order. */
function applies(server: StandInApiServer, fragment: string): LoggedRequest[] {
  return server.requestsTo(fragment, 'PATCH').filter((r) => r.contentType === 'application/apply-patch+yaml' && r.query.fieldManager === 'meshctl');
}

const recordOf = (r: LoggedRequest): Record_ => JSON.parse((r.body as KubeObject).metadata.annotations!['meshctl.dev/shift']!) as Record_;

function vsWeightsOf(r: LoggedRequest): Weights | null {
  const http = (r.body as { spec?: { http?: { route: { destination: { subset: string }; weight: number }[] }[] } }).spec?.http;
  return http ? Object.fromEntries(http[0]!.route.map((d) => [d.destination.subset, d.weight])) : null;
}

/** The distinct weights the applies wrote, in order. */
function weightChanges(list: LoggedRequest[], weightsOf: (r: LoggedRequest) => Weights | null): LoggedRequest[] {
  const withWeights = list.filter((a) => weightsOf(a) !== null);
  return withWeights.filter((a, i) => i === 0 || JSON.stringify(weightsOf(a)) !== JSON.stringify(weightsOf(withWeights[i - 1]!)));
}

describe('an HTTPRoute shift on a cluster: backendRefs weights by server-side apply, the record in its annotation', () => {
  let server: StandInApiServer;
  let exporters: IstioExporter[];
  let prometheus: RunningPrometheus;
  let dir: string;
  let kubeconfig: string;
  let traffic: NodeJS.Timeout;

  before(async () => {
    server = await StandInApiServer.start();
    exporters = [new IstioExporter('reviews-v1', 'default'), new IstioExporter('reviews-v2', 'default')];
    for (const e of exporters) await e.start();
    prometheus = await startPrometheus(exporters.map((e) => e.port));
    dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-kube-httproute-'));
    kubeconfig = writeKubeconfig(path.join(dir, 'config'), server);
    // Steady traffic to both backend Services: 20 requests each per 100 ms tick, bounded by the suite's life.
    let ticks = 0;
    traffic = setInterval(() => {
      if (++ticks > 6000) return clearInterval(traffic);
      exporters[0]!.record('v1', 200, 20, 12);
      exporters[1]!.record('v1', 200, 20, 18);
    }, 100);
  });
  after(async () => {
    clearInterval(traffic);
    await prometheus?.stop();
    for (const e of exporters ?? []) await e.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const fresh = () => {
    for (const o of httpRouteObjects()) server.seed(o);
    server.requests.length = 0;
  };
  const shiftArgs = (interval: string, ...extra: string[]) => ['route', 'shift', 'reviews', '--kubeconfig', kubeconfig, '--prometheus-url', prometheus.url, '--interval', interval, '--min-requests', '20', '-y', '--to', 'reviews-v2', ...extra];

  it('promotes: the rule becomes percentages, then each step is one apply of the rules with the record', async () => {
    fresh();
    const r = await meshctlAsync(shiftArgs('3s', '--steps', '50,100', '-o', 'json'));
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; weights: Weights; httpRoute?: string });
    assert.equal(events[0]!.httpRoute, 'default/reviews rule 0');
    assert.deepEqual(events.filter((e) => e.type === 'step').map((e) => e.weights), [{ 'reviews-v1': 50, 'reviews-v2': 50 }, { 'reviews-v1': 0, 'reviews-v2': 100 }]);
    assert.equal(events.at(-1)!.type, 'promoted');
    const changes = weightChanges(applies(server, '/httproutes/reviews'), (a) => backendWeights(a.body as KubeObject));
    assert.deepEqual(changes.map((a) => backendWeights(a.body as KubeObject)), [
      { 'reviews-v1': 100, 'reviews-v2': 0 },
      { 'reviews-v1': 50, 'reviews-v2': 50 },
      { 'reviews-v1': 0, 'reviews-v2': 100 },
    ]);
    for (const a of changes.slice(1)) assert.deepEqual(recordOf(a).pending?.weights, backendWeights(a.body as KubeObject), 'the record in the same apply names the change as pending');
    assert.equal(server.requestsTo('/virtualservices/', 'PATCH').length, 0, 'no VirtualService was written');
    const state = routeState(server);
    assert.deepEqual(state.weights, { 'reviews-v1': 0, 'reviews-v2': 100 });
    assert.equal(state.record?.phase, 'promoted');
    // A real kubectl reads the route back: meshctl among its managers, the fields it does not shift kept.
    const route = await kubectlJson(kubeconfig, ['get', 'httproute', 'reviews', '-n', 'default', '--show-managed-fields']) as KubeObject;
    assert.deepEqual(backendWeights(route), { 'reviews-v1': 0, 'reviews-v2': 100 });
    assert.ok(route.metadata.managedFields!.some((m) => m.manager === 'meshctl' && m.operation === 'Apply'));
    assert.deepEqual((route.spec as { rules: { timeouts: unknown }[] }).rules[0]!.timeouts, { request: '5s' });
    assert.equal((JSON.parse(route.metadata.annotations!['meshctl.dev/shift']!) as Record_).phase, 'promoted');
    const status = await meshctlAsync(['route', 'status', 'reviews', '--kubeconfig', kubeconfig, '-o', 'json']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /"promoted"/);
  });

  it('holds (exit 4) naming who changed which backendRef, then route abort puts back the weights it started from', async () => {
    fresh();
    const running = meshctlAsync(shiftArgs('5s', '--steps', '20,50,100'));
    await waitUntil('the first step recorded', () => routeState(server).weights['reviews-v2'] === 20 && routeState(server).record?.pending === null).catch(async (err) => {
      const r = await running;
      throw new Error(`${(err as Error).message}: ${r.code} ${r.stderr}`);
    });
    server.edit(GW, 'HTTPRoute', 'default', 'reviews', 'kubectl-edit', (o) => {
      const refs = (o.spec as { rules: { backendRefs: { weight: number }[] }[] }).rules[0]!.backendRefs;
      refs[0]!.weight = 70;
      refs[1]!.weight = 30;
    });
    const r = await running;
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /kubectl-edit \(at [^)]+\) changed \.spec\.rules\[0\]\.backendRefs\[0\]\.weight of HTTPRoute default\/reviews from 80 to 70/);
    assert.deepEqual(routeState(server).weights, { 'reviews-v1': 70, 'reviews-v2': 30 }, 'the other edit stands');
    assert.equal(routeState(server).record?.phase, 'held');

    const abort = await meshctlAsync(['route', 'abort', 'reviews', '--kubeconfig', kubeconfig]);
    assert.equal(abort.code, 0, abort.stderr);
    assert.deepEqual(routeState(server).weights, { 'reviews-v1': 100, 'reviews-v2': 0 });
    assert.equal(routeState(server).record?.phase, 'aborted');
    const route = await kubectlJson(kubeconfig, ['get', 'httproute', 'reviews', '-n', 'default']) as KubeObject;
    assert.deepEqual(backendWeights(route), { 'reviews-v1': 100, 'reviews-v2': 0 });
  });
});

describe('route promote and route abort on a cluster', () => {
  let server: StandInApiServer;
  let dir: string;
  let kubeconfig: string;
  before(async () => {
    server = await StandInApiServer.start();
    dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-kube-control-'));
    kubeconfig = writeKubeconfig(path.join(dir, 'config'), server);
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const fresh = () => {
    for (const o of virtualServiceObjects()) server.seed(o);
    server.requests.length = 0;
  };
  /** A shift held at its first step: its Prometheus does not answer ("metrics unavailable"). */
  const heldAtFirstStep = async (steps: string) => {
    fresh();
    const r = await meshctlAsync(['route', 'shift', 'reviews', '--kubeconfig', kubeconfig, '--prometheus-url', 'http://127.0.0.1:9/', '--interval', '1s', '-y', '--to', 'v2', '--steps', steps]);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(vsState(server).record?.phase, 'held');
    server.requests.length = 0;
  };
  /** The apply that made the latest change of weights. */
  const lastApply = () => weightChanges(applies(server, '/virtualservices/reviews'), vsWeightsOf).at(-1)!;

  it('promote on a held shift moves it one step, --full to the last step: each apply carries the weights and the record', async () => {
    await heldAtFirstStep('20,50,100');
    assert.deepEqual(vsState(server).weights, { v1: 80, v2: 20 });
    const one = await meshctlAsync(['route', 'promote', 'reviews', '--kubeconfig', kubeconfig]);
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(vsWeightsOf(lastApply()), { v1: 50, v2: 50 });
    assert.deepEqual(recordOf(lastApply()).pending?.weights, { v1: 50, v2: 50 }, 'the weights and the change pending in one apply');
    assert.deepEqual(vsState(server).weights, { v1: 50, v2: 50 });
    assert.equal(vsState(server).record?.phase, 'held', 'promoted one step, the shift waits for --resume');
    assert.equal(vsState(server).record?.cursor, 1);

    server.requests.length = 0;
    const full = await meshctlAsync(['route', 'promote', 'reviews', '--full', '--yes', '--kubeconfig', kubeconfig]);
    assert.equal(full.code, 0, full.stderr);
    assert.deepEqual(vsWeightsOf(lastApply()), { v1: 0, v2: 100 });
    assert.deepEqual(vsState(server).weights, { v1: 0, v2: 100 });
    assert.equal(vsState(server).record?.phase, 'promoted');
    const vs = await kubectlJson(kubeconfig, ['get', 'virtualservice', 'reviews', '-n', 'default']) as KubeObject;
    const route = (vs.spec as { http: { route: { weight: number }[] }[] }).http[0]!.route;
    assert.deepEqual(route.map((d) => d.weight), [0, 100]);
    assert.equal((JSON.parse(vs.metadata.annotations!['meshctl.dev/shift']!) as Record_).phase, 'promoted');
  });

  it('abort on a held shift puts back the stable weights and ends the record', async () => {
    await heldAtFirstStep('50,100');
    const r = await meshctlAsync(['route', 'abort', 'reviews', '--kubeconfig', kubeconfig]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(vsWeightsOf(lastApply()), { v1: 100, v2: 0 });
    assert.deepEqual(vsState(server).weights, { v1: 100, v2: 0 });
    assert.equal(vsState(server).record?.phase, 'aborted');
    const vs = await kubectlJson(kubeconfig, ['get', 'virtualservice', 'reviews', '-n', 'default']) as KubeObject;
    assert.deepEqual((vs.spec as { http: { route: { weight: number }[] }[] }).http[0]!.route.map((d) => d.weight), [100, 0]);
    assert.equal((JSON.parse(vs.metadata.annotations!['meshctl.dev/shift']!) as Record_).phase, 'aborted');
    const again = await meshctlAsync(['route', 'abort', 'reviews', '--kubeconfig', kubeconfig]);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /No shift of reviews is in progress \(the last one aborted\)/);
  });

  it('promote and abort reach a running shift through the request annotation, and the running shift acts', async () => {
    fresh();
    // A long window: only the requests move this shift on.
    const running = meshctlAsync(['route', 'shift', 'reviews', '--kubeconfig', kubeconfig, '--prometheus-url', 'http://127.0.0.1:9/', '--interval', '5m', '-y', '--to', 'v2', '--steps', '20,50,100']);
    try {
      await waitUntil('the first step recorded', () => vsState(server).weights.v2 === 20 && vsState(server).record?.pending === null);
      const promote = await meshctlAsync(['route', 'promote', 'reviews', '--kubeconfig', kubeconfig, '-o', 'json']);
      assert.equal(promote.code, 0, promote.stderr);
      assert.match(promote.stdout, /"actedBy":\s*"running-shift"/);
      assert.deepEqual(vsState(server).weights, { v1: 50, v2: 50 });
      assert.ok(server.requestsTo('/virtualservices/reviews', 'PATCH').some((q) => q.query.fieldManager === 'meshctl-control'), 'the request went as its own field manager');
      const abort = await meshctlAsync(['route', 'abort', 'reviews', '--kubeconfig', kubeconfig]);
      assert.equal(abort.code, 0, abort.stderr);
    } finally {
      const r = await running;
      assert.equal(r.code, 1, `the running shift ended aborted: ${r.stderr}`);
    }
    const state = vsState(server);
    assert.deepEqual(state.weights, { v1: 100, v2: 0 });
    assert.equal(state.record?.phase, 'aborted');
    assert.equal(state.request, undefined, 'the request annotation was taken off');
  });
});

describe('gates from the calling pods\' Envoy sidecars, without Prometheus', () => {
  let server: StandInApiServer;
  let caller: IstioExporter;
  let destination: IstioExporter;
  let dir: string;
  let kubeconfig: string;
  let traffic: NodeJS.Timeout;
  let v2Code = 200;
  let flowing = true;

  before(async () => {
    server = await StandInApiServer.start();
    // The caller's sidecar reports what it sent (reporter="source"); the reviews pods' what they received.
    caller = new IstioExporter('reviews', 'default', 'source');
    destination = new IstioExporter('reviews', 'default', 'destination');
    await caller.start();
    await destination.start();
    server.podProxies.set('default/productpage-v1-0:15020', caller.port);
    server.podProxies.set('default/reviews-v1-0:15020', destination.port);
    server.podProxies.set('default/reviews-v2-0:15020', destination.port);
    dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-kube-envoy-'));
    kubeconfig = writeKubeconfig(path.join(dir, 'config'), server);
    let ticks = 0;
    traffic = setInterval(() => {
      if (++ticks > 6000) return clearInterval(traffic);
      if (!flowing) return;
      for (const e of [caller, destination]) {
        e.record('v1', 200, 20, 12);
        e.record('v2', v2Code, 20, 18);
      }
    }, 100);
  });
  after(async () => {
    clearInterval(traffic);
    await caller?.close();
    await destination?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const fresh = () => {
    for (const o of virtualServiceObjects()) server.seed(o);
    server.requests.length = 0;
  };
  const shiftArgs = (...extra: string[]) => ['route', 'shift', 'reviews', '--kubeconfig', kubeconfig, '--interval', '3s', '--min-requests', '20', '-y', '--to', 'v2', '--steps', '50,100', ...extra];

  it('promotes on the sidecars\' figures when no Prometheus answers (auto), reading each pod through the pod proxy', async () => {
    fresh();
    v2Code = 200;
    const r = await meshctlAsync(shiftArgs('-o', 'json'));
    assert.equal(r.code, 0, r.stderr);
    const analyses = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; canary?: { requests: number; successRate: number; latencyMs: { p99: number } } }).filter((e) => e.type === 'analysis');
    assert.ok(analyses.length >= 2, r.stdout);
    for (const a of analyses) {
      assert.equal(a.canary!.successRate, 100);
      // 18 ms requests land in Envoy's (10, 25] bucket: p99 interpolated as histogram_quantile does.
      assert.equal(a.canary!.latencyMs.p99, 24.85);
    }
    assert.deepEqual(vsState(server).weights, { v1: 0, v2: 100 });
    assert.ok(server.requestsTo('/api/v1/namespaces/default/pods/productpage-v1-0:15020/proxy/stats/prometheus', 'GET').length >= 3, 'the caller\'s sidecar was read at the start and at each window');
    assert.ok(server.requestsTo('/services/prometheus:9090/proxy/api/v1/query', 'GET').length >= 1, 'Istio\'s Prometheus was looked for first');
  });

  it('rolls back when the calling sidecars count v2 failing (--metrics envoy)', async () => {
    fresh();
    v2Code = 503;
    try {
      const r = await meshctlAsync(shiftArgs('--metrics', 'envoy'));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout + r.stderr, /Rolled back: success rate 0% < 99%/);
      assert.deepEqual(vsState(server).weights, { v1: 100, v2: 0 });
      assert.equal(vsState(server).record?.phase, 'rolled_back');
      assert.equal(server.requestsTo('/services/prometheus:9090/proxy', 'GET').length, 0, '--metrics envoy looks for no Prometheus');
    } finally {
      v2Code = 200;
    }
  });

  it('a pod proxy the user may not get: exit 3 naming the verb, the resource and the rule', async () => {
    fresh();
    server.denials.push({ verb: 'get', group: '', resource: 'pods', subresource: 'proxy' });
    try {
      const r = await meshctlAsync(shiftArgs('--metrics', 'envoy'));
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /forbids get pods\/proxy "[a-z0-9-]+" in namespace "default"/);
      assert.match(r.stderr, /grant the rule \{apiGroups: \[""\], resources: \["pods\/proxy"\], verbs: \["get"\]\}/);
      assert.notEqual(vsState(server).record?.phase, 'rolled_back', 'nothing was rolled back for it');
    } finally {
      server.denials.length = 0;
    }
    const abort = await meshctlAsync(['route', 'abort', 'reviews', '--kubeconfig', kubeconfig]);
    assert.equal(abort.code, 0, `the shift left behind ends with route abort: ${abort.stderr}`);
  });

  it('no traffic in the window is "not enough traffic", and hidden Istio metrics name proxyStatsMatcher', async () => {
    fresh();
    flowing = false;
    try {
      const quiet = await meshctlAsync(shiftArgs('--metrics', 'envoy'));
      assert.equal(quiet.code, 4, quiet.stderr);
      assert.match(quiet.stdout + quiet.stderr, /not enough traffic/);
    } finally {
      flowing = true;
    }
    fresh();
    const bare = new IstioExporter('reviews', 'default', 'source');
    await bare.start();
    for (const name of ['productpage-v1-0', 'reviews-v1-0', 'reviews-v2-0']) server.podProxies.set(`default/${name}:15020`, bare.port);
    try {
      const hidden = await meshctlAsync(shiftArgs('--metrics', 'envoy'));
      assert.equal(hidden.code, 4, hidden.stderr);
      assert.match(hidden.stderr, /metrics unavailable: none of the 3 sidecars read on the cluster of context "stand-in" \([^)]+\) reports any istio_\* metric, so Istio's standard metrics are hidden: allow istio_requests_total and istio_request_duration_milliseconds in meshConfig\.defaultConfig\.proxyStatsMatcher/);
      assert.deepEqual(vsState(server).weights, { v1: 50, v2: 50 }, 'held where it was, not rolled back');
    } finally {
      server.podProxies.set('default/productpage-v1-0:15020', caller.port);
      server.podProxies.set('default/reviews-v1-0:15020', destination.port);
      server.podProxies.set('default/reviews-v2-0:15020', destination.port);
      await bare.close();
    }
  });
});

describe('validate --live on a cluster: the summary counts objects read from the cluster, not files', () => {
  let server: StandInApiServer;
  let dir: string;
  let kubeconfig: string;
  before(async () => {
    server = await StandInApiServer.start();
    server.seed(...virtualServiceObjects());
    dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-kube-validate-'));
    kubeconfig = writeKubeconfig(path.join(dir, 'config'), server);
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says how many objects it read from which context, beside the files given', async () => {
    const alone = await meshctlAsync(['validate', '--live', '--kubeconfig', kubeconfig]);
    assert.equal(alone.code, 0, alone.stderr);
    // Namespace, Service, 3 Pods, DestinationRule, VirtualService.
    assert.match(alone.stdout, /^7 objects read from the cluster of context "stand-in", \d+ resources: no findings$/m);
    assert.doesNotMatch(alone.stdout, /\bfiles?\b/);
    const file = path.join(dir, 'ratings.yaml');
    writeFileSync(file, JSON.stringify({ apiVersion: VS, kind: 'DestinationRule', metadata: { name: 'ratings', namespace: 'default' }, spec: { host: 'ratings' } }));
    const both = await meshctlAsync(['validate', '--live', file, '--kubeconfig', kubeconfig]);
    assert.match(both.stdout, /^1 file and 7 objects read from the cluster of context "stand-in", \d+ resources: /m, both.stdout);
    const local = await meshctlAsync(['validate', file]);
    assert.match(local.stdout, /^1 file, 1 resource: /m, 'without --live the files alone, as before');
  });
});
