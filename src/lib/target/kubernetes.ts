// An Istio cluster as a MeshTarget, through its API server (the user's kubeconfig, src/lib/kube/): the
// applied policy is the cluster's Istio and Gateway API resources; a shift writes the route's weights
// and its record (an annotation on the same VirtualService) in one server-side apply under the field
// manager `meshctl`, and holds (exit 4) when someone else changed the route meanwhile, naming who
// changed which field; traffic figures come from Prometheus with Istio's standard metrics.
import { isDeepStrictEqual } from 'node:util';
import { EXIT, MeshctlError, usageError } from '../errors.js';
import { KubeApiError, type KubeClient } from '../kube/client.js';
import { MetricsUnavailable, promqlFigures, servedVersions, type PrometheusEndpoint } from '../shift/promql.js';
import { httpRoutesOf } from '../shift/http-route.js';
import { EnvoyStatsTraffic, type EnvoyStatsSource } from '../shift/envoy-stats.js';
import { parseSyncz, type ProxySync } from '../kube/syncz.js';
import { openPodAdmin, runsIstioProxy, type ForwardedAdmin } from '../kube/pod-admin.js';
import { FIRST_SAMPLE_MS, SidecarStatsTraffic, podProxyStats } from '../kube/sidecar-traffic.js';
import { resolveShortName } from '../policy/hosts.js';
import { KINDS, POLICY_KINDS, applyObject, asPolicyResource, getObject, hasPath, listObjects, mergePatchObject, ownsField, type KindRef, type KubeObject } from '../kube/resources.js';
import type { ProxyStatusRow } from '../mesh/proxy-status.js';
import type { ProxyAdapter } from '../runtime/adapter.js';
import type { TrafficWindow, UpstreamFigures } from '../runtime/figures.js';
import {
  CANARY_ROUTE,
  WeightWriteError,
  type AppliedPolicy,
  type MeshProxy,
  type MeshResource,
  type MeshTarget,
  type ProxyReadOptions,
  type ProxyStatusOptions,
  type ProxyStatusReport,
  type RouteRef,
  type ServedWeights,
  type ShiftRecordStore,
  type TrafficReader,
  type Weights,
  type WriteReport,
} from './target.js';

/** The annotation a shift keeps its record in, on the route it shifts. */
export const SHIFT_ANNOTATION = 'meshctl.dev/shift';
/** The annotation `route promote` / `route abort` leave for the process running the shift. */
export const SHIFT_REQUEST_ANNOTATION = 'meshctl.dev/shift-request';
export const FIELD_MANAGER = 'meshctl';
/** Requests are written under their own manager, so that writing one never releases the shift's fields. */
const REQUEST_FIELD_MANAGER = 'meshctl-control';

export interface KubernetesTargetOptions {
  /** -n: the namespace read (default: every namespace the user may list). */
  namespace?: string;
  allNamespaces?: boolean;
  /** --prometheus-url; else Istio's Prometheus through the API server's service proxy. */
  prometheusUrl?: string;
  /** Where Istio's Prometheus runs (namespace/service:port). */
  prometheusService?: { namespace: string; name: string; port: number };
  /** --metrics: where the gates read (auto: --prometheus-url, else Istio's Prometheus when it answers, else the calling pods' Envoy sidecars). */
  metrics?: 'auto' | 'prometheus' | 'envoy';
}

interface HttpDestination {
  destination?: { host?: string; subset?: string };
  weight?: number;
}

interface HttpRouteSpec {
  name?: string;
  route?: HttpDestination[];
}

function vsKey(ref: { namespace: string; name: string }): string {
  return `${ref.namespace}/${ref.name}`;
}

/** The object a shift writes on a cluster: a VirtualService (its http list) or an HTTPRoute (its rules). */
export interface RouteObject {
  kind: 'VirtualService' | 'HTTPRoute';
  namespace: string;
  name: string;
}

const kindRefOf = (o: { kind: string }): KindRef => (o.kind === 'HTTPRoute' ? KINDS.HTTPRoute : KINDS.VirtualService);
/** The atomic list a shift rewrites whole: a VirtualService's http routes, an HTTPRoute's rules. */
const listFieldOf = (o: { kind: string }): 'http' | 'rules' => (o.kind === 'HTTPRoute' ? 'rules' : 'http');
/** `VirtualService default/reviews`, as sentences name it (and the key of what meshctl last wrote). */
const objectLabel = (o: RouteObject): string => `${o.kind} ${vsKey(o)}`;

function routeListOf(o: { kind: string; spec?: unknown }): unknown[] {
  return ((o.spec as Record<string, unknown> | undefined)?.[listFieldOf(o)] ?? []) as unknown[];
}

function routeObjectOf(ref: RouteRef): RouteObject {
  return ref.httpRoute ? { kind: 'HTTPRoute', namespace: ref.httpRoute.namespace, name: ref.httpRoute.name } : { kind: 'VirtualService', ...ref.virtualService };
}

interface BackendRef {
  name?: string;
  weight?: number;
  [k: string]: unknown;
}

