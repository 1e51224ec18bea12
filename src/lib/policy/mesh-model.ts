// The local mesh's view of policy: resources (Workload, Service, ServiceEntry, VirtualService,
// DestinationRule, Gateway, PeerAuthentication) normalised into typed specs, and the pods they ask
// for. The HAProxy compiler (runtime/haproxy/compiler.ts) reads only this model; it sits in the
// policy layer so that the runtime below the mesh can read it.
import type { Resource } from './load.js';
import { K } from './kinds.js';
import { notEnforcedNotes } from './local-enforcement.js';
import { parseDuration } from './duration.js';
import { hostKey, serviceHost, serviceOfFqdn } from './hosts.js';
import { selectorMatches } from './selectors.js';
import { authorizationPolicySpec, type AuthorizationPolicySpec } from './authorization.js';
import { retryOnList } from './retry-conditions.js';
import {
  listOf,
  objectOf,
  specOf,
  type DestinationRuleSpecTrafficPolicy,
  type DestinationRuleSpecTrafficPolicyLoadBalancer,
  type Mistyped,
  type VirtualServiceSpecHttp,
  type VirtualServiceSpecHttpFaultAbort,
  type VirtualServiceSpecHttpFaultDelay,
  type VirtualServiceSpecHttpHeaders,
  type VirtualServiceSpecHttpHeadersRequest,
  type VirtualServiceSpecHttpMirror,
} from './spec.js';
import { translateGatewayApi } from './gateway-api/translate.js';
import type { StringMatch, HttpMatch, HeaderOperations, RouteHeaders, RouteDestination, HttpRoute, RouteMirror, VirtualServiceSpec, GatewayServerSpec, GatewaySpec } from './route-model.js';
import type { RouteStatus } from './gateway-api/status.js';
import { effectiveMtlsMode, peerAuthenticationOf, type MtlsMode, type PeerAuthenticationSpec } from './peer-authentication.js';
import { rateLimitsOf, type RateLimitSpec } from './rate-limit.js';
import { sidecarSpecOf, type SidecarSpec } from './sidecar-scope.js';

export type { MtlsMode, PeerAuthenticationSpec } from './peer-authentication.js';

export const CLUSTER_DOMAIN = 'cluster.local';
export const DEFAULT_ROOT_NAMESPACE = 'istio-system';

// ---------------------------------------------------------------- policy specs

// The route specs live in route-model.ts, which the Gateway API translation shares without a cycle.
export type { StringMatch, HttpMatch, HeaderOperations, RouteHeaders, RouteDestination, HttpRoute, RouteMirror, VirtualServiceSpec, GatewayServerSpec, GatewaySpec } from './route-model.js';

export type LoadBalancerPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH';

/** `loadBalancer.consistentHash`: what a request is hashed on, so that one key reaches one pod. */
export type ConsistentHash =
  | { on: 'header'; name: string }
  | { on: 'cookie'; name: string; path: string; ttlMs: number | null }
  | { on: 'sourceIp' }
  | { on: 'queryParameter'; name: string };

/** `connectionPool`, the fields the local mesh enforces (null: Istio's default, no limit). */
export interface ConnectionPool {
  maxConnections: number | null;
  connectTimeoutMs: number | null;
  maxPendingRequests: number | null;
  maxRequestsPerConnection: number | null;
  idleTimeoutMs: number | null;
}

/** `outlierDetection`, the fields the local mesh enforces. */
export interface OutlierDetection {
  consecutive5xxErrors: number;
  /** How often ejections are swept: an ejected pod returns at the first sweep after its ejection time. */
  intervalMs: number;
  baseEjectionTimeMs: number;
}

/**
 * The parts of a `trafficPolicy` that the sidecar enforces beyond `loadBalancer.simple`. A subset's
 * policy replaces the rule's field by field (loadBalancer, connectionPool, outlierDetection), as in Istio.
 */
export interface TrafficPolicy {
  consistentHash: ConsistentHash | null;
  connectionPool: ConnectionPool | null;
  outlierDetection: OutlierDetection | null;
}

export interface SubsetSpec {
  name: string;
  labels: Record<string, string>;
  loadBalancer: LoadBalancerPolicy | null;
  trafficPolicy: TrafficPolicy;
}

export interface DestinationRuleSpec {
  name: string;
  namespace: string;
  host: string;
  fqdn: string;
  loadBalancer: LoadBalancerPolicy | null;
  trafficPolicy: TrafficPolicy;
  subsets: SubsetSpec[];
  resource: Resource;
}