function backendRefsOf(rules: unknown[], rule: number): BackendRef[] | null {
  const r = rules[rule] as { backendRefs?: BackendRef[] } | undefined;
  return r?.backendRefs?.length ? r.backendRefs : null;
}

function httpOf(o: KubeObject): HttpRouteSpec[] {
  return ((o.spec as { http?: HttpRouteSpec[] } | undefined)?.http ?? []) as HttpRouteSpec[];
}

/** The shifted route among the VirtualService's http routes (a header-canary route is not counted). */
function shiftedIndex(http: HttpRouteSpec[], ref: RouteRef): number {
  const own = http.map((h, i) => ({ h, i })).filter((x) => x.h.name !== CANARY_ROUTE);
  if (ref.name) {
    const named = own.find((x) => x.h.name === ref.name);
    if (named) return named.i;
  }
  return own[ref.index]?.i ?? -1;
}

function sameHost(written: string | undefined, fqdn: string, namespace: string): boolean {
  if (!written) return false;
  if (written === fqdn) return true;
  const parts = fqdn.split('.');
  return written === parts[0] ? parts[1] === namespace || fqdn.startsWith(`${written}.${namespace}.`) : fqdn.startsWith(`${written}.`);
}

/** Where two values first differ, as a field path (`.spec.http[0].route[1].weight`), with both values. */
export function firstDifference(a: unknown, b: unknown, at = ''): { field: string; before: unknown; after: unknown } | null {
  if (isDeepStrictEqual(a, b)) return null;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${at}[${i}]`);
      if (d) return d;
    }
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
      if (d) return d;
    }
  }
  return { field: at, before: a, after: b };
}

/**
 * Who changed the route's http list, other than meshctl (from managedFields): a write that changes a
 * field takes it over, so its manager now owns the list; the latest such entry when several do.
 */
function lastOtherManager(o: KubeObject): { manager: string; time?: string; operation: string } | null {
  const others = (o.metadata.managedFields ?? []).filter((e) => e.manager !== FIELD_MANAGER && e.manager !== REQUEST_FIELD_MANAGER && e.fieldsV1 && hasPath(e.fieldsV1, ['spec', listFieldOf(o)]));
  others.sort((x, y) => (y.time ?? '').localeCompare(x.time ?? ''));
  return others[0] ? { manager: others[0].manager, time: others[0].time, operation: others[0].operation } : null;
}

const valueText = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));

export class KubernetesTarget implements MeshTarget {
  readonly location: string;
  /** The route's list as meshctl last wrote it, per VirtualService or HTTPRoute: a different one on the cluster is someone else's change. */
  private readonly written = new Map<string, unknown>();
  /** The latest shift record per host, carried by every apply of that route's weights. */
  private readonly records = new Map<string, unknown>();
  private vsCache: KubeObject[] | null = null;
  private readonly forwards = new Set<ForwardedAdmin>();
  private httpRouteCache: KubeObject[] | null = null;

  constructor(readonly client: KubeClient, readonly options: KubernetesTargetOptions = {}) {
    this.location = `kubernetes context "${client.access.context}"`;
  }

  private get listNamespace(): string | undefined {
    return this.options.allNamespaces ? undefined : this.options.namespace;
  }

  async installed(): Promise<boolean> {
    return (await getObject(this.client, KINDS.CustomResourceDefinition, undefined, 'virtualservices.networking.istio.io')) !== null;
  }

  /** Set once Istio's CRDs were found: a shift reads the applied policy at every step, and the CRD is a large object. */
  private istioFound = false;

  private async requireIstio(): Promise<void> {
    if (this.istioFound) return;
    if (!(await this.installed())) {
      throw new MeshctlError(`Istio's CRDs are not installed on ${this.client.where} (no virtualservices.networking.istio.io); install Istio (istioctl install), or run meshctl install --target kubernetes.`, EXIT.environment);
    }
    this.istioFound = true;
  }

  async proxies(): Promise<MeshProxy[]> {
    const pods = await listObjects(this.client, KINDS.Pod, { namespace: this.listNamespace });
    const out: MeshProxy[] = [];
    for (const p of pods) {
      const sidecar = runsIstioProxy(p);
      const labels = p.metadata.labels ?? {};
      const gateway = labels.istio === 'ingressgateway' || labels.istio === 'egressgateway' || 'gateway.networking.k8s.io/gateway-name' in labels;
      if (!sidecar && !gateway) continue;
      out.push({ name: p.metadata.name, namespace: p.metadata.namespace ?? 'default', kind: gateway ? 'gateway' : 'sidecar', workload: gateway ? null : labels.app ?? labels['app.kubernetes.io/name'] ?? null, labels });
    }
    return out.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'gateway' ? -1 : 1));
  }

  private async listPolicy(k: KindRef): Promise<KubeObject[]> {
    try {
      return await listObjects(this.client, k, { namespace: this.listNamespace });
    } catch (err) {
      // A kind whose CRD is not installed (Gateway API on an Istio-only cluster) holds nothing.
      if (err instanceof KubeApiError && err.statusCode === 404 && k.group !== KINDS.VirtualService.group) return [];
      throw err;
    }
  }

  async applied(): Promise<AppliedPolicy> {
    await this.requireIstio();
    // Istio's resources only: the cluster's Services and pods are Kubernetes', not meshctl's Workloads.
    const lists = await Promise.all(POLICY_KINDS.map((k) => this.listPolicy(k)));
    const objects = lists.flat();
    this.vsCache = objects.filter((o) => o.kind === 'VirtualService');
    const revision = Math.max(0, ...objects.map((o) => Number(o.metadata.resourceVersion ?? 0)).filter(Number.isFinite));
    return { revision, label: `context ${this.client.access.context}`, resources: objects.map((o) => asPolicyResource(o) as MeshResource) };
  }

  /**
   * What `validate --live` analyzes: the policy kinds and the Services, Deployments, Pods and Namespaces
   * they reference (one list request per kind), each named `<context>/<namespace>/<Kind>/<name>`.
   */
  async liveObjects(): Promise<{ name: string; resource: MeshResource }[]> {
    await this.requireIstio();
    const kinds = [...POLICY_KINDS, KINDS.Service, KINDS.Deployment, KINDS.Pod];
    const lists = await Promise.all([...kinds.map((k) => this.listPolicy(k)), this.listNamespaces()]);
    const context = this.client.access.context;
    return lists.flat().map((o) => ({
      name: [context, o.metadata.namespace, o.kind, o.metadata.name].filter((x) => x !== undefined).join('/'),
      resource: asPolicyResource(o) as MeshResource,
    }));
  }

  /** Where `validate --live` says its objects come from. */
  get liveFrom(): string {
    return `the cluster of context "${this.client.access.context}"`;
  }

  /** The namespace -n names (a get), or every namespace. */
  private async listNamespaces(): Promise<KubeObject[]> {
    const ns = this.listNamespace;
    if (ns === undefined) return listObjects(this.client, KINDS.Namespace);
    const one = await getObject(this.client, KINDS.Namespace, undefined, ns);
    return one ? [{ ...one, apiVersion: 'v1', kind: 'Namespace' }] : [];
  }

  async apply(resources: MeshResource[], options: { shiftHost?: string } = {}): Promise<void> {
    for (const r of resources) {
      const k = Object.values(KINDS).find((x) => x.kind === r.kind && (!x.group || r.apiVersion.startsWith(`${x.group}/`)));
      if (!k) throw usageError(`meshctl does not write ${r.apiVersion} ${r.kind} to a cluster.`);
      const namespace = r.metadata.namespace ?? 'default';
      if (options.shiftHost && (r.kind === 'VirtualService' || r.kind === 'HTTPRoute')) {
        // A shift's own change of its route (a header route, a mirror, backendRefs as percentages): only its list, with its record.
        const ref: RouteObject = { kind: r.kind, namespace, name: r.metadata.name };
        const current = await this.readRoute(ref);
        this.checkUnchanged(current, ref);
        await this.applyRoute(ref, routeListOf(r), options.shiftHost, { resourceVersion: current.metadata.resourceVersion, force: !ownsField(current, FIELD_MANAGER, ['spec', listFieldOf(ref)]) });
        continue;
      }
      await applyObject(this.client, k, { apiVersion: r.apiVersion, kind: r.kind, metadata: { ...r.metadata, namespace }, ...(r.spec !== undefined ? { spec: r.spec } : {}) } as KubeObject, { fieldManager: FIELD_MANAGER });
    }
  }

  async routedUpstreams(): Promise<{ host: string; subset: string }[]> {
    const seen = new Map<string, { host: string; subset: string }>();
    for (const vs of this.vsCache ?? (await listObjects(this.client, KINDS.VirtualService, { namespace: this.listNamespace }))) {
      const namespace = vs.metadata.namespace ?? 'default';
      for (const h of httpOf(vs)) {
        for (const d of h.route ?? []) {
          // As Istio's metrics name a destination: its full name.
          const host = d.destination?.host ? resolveShortName(namespace, d.destination.host) : null;
          if (host) seen.set(`${host}|${d.destination?.subset ?? ''}`, { host, subset: d.destination?.subset ?? '' });
        }
      }
    }
    return [...seen.values()];
  }

  private carrier(ref: RouteRef): string {
    return objectLabel(routeObjectOf(ref));
  }

  async routeCarriers(ref: RouteRef): Promise<string[]> {
    return [this.carrier(ref)];
  }

  private async readRoute(ref: RouteObject): Promise<KubeObject> {
    const o = await getObject(this.client, kindRefOf(ref), ref.namespace, ref.name);
    if (!o) throw new MeshctlError(`${objectLabel(ref)} is gone from ${this.client.where}; the shift cannot go on (meshctl route abort ends it).`, EXIT.environment);
    return o;
  }

  /**
   * Someone else's change of the route since meshctl last wrote it (in this process): the shift holds
   * rather than overwrite it, and says who changed which field.
   */
  private checkUnchanged(o: KubeObject, ref: RouteObject): void {
    const expected = this.written.get(objectLabel(ref));
    if (expected === undefined) return;
    const difference = firstDifference(expected, routeListOf(o), `.spec.${listFieldOf(ref)}`);
    if (!difference) return;
    const who = lastOtherManager(o);
    const by = who ? `${who.manager}${who.time ? ` (at ${who.time})` : ''}` : 'another client';
    throw new MeshctlError(`${by} changed ${difference.field} of ${objectLabel(ref)} from ${valueText(difference.before)} to ${valueText(difference.after)} during the shift (resourceVersion ${o.metadata.resourceVersion}); the shift holds rather than overwrite it`, EXIT.held);
  }

  /**
   * The HTTPRoute's rules with the shifted rule's backendRefs at `weights` (by backend name; a backend
   * the weights give traffic and the rule lacks joins it, shaped as its first backendRef).
   */
  private withBackendWeights(o: KubeObject, ref: RouteRef, weights: Weights): unknown[] {
    const rules = structuredClone(routeListOf(o));
    const rule = ref.httpRoute!.rule;
    const refs = backendRefsOf(rules, rule);
    if (!refs) throw new WeightWriteError(`HTTPRoute ${vsKey(ref.httpRoute!)} has no rule ${rule} with backendRefs to weigh.`);
    for (const name of Object.keys(weights)) if (weights[name]! > 0 && !refs.some((r) => r.name === name)) refs.push({ ...structuredClone(refs[0]!), name });
    for (const r of refs) r.weight = weights[String(r.name ?? '')] ?? 0;
    if (refs.every((r) => r.weight === 0)) throw new WeightWriteError(`Weights ${JSON.stringify(weights)} leave rule ${rule} of HTTPRoute ${vsKey(ref.httpRoute!)} without a backend.`);
    return rules;
  }

  /** The http list with the route's weights of `ref.host`'s subsets set (other destinations keep theirs). */
  private withWeights(vs: KubeObject, ref: RouteRef, weights: Weights): HttpRouteSpec[] {
    const http = structuredClone(httpOf(vs));
    const i = shiftedIndex(http, ref);
    const route = http[i];
    if (!route?.route?.length) throw new WeightWriteError(`VirtualService ${vsKey(ref.virtualService)} has no http route ${ref.name || ref.index} to weigh.`);
    const vector = route.route.map((d) => (sameHost(d.destination?.host, ref.host, ref.virtualService.namespace) ? weights[d.destination?.subset ?? ''] ?? 0 : d.weight ?? 0));
    if (vector.every((w) => w === 0)) throw new WeightWriteError(`Weights ${JSON.stringify(weights)} leave route ${ref.name || ref.index} of VirtualService ${vsKey(ref.virtualService)} without a destination.`);
    route.route = route.route.map((d, j) => ({ ...d, weight: vector[j]! }));
    return http;
  }

  /**
   * One server-side apply of the route's http list and the shift's record; `force` takes the list over
   * from whoever applied it before the shift (the first write of a shift only).
   */
  private async applyRoute(ref: RouteObject, list: unknown[] | null, host: string, options: { resourceVersion?: string; force?: boolean } = {}): Promise<KubeObject> {
    const record = this.records.get(host);
    const k = kindRefOf(ref);
    const body: KubeObject = {
      apiVersion: `${k.group}/${k.version}`,
      kind: ref.kind,
      metadata: {
        name: ref.name,
        namespace: ref.namespace,
        ...(options.resourceVersion ? { resourceVersion: options.resourceVersion } : {}),
        ...(record !== undefined ? { annotations: { [SHIFT_ANNOTATION]: JSON.stringify(record) } } : {}),
      },
      ...(list ? { spec: { [listFieldOf(ref)]: list } } : {}),
    };
    let answer: KubeObject;
    try {
      answer = await applyObject(this.client, k, body, { fieldManager: FIELD_MANAGER, force: options.force });
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 409) {
        const cause = err.status.details?.causes?.find((c) => c.reason === 'FieldManagerConflict');
        const reason = cause ? `${cause.message} (another field manager owns it now)` : `${objectLabel(ref)} changed while meshctl wrote it (${err.status.message ?? 'resourceVersion conflict'})`;
        throw new MeshctlError(`${reason}; the shift holds rather than overwrite it`, EXIT.held);
      }
      throw err;
    }
    if (list) this.written.set(objectLabel(ref), routeListOf(answer));
    return answer;
  }

  async readRouteWeights(ref: RouteRef): Promise<ServedWeights[]> {
    if (ref.httpRoute) {
      // backendRefs weights are proportions, 1 when unset; the shift writes them as percentages.
      const refs = backendRefsOf(routeListOf(await this.readRoute(routeObjectOf(ref))), ref.httpRoute.rule);
      if (!refs) return [{ proxy: this.carrier(ref), kind: 'sidecar', weights: null, error: `has no rule ${ref.httpRoute.rule} with backendRefs` }];
      const weights: Weights = {};
      for (const r of refs) weights[String(r.name ?? '')] = (weights[String(r.name ?? '')] ?? 0) + (typeof r.weight === 'number' ? r.weight : 1);
      return [{ proxy: this.carrier(ref), kind: 'sidecar', weights, error: null }];
    }
    const vs = await this.readRoute(routeObjectOf(ref));
    const route = httpOf(vs)[shiftedIndex(httpOf(vs), ref)];
    if (!route?.route) return [{ proxy: this.carrier(ref), kind: 'sidecar', weights: null, error: `has no http route ${ref.name || ref.index}` }];
    const weights: Weights = {};
    const single = route.route.length === 1;
    for (const d of route.route) if (sameHost(d.destination?.host, ref.host, ref.virtualService.namespace)) weights[d.destination?.subset ?? ''] = (weights[d.destination?.subset ?? ''] ?? 0) + (single ? 100 : d.weight ?? 0);
    return [{ proxy: this.carrier(ref), kind: 'sidecar', weights, error: null }];
  }

  async writeRouteWeights(ref: RouteRef, weights: Weights): Promise<WriteReport> {
    const target = routeObjectOf(ref);
    const o = await this.readRoute(target);
    this.checkUnchanged(o, target);
    const list = ref.httpRoute ? this.withBackendWeights(o, ref, weights) : this.withWeights(o, ref, weights);
    await this.applyRoute(target, list, ref.host, { resourceVersion: o.metadata.resourceVersion, force: !ownsField(o, FIELD_MANAGER, ['spec', listFieldOf(target)]) });
    return { served: [this.carrier(ref)], notRunning: [] };
  }

  traffic(options: { host?: string; hosts?: string[] } = {}): TrafficReader {
    return new ChosenTraffic(this, options);
  }

  private metricsChoice: Promise<'prometheus' | 'envoy'> | null = null;

  /** Where the gates read: as --metrics says; auto is --prometheus-url, else Istio's Prometheus when its service answers, else the Envoy sidecars. */
  chooseMetrics(): Promise<'prometheus' | 'envoy'> {
    this.metricsChoice ??= (async () => {
      const choice = this.options.metrics ?? 'auto';
      if (choice !== 'auto') return choice;
      if (this.options.prometheusUrl) return 'prometheus';
      try {
        await this.promQuery().query('vector(1)', Date.now() / 1000);
        return 'prometheus';
      } catch (err) {
        // No such service, or nothing behind it: no Prometheus. Anything else is a Prometheus that fails (metrics unavailable).
        if (err instanceof KubeApiError && (err.statusCode === 404 || err.statusCode === 503)) return 'envoy';
        if (err instanceof KubeApiError && err.statusCode === 403) throw err;
        return 'prometheus';
      }
    })();
    return this.metricsChoice;
  }

  /** Every sidecar and gateway pod's merged stats, read through the API server's pod proxy. */
  envoyStats(): EnvoyStatsSource {
    return podProxyStats(this.client, async () => (await this.proxies()).map((p) => ({ namespace: p.namespace, name: p.name })), (host) => this.subsetsByVersion(host));
  }

  /** The applied policy with the cluster's Services, and its running pods: what a shift resolves its route against. */
  async routeContext(): Promise<{ resources: MeshResource[]; pods: { namespace: string; labels: Record<string, string> }[] }> {
    const [applied, services, pods] = await Promise.all([
      this.applied(),
      listObjects(this.client, KINDS.Service, { namespace: this.listNamespace }),
      listObjects(this.client, KINDS.Pod, { namespace: this.listNamespace }),
    ]);
    this.httpRouteCache = applied.resources.filter((r) => r.kind === 'HTTPRoute') as KubeObject[];
    return {
      resources: [...applied.resources, ...services.map((o) => asPolicyResource(o) as MeshResource)],
      pods: pods.filter((p) => (p.status as { phase?: string } | undefined)?.phase !== 'Succeeded' && (p.status as { phase?: string } | undefined)?.phase !== 'Failed').map((p) => ({ namespace: p.metadata.namespace ?? 'default', labels: p.metadata.labels ?? {} })),
    };
  }

  /** top's figures of every destination, from the sidecars' own stats through the pod proxy. */
  trafficOfEveryService(): TrafficReader {
    const sidecars = new SidecarStatsTraffic(this.envoyStats());
    return {
      startNow: () => sidecars.startNow(),
      figures: async (window) => {
        if (window.untilMs < Date.now() - FIRST_SAMPLE_MS) throw usageError('A cluster\'s sidecars count from their start and keep no history, so a past window (--until) needs Prometheus; pass --prometheus-url, or drop --until.');
        return sidecars.figures(window);
      },
    };
  }

  /** A PromQL query through --prometheus-url, or Istio's Prometheus through the API server's service proxy. */
  promQuery(): Exclude<PrometheusEndpoint, string> {
    const url = this.options.prometheusUrl;
    if (url) {
      return {
        where: `Prometheus at ${url}`,
        query: async (q, time) => {
          const u = new URL('api/v1/query', url.endsWith('/') ? url : `${url}/`);
          u.searchParams.set('query', q);
          u.searchParams.set('time', time.toFixed(3));
          const res = await fetch(u, { signal: AbortSignal.timeout(10_000) });
          const body = (await res.json().catch(() => null)) as { error?: string } | null;
          if (!res.ok) throw new Error(`HTTP ${res.status}${body?.error ? `: ${body.error}` : ''}`);
          return body;
        },
      };
    }
    const svc = this.options.prometheusService ?? { namespace: 'istio-system', name: 'prometheus', port: 9090 };
    const path = `/api/v1/namespaces/${svc.namespace}/services/${svc.name}:${svc.port}/proxy/api/v1/query`;
    return {
      where: `Prometheus ${svc.namespace}/${svc.name}:${svc.port} (through ${this.client.where})`,
      query: async (q, time) => JSON.parse(await this.client.request<string>('GET', path, { query: { query: q, time: time.toFixed(3) }, text: true, timeoutMs: 10_000, about: { verb: 'get', resource: 'services/proxy', group: '', namespace: svc.namespace, name: `${svc.name}:${svc.port}` } })),
    };
  }

  /** The subset whose DestinationRule labels carry Istio's `version` label value. */
  async subsetsByVersion(host: string): Promise<Map<string, string>> {
    const namespace = host.split('.')[1];
    const rules = await listObjects(this.client, KINDS.DestinationRule, { namespace: this.options.allNamespaces ? undefined : namespace });
    const out = new Map<string, string>();
    for (const dr of rules) {
      const spec = (dr.spec ?? {}) as { host?: string; subsets?: { name: string; labels?: Record<string, string> }[] };
      if (!sameHost(spec.host, host, dr.metadata.namespace ?? 'default')) continue;
      for (const s of spec.subsets ?? []) out.set(s.labels?.version ?? s.name, s.name);
    }
    return out;
  }

  /** The pod's Envoy (in -n, else the context's namespace) through a port-forward to its admin port; closed by close(). */
  async proxyAdmin(name: string, options: ProxyReadOptions = {}): Promise<ProxyAdapter> {
    const admin = await openPodAdmin(this.client, { namespace: this.options.namespace ?? this.client.access.namespace, name }, options);
    this.forwards.add(admin);
    return admin;
  }

  /** Ends every port-forward this target opened, and the client's connections. */
  async close(): Promise<void> {
    await Promise.all([...this.forwards].map((f) => f.close()));
    this.forwards.clear();
    this.client.close();
  }

  /** Every sidecar and gateway pod with istiod's word on its sync (one /debug/syncz through the pod proxy) and the pod's readiness. */
  async proxyStatus(options: ProxyStatusOptions = {}): Promise<ProxyStatusReport> {
    const readAt = (options.now ?? (() => new Date()))().toISOString();
    const [proxies, pods, istiods] = await Promise.all([
      this.proxies(),
      listObjects(this.client, KINDS.Pod, { namespace: this.listNamespace }),
      listObjects(this.client, KINDS.Pod, { namespace: 'istio-system', labelSelector: 'app=istiod' }),
    ]);
    const istiod = istiods.find((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running') ?? istiods[0];
    if (!istiod) throw new MeshctlError(`istiod does not run on ${this.client.where} (no pod labelled app=istiod in istio-system); install Istio first.`, EXIT.environment);
    const syncPath = `/api/v1/namespaces/istio-system/pods/${istiod.metadata.name}:15014/proxy/debug/syncz`;
    const text = await this.client.request<string>('GET', syncPath, { text: true, timeoutMs: options.timeoutMs ?? 5000, about: { verb: 'get', resource: 'pods/proxy', group: '', namespace: 'istio-system', name: istiod.metadata.name } });
    let sync: Map<string, ProxySync>;
    try {
      sync = parseSyncz(JSON.parse(text));
    } catch (err) {
      throw new MeshctlError(`istiod ${istiod.metadata.name} answered /debug/syncz with something meshctl cannot read (${(err as Error).message}).`, EXIT.environment);
    }
    const byName = new Map(pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
    const rows: ProxyStatusRow[] = proxies.map((x) => {
      const s = sync.get(`${x.name}.${x.namespace}`);
      const pod = byName.get(`${x.namespace}/${x.name}`);
      const statuses = ((pod?.status as { containerStatuses?: { name: string; ready: boolean }[] } | undefined)?.containerStatuses ?? []);
      const proxyReady = statuses.find((c) => c.name === 'istio-proxy')?.ready ?? null;
      const problem = !s ? 'istiod does not list it as connected' : !s.synced ? `istiod sent ${s.pending.join(', ')} configuration it has not acknowledged` : proxyReady === false ? 'its istio-proxy container is not ready' : null;
      return { name: x.name, namespace: x.namespace, type: x.kind, runtime: 'envoy', admin: `istiod ${istiod.metadata.name}`, reachable: Boolean(s), revision: null, appliedRevision: null, status: !s ? 'UNREACHABLE' : s.synced ? 'SYNCED' : 'STALE', ready: proxyReady, problem, certificate: null };
    });
    const summary = {
      total: rows.length,
      synced: rows.filter((r) => r.status === 'SYNCED').length,
      stale: rows.filter((r) => r.status === 'STALE').length,
      unreachable: rows.filter((r) => r.status === 'UNREACHABLE').length,
      notReady: rows.filter((r) => r.ready === false).length,
    };
    return { home: this.location, installed: true, appliedRevision: null, readAt, proxies: rows, summary, ok: rows.every((r) => r.status === 'SYNCED' && r.ready !== false) };
  }

  shiftRecords<R, Q extends { id: string }>(host: string): ShiftRecordStore<R, Q> {
    return new AnnotationShiftStore<R, Q>(this, host);
  }

  /**
   * The route a shift of `host` keeps its record on: the VirtualService or HTTPRoute holding it, else the
   * VirtualService routing the host, else the HTTPRoute attached to the host's Service.
   */
  async routeOf(host: string): Promise<RouteObject | null> {
    const [services, routes] = await Promise.all([
      this.vsCache ?? listObjects(this.client, KINDS.VirtualService, { namespace: this.listNamespace }),
      this.httpRouteCache ?? this.listPolicy(KINDS.HTTPRoute),
    ]);
    const holding = [...services, ...routes].find((o) => {
      const text = o.metadata.annotations?.[SHIFT_ANNOTATION];
      if (!text) return false;
      try {
        return (JSON.parse(text) as { route?: { host?: string } }).route?.host === host;
      } catch {
        return false;
      }
    });
    const found = holding
      ?? services.find((v) => httpOf(v).some((h) => (h.route ?? []).some((d) => sameHost(d.destination?.host, host, v.metadata.namespace ?? 'default'))))
      ?? (httpRoutesOf(routes as MeshResource[], host)[0] as KubeObject | undefined);
    return found ? { kind: found.kind === 'HTTPRoute' ? 'HTTPRoute' : 'VirtualService', namespace: found.metadata.namespace ?? 'default', name: found.metadata.name } : null;
  }

  /** Internal to the record store. */
  rememberRecord(host: string, record: unknown): void {
    this.records.set(host, record);
  }

  async writeRecord(ref: RouteObject, host: string, record: unknown, running: boolean): Promise<void> {
    this.rememberRecord(host, record);
    for (let attempt = 0; ; attempt++) {
      const o = await this.readRoute(ref);
      if (running) this.checkUnchanged(o, ref);
      // While meshctl owns the route's list it applies it unchanged with the record, or the list would be released.
      const written = this.written.get(objectLabel(ref));
      const owns = ownsField(o, FIELD_MANAGER, ['spec', listFieldOf(ref)]) && (written === undefined || isDeepStrictEqual(written, routeListOf(o)));
      try {
        await this.applyRoute(ref, owns ? routeListOf(o) : null, host, { resourceVersion: o.metadata.resourceVersion });
        return;
      } catch (err) {
        // A write between the read and the apply: read again once, and look at what changed.
        if (attempt >= 1 || !(err instanceof MeshctlError) || !/changed while meshctl wrote it/.test(err.message)) throw err;
      }
    }
  }

  async removeAnnotation(ref: RouteObject, key: string, manager: string): Promise<void> {
    await mergePatchObject(this.client, kindRefOf(ref), ref.namespace, ref.name, { metadata: { annotations: { [key]: null } } }, manager);
  }

  async readAnnotation(ref: RouteObject, key: string): Promise<unknown> {
    const o = await getObject(this.client, kindRefOf(ref), ref.namespace, ref.name);
    const text = o?.metadata.annotations?.[key];
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new MeshctlError(`The annotation ${key} on ${objectLabel(ref)} is not meshctl's JSON; remove it (kubectl annotate ${ref.kind.toLowerCase()} ${ref.name} -n ${ref.namespace} ${key}-) and start again.`, EXIT.environment);
    }
  }

  async writeRequestAnnotation(ref: RouteObject, request: unknown): Promise<void> {
    const k = kindRefOf(ref);
    await applyObject(this.client, k, { apiVersion: `${k.group}/${k.version}`, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace, annotations: { [SHIFT_REQUEST_ANNOTATION]: JSON.stringify(request) } } }, { fieldManager: REQUEST_FIELD_MANAGER });
  }
}

/** A shift's record in an annotation of its route, so that status, resume, promote and abort work from any machine. */
class AnnotationShiftStore<R, Q extends { id: string }> implements ShiftRecordStore<R, Q> {
  private ref: RouteObject | null = null;

  constructor(private readonly target: KubernetesTarget, private readonly host: string) {}

  private async route(): Promise<RouteObject | null> {
    this.ref ??= await this.target.routeOf(this.host);
    return this.ref;
  }

  async read(): Promise<R | null> {
    const ref = await this.route();
    const record = ref ? ((await this.target.readAnnotation(ref, SHIFT_ANNOTATION)) as R | null) : null;
    if (record) this.target.rememberRecord(this.host, record);
    return record;
  }

  async write(record: R): Promise<void> {
    const r = record as unknown as { updatedAt?: string; phase?: string; owner?: unknown; route: RouteRef };
    r.updatedAt = new Date().toISOString();
    this.ref = routeObjectOf(r.route);
    const running = r.owner !== null && r.owner !== undefined && (r.phase === 'progressing' || r.phase === 'planned');
    await this.target.writeRecord(this.ref, this.host, record, running);
  }

  async remove(): Promise<void> {
    const ref = await this.route();
    if (ref) await this.target.removeAnnotation(ref, SHIFT_ANNOTATION, FIELD_MANAGER);
  }