export interface MeshService {
  /** Fully qualified host: `<name>.<ns>.svc.cluster.local` for Services, as written for ServiceEntries. */
  host: string;
  name: string;
  namespace: string;
  kind: 'Service' | 'ServiceEntry';
  /** Pod selector (Service selector, ServiceEntry workloadSelector); null selects no pod. */
  selector: Record<string, string> | null;
  ports: { name: string; port: number; protocol: string }[];
  /** ServiceEntry static endpoints (called in plaintext: they are outside the mesh). */
  endpoints: { address: string; port: number | null }[];
  resource: Resource;
}

export interface WorkloadSpec {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  command: string[];
  env: Record<string, string>;
  /** The port the app serves (its Service's targetPort); the pod's loopback app port is assigned per replica. */
  port: number | null;
  replicas: number;
  serviceAccount: string;
  resource: Resource;
}

export interface MeshModel {
  rootNamespace: string;
  namespaces: Set<string>;
  workloads: WorkloadSpec[];
  services: MeshService[];
  virtualServices: VirtualServiceSpec[];
  destinationRules: DestinationRuleSpec[];
  gateways: GatewaySpec[];
  peerAuthentications: PeerAuthenticationSpec[];
  authorizationPolicies: AuthorizationPolicySpec[];
  /** HTTPRoute status as a Gateway API controller would write it. */
  routeStatuses: RouteStatus[];
  /** RateLimit resources and the EnvoyFilter local rate limits the mesh reads (rate-limit.ts). */
  rateLimits: RateLimitSpec[];
  /** Sidecar resources: which hosts each pod's sidecar knows (sidecar-scope.ts). */
  sidecars: SidecarSpec[];
  /** Policy the local mesh reads but does not enforce, one sentence each. */
  notes: string[];
}

// ---------------------------------------------------------------- building the model

function record(v: unknown): Record<string, string> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) out[k] = val === null || val === undefined ? '' : String(val);
  return out;
}

function list<T = unknown>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

/** A StringMatch as written: every match field (uri, method, authority, a header's) has these three. */
type StringMatchInput = { exact?: string | Mistyped; prefix?: string | Mistyped; regex?: string | Mistyped } | Mistyped | undefined;

function stringMatch(v: StringMatchInput): StringMatch | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = objectOf(v);
  if (typeof o.exact === 'string') return { exact: o.exact };
  if (typeof o.prefix === 'string') return { prefix: o.prefix };
  if (typeof o.regex === 'string') return { regex: o.regex };
  return undefined;
}

function matchRecord(v: { [name: string]: StringMatchInput } | Mistyped | undefined, lower: boolean): Record<string, StringMatch> {
  const out: Record<string, StringMatch> = {};
  if (!v || typeof v !== 'object') return out;
  for (const [k, m] of Object.entries(objectOf(v))) {
    const sm = stringMatch(m);
    if (sm) out[lower ? k.toLowerCase() : k] = sm;
  }
  return out;
}

function headerOperations(v: VirtualServiceSpecHttpHeadersRequest | Mistyped | undefined): HeaderOperations {
  const o = objectOf(v);
  return { set: record(o.set), add: record(o.add), remove: listOf(o.remove).map(String) };
}

/** A route's or a destination's headers (the two have the same fields). */
function routeHeaders(v: VirtualServiceSpecHttpHeaders | Mistyped | undefined): RouteHeaders {
  const o = objectOf(v);
  return { request: headerOperations(o.request), response: headerOperations(o.response) };
}

/** A duration field in milliseconds, read as validate reads it (Go's syntax: `1m30s`, `250us`); null when absent or unreadable. */
function durationField(v: unknown): number | null {
  return typeof v === 'string' ? (parseDuration(v) ?? null) : null;
}

/** A DestinationRule's traffic policy as written (a subset's has the same fields). */
type TrafficPolicyInput = DestinationRuleSpecTrafficPolicy | Mistyped | undefined;

function loadBalancer(v: TrafficPolicyInput): LoadBalancerPolicy | null {
  const simple = objectOf(objectOf(v).loadBalancer).simple;
  if (simple === 'ROUND_ROBIN' || simple === 'RANDOM' || simple === 'PASSTHROUGH') return simple;
  if (simple === 'LEAST_REQUEST' || simple === 'LEAST_CONN') return 'LEAST_REQUEST';
  return null;
}