  /** The cluster has no lock meshctl shares with others: every write is guarded by resourceVersion instead. */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async readRequest(): Promise<Q | null> {
    const ref = await this.route();
    return ref ? ((await this.target.readAnnotation(ref, SHIFT_REQUEST_ANNOTATION)) as Q | null) : null;
  }

  async writeRequest(request: Q): Promise<void> {
    const ref = await this.route();
    if (!ref) throw usageError(`No VirtualService or HTTPRoute routes ${this.host} on ${this.target.location}.`);
    await this.target.writeRequestAnnotation(ref, request);
  }

  async clearRequest(id?: string): Promise<void> {
    const ref = await this.route();
    if (!ref) return;
    if (id !== undefined) {
      const current = await this.readRequest();
      if (!current || current.id !== id) return;
    }
    const o = await getObject(this.target.client, kindRefOf(ref), ref.namespace, ref.name);
    if (o?.metadata.annotations?.[SHIFT_REQUEST_ANNOTATION]) await this.target.removeAnnotation(ref, SHIFT_REQUEST_ANNOTATION, REQUEST_FIELD_MANAGER);
  }
}

/** A shift's figures from Prometheus, per subset (Istio's destination_version label mapped through the DestinationRule). */
/** The gates' reader --metrics chose (decided at the first read), with "metrics unavailable" as a hold. */
class ChosenTraffic implements TrafficReader {
  private reader: Promise<TrafficReader> | null = null;

  constructor(private readonly target: KubernetesTarget, private readonly options: { host?: string; hosts?: string[] }) {}

  private chosen(): Promise<TrafficReader> {
    this.reader ??= this.target.chooseMetrics().then((m) => (m === 'envoy'
      ? new EnvoyStatsTraffic(this.target.envoyStats(), this.options.host, this.options.hosts)
      : new PrometheusTraffic(this.target, this.options.host, this.options.hosts)));
    return this.reader;
  }

  async startNow(): Promise<void> {
    try {
      await (await this.chosen()).startNow();
    } catch (err) {
      // The first window's reading says it again, where the shift holds for it.
      if (!(err instanceof MetricsUnavailable)) throw err;
    }
  }

  async figures(window: TrafficWindow, options: { host?: string; mirrored?: boolean } = {}): Promise<UpstreamFigures[]> {
    try {
      return await (await this.chosen()).figures(window, options);
    } catch (err) {
      if (err instanceof MetricsUnavailable) throw new MeshctlError(`metrics unavailable: ${err.message}; the shift holds where it is`, EXIT.held);
      throw err;
    }
  }
}

class PrometheusTraffic implements TrafficReader {
  private subsets: Map<string, string> | null = null;

  constructor(private readonly target: KubernetesTarget, private readonly host?: string, private readonly hosts: string[] = []) {}