function positiveInteger(v: unknown): number | null {
  // Istio reads 0 in these fields as "not set".
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null;
}

function consistentHash(lb: DestinationRuleSpecTrafficPolicyLoadBalancer | Mistyped): ConsistentHash | null {
  const written = objectOf(lb).consistentHash;
  if (!written || typeof written !== 'object') return null;
  const h = objectOf(written);
  if (typeof h.httpHeaderName === 'string' && h.httpHeaderName) return { on: 'header', name: h.httpHeaderName.toLowerCase() };
  const cookie = h.httpCookie ? objectOf(h.httpCookie) : undefined;
  if (cookie && typeof cookie.name === 'string' && cookie.name) {
    return { on: 'cookie', name: cookie.name, path: typeof cookie.path === 'string' && cookie.path ? cookie.path : '/', ttlMs: cookie.ttl === undefined ? null : durationField(cookie.ttl) };
  }
  if (h.useSourceIp === true) return { on: 'sourceIp' };
  if (typeof h.httpQueryParameterName === 'string' && h.httpQueryParameterName) return { on: 'queryParameter', name: h.httpQueryParameterName };
  return null;
}

function trafficPolicy(v: TrafficPolicyInput, base?: TrafficPolicy): TrafficPolicy {
  const tp = objectOf(v);
  const lb = tp.loadBalancer && typeof tp.loadBalancer === 'object' ? tp.loadBalancer : null;
  const cp = tp.connectionPool;
  const od = tp.outlierDetection;
  const tcp = objectOf(objectOf(cp).tcp);
  const http = objectOf(objectOf(cp).http);
  const outlier = objectOf(od);
  // Istio's defaults: 5 consecutive 5xx, a 10 s sweep, 30 s ejection.
  const consecutive = od ? (typeof outlier.consecutive5xxErrors === 'number' ? outlier.consecutive5xxErrors : 5) : 0;
  return {
    consistentHash: lb ? consistentHash(lb) : base?.consistentHash ?? null,
    connectionPool: cp && typeof cp === 'object'
      ? {
        maxConnections: positiveInteger(tcp.maxConnections),
        connectTimeoutMs: durationField(tcp.connectTimeout),
        maxPendingRequests: positiveInteger(http.http1MaxPendingRequests),
        maxRequestsPerConnection: positiveInteger(http.maxRequestsPerConnection),
        idleTimeoutMs: durationField(http.idleTimeout),
      }
      : base?.connectionPool ?? null,
    // consecutive5xxErrors 0 turns consecutive-error ejection off.
    outlierDetection: od && typeof od === 'object'
      ? (consecutive > 0 ? { consecutive5xxErrors: consecutive, intervalMs: durationField(outlier.interval) || 10_000, baseEjectionTimeMs: durationField(outlier.baseEjectionTime) ?? 30_000 } : null)
      : base?.outlierDetection ?? null,
  };
}

function clampPercent(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(100, Math.max(0, v)) : null;
}

function mirrorDestination(d: VirtualServiceSpecHttpMirror | Mistyped | undefined, percent: number, vsNamespace: string): RouteMirror | null {
  const dest = objectOf(d);
  if (typeof dest.host !== 'string' || !dest.host) return null;
  const portNumber = objectOf(dest.port).number;
  return {
    host: dest.host,
    fqdn: hostKey(vsNamespace, dest.host),
    subset: typeof dest.subset === 'string' ? dest.subset : '',
    port: typeof portNumber === 'number' ? portNumber : null,
    percent,
  };
}

/**
 * An http route's mirrors, with Istio's semantics: \`mirror\` with \`mirrorPercentage.value\` (or the
 * older \`mirrorPercent\`), 100 when neither is given; or \`mirrors\`, each with its own \`percentage\`.
 */
function routeMirrors(h: VirtualServiceSpecHttp, vsNamespace: string): RouteMirror[] {
  const out: RouteMirror[] = [];
  if (h.mirror) {
    const percent = clampPercent(objectOf(h.mirrorPercentage).value) ?? clampPercent(h.mirrorPercent) ?? 100;
    const m = mirrorDestination(h.mirror, percent, vsNamespace);
    if (m) out.push(m);
  }
  for (const raw of listOf(h.mirrors)) {
    const item = objectOf(raw);
    const percent = clampPercent(objectOf(item.percentage).value) ?? 100;
    const m = mirrorDestination(item.destination, percent, vsNamespace);
    if (m) out.push(m);
  }
  return out;
}

function gatewayRef(ref: string, vsNamespace: string): string {
  if (ref === 'mesh') return 'mesh';
  return ref.includes('/') ? ref : `${vsNamespace}/${ref}`;
}

/** Builds the model from loaded resources; resources of other kinds are ignored. */
export function buildMeshModel(resources: Resource[], options: { rootNamespace?: string } = {}): MeshModel {
  const rootNamespace = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const notes: string[] = [];
  const namespaces = new Set<string>(['default', rootNamespace]);
  for (const r of resources) {
    if (r.namespace) namespaces.add(r.namespace);
    if (r.kindId === K.Namespace) namespaces.add(r.name);
  }
  const sorted = [...resources].sort((a, b) => (a.namespace + '/' + a.name).localeCompare(b.namespace + '/' + b.name));
  const of = (kind: string) => sorted.filter((r) => r.kindId === kind);
  const ns = (r: Resource) => r.namespace || 'default';
  // What the sidecars will not enforce is said first, one sentence per field (local-enforcement.ts).
  notes.push(...notEnforcedNotes(sorted));

  const workloads: WorkloadSpec[] = of(K.Workload).map((r) => {
    const spec = specOf(r, K.Workload);
    const replicas = typeof spec.replicas === 'number' && Number.isInteger(spec.replicas) && spec.replicas >= 0 ? spec.replicas : 1;
    return {
      name: r.name,
      namespace: ns(r),
      labels: { ...r.labels },
      command: listOf(spec.command).map(String),
      env: record(spec.env),
      port: typeof spec.port === 'number' && Number.isInteger(spec.port) ? spec.port : null,
      replicas,
      serviceAccount: typeof spec.serviceAccount === 'string' && spec.serviceAccount ? spec.serviceAccount : 'default',
      resource: r,
    };
  });

  const services: MeshService[] = [];
  for (const r of of(K.Service)) {
    const spec = r.spec ?? {};
    services.push({
      host: serviceHost(r.name, ns(r)),
      name: r.name,
      namespace: ns(r),
      kind: 'Service',
      selector: spec.selector && typeof spec.selector === 'object' ? record(spec.selector) : null,
      ports: list<Record<string, unknown>>(spec.ports).map((p) => ({ name: String(p.name ?? ''), port: Number(p.port), protocol: String(p.protocol ?? 'TCP') })),
      endpoints: [],
      resource: r,
    });
  }
  for (const r of of(K.ServiceEntry)) {
    const spec = specOf(r, K.ServiceEntry);
    const selectorLabels = objectOf(spec.workloadSelector).labels;
    const selector = selectorLabels ? record(selectorLabels) : null;
    const ports = listOf(spec.ports).map(objectOf).map((p) => ({ name: String(p.name ?? ''), port: Number(p.number), protocol: String(p.protocol ?? 'HTTP') }));
    const endpoints = listOf(spec.endpoints)
      .map(objectOf)
      .filter((e) => typeof e.address === 'string')
      .map((e) => {
        const portMap = record(e.ports);
        const first = Object.values(portMap)[0];
        return { address: String(e.address), port: first ? Number(first) : ports[0]?.port ?? null };
      });
    for (const host of listOf(spec.hosts)) {
      services.push({ host: hostKey(ns(r), String(host)), name: r.name, namespace: ns(r), kind: 'ServiceEntry', selector, ports, endpoints, resource: r });
    }
  }

  const virtualServices: VirtualServiceSpec[] = of(K.VirtualService).map((r) => {
    const spec = specOf(r, K.VirtualService);
    const vsNs = ns(r);
    const gateways = listOf(spec.gateways).map((g) => gatewayRef(String(g), vsNs));
    const http: HttpRoute[] = listOf(spec.http).map((item, index) => {
      const h = objectOf(item);
      const routeList = listOf(h.route).map(objectOf);
      const explicit = routeList.some((d) => typeof d.weight === 'number');
      const route: RouteDestination[] = routeList.map((d) => {
        const dest = objectOf(d.destination);
        const host = String(dest.host ?? '');
        const portNumber = objectOf(dest.port).number;
        return {
          host,
          fqdn: hostKey(vsNs, host),
          subset: typeof dest.subset === 'string' ? dest.subset : '',
          port: typeof portNumber === 'number' ? portNumber : null,
          // Istio: one destination takes all traffic; unweighted destinations beside weighted ones take none.
          weight: typeof d.weight === 'number' ? d.weight : explicit ? 0 : routeList.length === 1 ? 100 : Math.floor(100 / routeList.length),
          headers: routeHeaders(d.headers),
        };
      });
      // Each of these is read when it is written at all (a value of another type reads as an empty mapping).
      const rw = h.rewrite ? objectOf(h.rewrite) : undefined;
      const rd = h.redirect ? objectOf(h.redirect) : undefined;
      const dr = h.directResponse ? objectOf(h.directResponse) : undefined;
      const retries = h.retries && typeof h.retries === 'object' ? objectOf(h.retries) : undefined;
      const fault = h.fault ? objectOf(h.fault) : undefined;
      const delay = fault?.delay ? objectOf(fault.delay) : undefined;
      const abort = fault?.abort ? objectOf(fault.abort) : undefined;
      const percent = (o: VirtualServiceSpecHttpFaultDelay | VirtualServiceSpecHttpFaultAbort | undefined) => {
        const p = objectOf(o?.percentage).value ?? (o && 'percent' in o ? o.percent : undefined);
        return typeof p === 'number' ? Math.min(100, Math.max(0, p)) : 100;
      };
      const mirrors = routeMirrors(h, vsNs);
      if (mirrors.length && (h.redirect || h.directResponse)) notes.push(`VirtualService ${vsNs}/${r.name} http[${index}]: a route that answers itself (redirect or directResponse) sends no request to mirror; its mirror is ignored.`);
      return {
        name: typeof h.name === 'string' ? h.name : '',
        index,
        match: listOf(h.match).map(objectOf).map((m) => ({
          uri: stringMatch(m.uri),
          method: stringMatch(m.method),
          authority: stringMatch(m.authority),
          headers: matchRecord(m.headers, true),
          withoutHeaders: matchRecord(m.withoutHeaders, true),
          queryParams: matchRecord(m.queryParams, false),
          ignoreUriCase: m.ignoreUriCase === true,
        })),
        route,
        rewrite: rw && (typeof rw.uri === 'string' || typeof rw.authority === 'string')
          ? { ...(typeof rw.uri === 'string' ? { uri: rw.uri } : {}), ...(typeof rw.authority === 'string' ? { authority: rw.authority } : {}) }
          : null,
        headers: routeHeaders(h.headers),
        timeoutMs: durationField(h.timeout),
        retries: retries && typeof retries === 'object'
          ? { attempts: typeof retries.attempts === 'number' ? retries.attempts : 0, retryOn: retryOnList(retries.retryOn), perTryTimeoutMs: durationField(retries.perTryTimeout) }
          : null,
        redirect: rd ? { ...(typeof rd.uri === 'string' ? { uri: rd.uri } : {}), ...(typeof rd.authority === 'string' ? { authority: rd.authority } : {}), code: typeof rd.redirectCode === 'number' ? rd.redirectCode : 301 } : null,
        directResponse: dr && typeof dr.status === 'number'
          ? { status: dr.status, body: String(objectOf(dr.body).string ?? '') }
          : null,
        fault: delay || abort
          ? {
            delayMs: durationField(delay?.fixedDelay),
            delayPercent: percent(delay),
            abortStatus: typeof abort?.httpStatus === 'number' ? abort.httpStatus : null,
            abortPercent: percent(abort),
          }
          : null,
        mirrors,
      };
    });
    return { name: r.name, namespace: vsNs, hosts: listOf(spec.hosts).map(String), gateways: gateways.length ? gateways : ['mesh'], http, resource: r };
  });

  const destinationRules: DestinationRuleSpec[] = of(K.DestinationRule).map((r) => {
    const spec = specOf(r, K.DestinationRule);
    return {
      name: r.name,
      namespace: ns(r),
      host: String(spec.host ?? ''),
      fqdn: hostKey(ns(r), String(spec.host ?? '')),
      loadBalancer: loadBalancer(spec.trafficPolicy),
      trafficPolicy: trafficPolicy(spec.trafficPolicy),
      subsets: listOf(spec.subsets).map(objectOf).map((s) => ({
        name: String(s.name ?? ''),
        labels: record(s.labels),
        loadBalancer: loadBalancer(s.trafficPolicy),
        trafficPolicy: trafficPolicy(s.trafficPolicy, trafficPolicy(spec.trafficPolicy)),
      })),
      resource: r,
    };
  });

  const gateways: GatewaySpec[] = of(K.Gateway).map((r) => {
    const spec = specOf(r, K.Gateway);
    const servers = listOf(spec.servers).map(objectOf).map((s) => {
      const port = objectOf(s.port);
      return {
        port: Number(port.number),
        protocol: String(port.protocol ?? 'HTTP').toUpperCase(),
        hosts: listOf(s.hosts).map((h) => String(h).includes('/') ? String(h).split('/')[1] : String(h)).map((h) => h.toLowerCase()),
      };
    });
    return { name: r.name, namespace: ns(r), selector: record(spec.selector), servers, resource: r };
  });

  const peerAuthentications: PeerAuthenticationSpec[] = of(K.PeerAuthentication).map((r) => peerAuthenticationOf(r, ns(r)));

  const authorizationPolicies = of(K.AuthorizationPolicy).map(authorizationPolicySpec);
  // Gateway API resources become gateways and routes of the same shape.
  const gatewayApi = translateGatewayApi(sorted);
  gateways.push(...gatewayApi.gateways);
  virtualServices.push(...gatewayApi.virtualServices);
  notes.push(...gatewayApi.notes);

  const rateLimits = rateLimitsOf(sorted, ns, rootNamespace);
  const sidecars = of(K.Sidecar).map((r) => sidecarSpecOf(r, ns(r)));
  return { rootNamespace, namespaces, workloads, services, virtualServices, destinationRules, gateways, peerAuthentications, authorizationPolicies, routeStatuses: gatewayApi.statuses, rateLimits, sidecars, notes };
}