  async startNow(): Promise<void> {
    // Prometheus keeps the counters: a window is a range query, nothing to start.
  }

  async figures(window: TrafficWindow, options: { host?: string; mirrored?: boolean } = {}): Promise<UpstreamFigures[]> {
    const host = options.host ?? this.host;
    // Mirrored copies are not told apart in Istio's standard metrics.
    if (options.mirrored) return [];
    const endpoint = this.target.promQuery();
    if (!host) {
      // An HTTPRoute's backends: one destination service each, whatever its versions.
      const figures = await Promise.all(this.hosts.map(async (h) => ({ host: h, subset: '', ...(await promqlFigures(endpoint, { service: h, versions: [] }, window)) })));
      return figures.filter((f) => f.requests > 0);
    }
    this.subsets ??= await this.target.subsetsByVersion(host);
    // A DestinationRule's subsets are told apart by their version label; without subsets each version is one.
    const versionsBySubset = new Map<string, string[]>();
    for (const [version, subset] of this.subsets) versionsBySubset.set(subset, [...(versionsBySubset.get(subset) ?? []), version]);
    if (!this.subsets.size) for (const version of await servedVersions(endpoint, host, window)) versionsBySubset.set(version, [version]);
    const figures = await Promise.all([...versionsBySubset].map(async ([subset, versions]) => ({ host, subset, ...(await promqlFigures(endpoint, { service: host, versions }, window)) })));
    return figures.filter((f) => f.requests > 0);
  }
}