// ---------------------------------------------------------------- queries

/** The service behind a resolved host, if the model defines one. */
export function serviceFor(model: MeshModel, fqdn: string): MeshService | undefined {
  return model.services.find((s) => s.host === fqdn);
}

/** The pods a service's selector picks (same namespace for Services and ServiceEntries). */
export function podsOfService<P extends { namespace: string; labels: Record<string, string> }>(service: MeshService, pods: P[]): P[] {
  if (!service.selector) return [];
  const selector = service.selector;
  return pods.filter((p) => p.namespace === service.namespace && selectorMatches(selector, p.labels));
}

/** The DestinationRule for a host: the one in the caller's namespace wins, then the host's, then the root namespace's. */
export function destinationRuleFor(model: MeshModel, fqdn: string, callerNamespace: string): DestinationRuleSpec | undefined {
  const candidates = model.destinationRules.filter((d) => d.fqdn === fqdn);
  const hostNs = serviceOfFqdn(fqdn)?.namespace ?? '';
  return candidates.find((d) => d.namespace === callerNamespace)
    ?? candidates.find((d) => d.namespace === hostNs)
    ?? candidates.find((d) => d.namespace === model.rootNamespace)
    ?? candidates[0];
}

/** A pod's effective mTLS mode for its app's port (peer-authentication.ts: Istio's composition, PERMISSIVE by default). */
export function mtlsModeOf(model: MeshModel, pod: { namespace: string; labels: Record<string, string>; workload?: string }): MtlsMode {
  const appPort = model.workloads.find((w) => w.name === pod.workload && w.namespace === pod.namespace)?.port ?? null;
  return effectiveMtlsMode(model, pod, appPort);
}

/** A pod the model asks for, before the control plane gives it ports and a directory. */
export interface PodSpec {
  name: string;
  namespace: string;
  workload: string;
  labels: Record<string, string>;
  serviceAccount: string;
  command: string[];
  env: Record<string, string>;
  replica: number;
}

/** `<workload>-<n>` for every replica of every Workload. */
export function desiredPods(model: MeshModel): PodSpec[] {
  return model.workloads.flatMap((w) => Array.from({ length: w.replicas }, (_, n) => ({
    name: `${w.name}-${n}`,
    namespace: w.namespace,
    workload: w.name,
    labels: { ...w.labels },
    serviceAccount: w.serviceAccount,
    command: [...w.command],
    env: { ...w.env },
    replica: n,
  })));
}

/** The VirtualServices bound to a Gateway (`<ns>/<name>`), in model order. */
export function virtualServicesOfGateway(model: MeshModel, gateway: { namespace: string; name: string }): VirtualServiceSpec[] {
  const ref = `${gateway.namespace}/${gateway.name}`;
  return model.virtualServices.filter((vs) => vs.gateways.includes(ref));
}

/** The VirtualServices that apply to sidecars (bound to `mesh`, explicitly or by default). */
export function meshVirtualServices(model: MeshModel): VirtualServiceSpec[] {
  return model.virtualServices.filter((vs) => vs.gateways.includes('mesh'));
}
