// The canonical form two resources are compared in, so that what means the same compares equal: `1000ms`
// and `1s`, a short host and its FQDN, defaults written out or omitted, `weight: 100` on a lone destination,
// lists whose order means nothing. Leaves that were rewritten keep the text the user wrote, for display.
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { parseDurationNanos } from '../duration.js';
import { hostKey } from '../hosts.js';
import { listStrategy, type ListStrategy } from './lists.js';
import type { Mistyped, SpecByKind } from '../spec.js';

/** A leaf compared by `key` (a duration in nanoseconds, a qualified host) but shown as `raw`. */
export class Canonical {
  constructor(
    readonly key: string,
    readonly raw: unknown,
  ) {}

  toJSON(): unknown {
    return this.raw;
  }
}

/** A mapping of the canonical form, as a field of a typed spec names it (a rewritten leaf is not one). */
export function isMapping<T extends object>(v: T | Mistyped | null | undefined): v is T {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Canonical);
}

/**
 * The canonical spec of a resource, read through its kind's type: a leaf the canonical form rewrote (a
 * Canonical) is not a value of the field's type, which the types already allow for (Mistyped).
 */
export function canonicalSpecOf<Id extends keyof SpecByKind>(r: Resource | undefined, _kindId: Id): SpecByKind[Id] {
  if (!r) return {};
  const spec: unknown = canonicalResource(r).spec;
  return isMapping(spec as SpecByKind[Id]) ? (spec as SpecByKind[Id]) : {};
}

/** Lists compared as sets or maps: their canonical text sorts the items. */
const UNORDERED = new WeakSet<unknown[]>();
/** The strategy each canonical list was built with. */
const STRATEGY = new WeakMap<unknown[], ListStrategy>();

export function strategyOf(list: unknown[]): ListStrategy {
  return STRATEGY.get(list) ?? { type: 'ordered' };
}

/** A leaf's comparable text. */
export function leafText(v: unknown): string {
  if (v instanceof Canonical) return v.key;
  return typeof v === 'string' ? v : JSON.stringify(v) ?? '';
}

/** One string per canonical value: equal strings, equal meaning. */
export function stableKey(v: unknown): string {
  if (v instanceof Canonical) return JSON.stringify(`\u0001${v.key}`);
  if (Array.isArray(v)) {
    const items = v.map(stableKey);
    if (UNORDERED.has(v)) items.sort();
    return `[${items.join(',')}]`;
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableKey(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Back to plain values, with each rewritten leaf as the user wrote it. */
export function plain(v: unknown): unknown {
  if (v instanceof Canonical) return v.raw;
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

const NOISY_ANNOTATIONS = new Set(['kubectl.kubernetes.io/last-applied-configuration', 'deployment.kubernetes.io/revision']);
/** Top-level members that are identity (compared by key), or written by the cluster rather than the author. */
const NOT_COMPARED = new Set(['apiVersion', 'kind', 'metadata', 'status']);

/**
 * What of a resource is compared: its labels, its annotations (without kubectl's bookkeeping) and every
 * top-level member but identity and status. JSON pointers into it are pointers into the resource.
 */
export function comparableView(r: Resource): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  const metadata: Record<string, unknown> = {};
  const md = r.metadata as Record<string, unknown>;
  if (md.labels && typeof md.labels === 'object') metadata.labels = md.labels;
  if (md.annotations && typeof md.annotations === 'object') {
    const annotations: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(md.annotations as Record<string, unknown>)) if (!NOISY_ANNOTATIONS.has(k)) annotations[k] = v;
    metadata.annotations = annotations;
  }
  view.metadata = metadata;
  const obj = r.object as Record<string, unknown>;
  for (const [k, v] of Object.entries(obj)) if (!NOT_COMPARED.has(k)) view[k] = v;
  return view;
}

const DURATION_FIELDS = new Set([
  'timeout', 'perTryTimeout', 'connectTimeout', 'idleTimeout', 'interval', 'baseEjectionTime', 'fixedDelay', 'exponentialDelay',
  'maxConnectionDuration', 'maxStreamDuration', 'maxAge', 'drainDuration', 'backoffBaseInterval',
]);

function isDurationField(key: string, parent: string): boolean {
  if (DURATION_FIELDS.has(key)) return true;
  if (parent === 'tcpKeepalive' && key === 'time') return true;
  return parent === 'timeouts' && (key === 'request' || key === 'backendRequest');
}

const MAX_U32 = 4294967295;
/** Istio's documented defaults for DestinationRule traffic policy fields, by `parent.field`. */
const TRAFFIC_POLICY_DEFAULTS: Record<string, unknown> = {
  'outlierDetection.consecutive5xxErrors': 5,
  'outlierDetection.consecutiveGatewayErrors': 0,
  'outlierDetection.interval': '10s',
  'outlierDetection.baseEjectionTime': '30s',
  'outlierDetection.maxEjectionPercent': 10,
  'outlierDetection.minHealthPercent': 0,
  'outlierDetection.splitExternalLocalOriginErrors': false,
  'tcp.maxConnections': MAX_U32,
  'tcp.connectTimeout': '10s',
  'http.http1MaxPendingRequests': MAX_U32,
  'http.http2MaxRequests': MAX_U32,
  'http.maxRequestsPerConnection': 0,
  'http.maxRetries': MAX_U32,
  'http.idleTimeout': '1h',
  'http.h2UpgradePolicy': 'DEFAULT',
  'http.useClientProtocol': false,
  'loadBalancer.simple': 'UNSPECIFIED',
};

const GATEWAY_API_DEFAULTS: Record<string, unknown> = {
  'parentRefs.*.group': 'gateway.networking.k8s.io',
  'parentRefs.*.kind': 'Gateway',
  'backendRefs.*.group': '',
  'backendRefs.*.kind': 'Service',
  'path.type': 'PathPrefix',
  'headers.*.type': 'Exact',
  'queryParams.*.type': 'Exact',
  'method.type': 'Exact',
};

/** Empty objects that mean something: an empty outlierDetection turns ejection on with its defaults. */
const PRESENCE_MATTERS = new Set(['outlierDetection', 'retries', 'tls', 'fault', 'delay', 'abort', 'mirror', 'corsPolicy', 'redirect', 'rewrite', 'directResponse']);

interface Context {
  kindId: string;
  namespace: string;
}

function defaultFor(ctx: Context, path: readonly string[]): unknown {
  const n = path.length;
  const key = path[n - 1]!;
  const parent = path[n - 2] ?? '';
  switch (ctx.kindId) {
    case K.DestinationRule:
      // An empty tls block is DISABLE (the enum's zero value), unlike no tls block at all (auto mTLS).
      if (parent === 'tls' && key === 'mode') return 'DISABLE';
      return TRAFFIC_POLICY_DEFAULTS[`${parent}.${key}`];
    case K.PeerAuthentication:
      return key === 'mode' ? 'UNSET' : undefined;
    case K.AuthorizationPolicy:
      return n === 2 && key === 'action' ? 'ALLOW' : undefined;
    case K.Service:
      if (n === 2) return key === 'type' ? 'ClusterIP' : key === 'sessionAffinity' ? 'None' : key === 'internalTrafficPolicy' ? 'Cluster' : undefined;
      return parent === '*' && path[n - 3] === 'ports' && key === 'protocol' ? 'TCP' : undefined;
    case K.HTTPRoute:
    case K.GRPCRoute: {
      const grand = path[n - 3] ?? '';
      return GATEWAY_API_DEFAULTS[`${parent}.${key}`] ?? GATEWAY_API_DEFAULTS[`${grand}.${parent}.${key}`];
    }
    case K.Deployment:
      return n === 2 && key === 'replicas' ? 1 : undefined;
    default:
      return undefined;
  }
}

function isHostField(ctx: Context, path: readonly string[]): boolean {
  const n = path.length;
  const key = path[n - 1];
  const parent = path[n - 2];
  if (key === 'host' && (parent === 'destination' || parent === 'mirror')) return true;
  if (ctx.kindId === K.DestinationRule && n === 2 && key === 'host') return true;
  return ctx.kindId === K.VirtualService && n === 3 && path[1] === 'hosts';
}

function canonicalString(ctx: Context, path: readonly string[], s: string): unknown {
  const key = path[path.length - 1] ?? '';
  const parent = path[path.length - 2] ?? '';
  if (isDurationField(key, parent)) {
    const nanos = parseDurationNanos(s.trim());
    return nanos === undefined ? s : new Canonical(`d:${nanos}`, s);
  }
  if (isHostField(ctx, path)) return new Canonical(`h:${hostKey(ctx.namespace, s)}`, s);
  if (key === 'retryOn') {
    const tokens = [...new Set(s.split(',').map((t) => t.trim()).filter(Boolean))].sort();
    return new Canonical(`r:${tokens.join(',')}`, s);
  }
  return s;
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== 'object' || v instanceof Canonical;
}

function canonicalList(ctx: Context, path: readonly string[], list: unknown[]): unknown[] | undefined {
  const itemPath = [...path, '*'];
  // Positions are kept (a null stays a null) so that JSON pointers into the canonical list are pointers into the resource.
  const items = list.map((x) => canonical(ctx, itemPath, x, true) ?? null);
  if (items.length === 0) return undefined;
  const key = path[path.length - 1]!;
  const scalar = items.every(isScalar);
  const strategy = listStrategy(ctx.kindId, path, scalar, leafText);
  STRATEGY.set(items, strategy);
  if (strategy.type === 'set' || strategy.type === 'map') UNORDERED.add(items);
  // Lists whose only member is the default.
  if (key === 'exportTo' && path.length === 2 && items.length === 1 && items[0] === '*') return undefined;
  if (ctx.kindId === K.VirtualService && path.length === 2 && key === 'gateways' && items.every((g) => g === 'mesh')) return undefined;
  if (ctx.kindId === K.VirtualService && key === 'match' && items.some(matchesEverything)) return undefined;
  if ((ctx.kindId === K.HTTPRoute || ctx.kindId === K.GRPCRoute) && key === 'matches' && items.some(matchesEverything)) return undefined;
  if (ctx.kindId === K.VirtualService && key === 'route') normaliseWeights(items, 100);
  if ((ctx.kindId === K.HTTPRoute || ctx.kindId === K.GRPCRoute) && key === 'backendRefs') normaliseWeights(items, 1);
  return items;
}

/** A match that takes every request: an empty one, or a `/` prefix with nothing else. */
function matchesEverything(m: unknown): boolean {
  if (m === null || typeof m !== 'object') return false;
  const keys = Object.keys(m);
  if (keys.length === 0) return true;
  if (keys.length !== 1) return false;
  const only = (m as Record<string, unknown>)[keys[0]!] as Record<string, unknown> | undefined;
  if (keys[0] === 'uri') return !!only && Object.keys(only).length === 1 && only.prefix === '/';
  if (keys[0] === 'path') return !!only && Object.keys(only).length === 1 && only.value === '/';
  return false;
}

/**
 * A lone destination takes every request whatever its weight (unless the weight is 0 in Gateway API, where
 * that sends nothing); among several, a missing weight is Istio's 0 and Gateway API's 1.
 */
function normaliseWeights(items: unknown[], implicit: number): void {
  const objects = items.filter((i): i is Record<string, unknown> => i !== null && typeof i === 'object' && !Array.isArray(i));
  if (objects.length === 1) {
    const w = objects[0]!.weight;
    if (implicit === 100 || (typeof w === 'number' && w > 0)) delete objects[0]!.weight;
    return;
  }
  const dropped = implicit === 100 ? 0 : 1;
  for (const o of objects) if (o.weight === dropped) delete o.weight;
}

function canonical(ctx: Context, path: readonly string[], v: unknown, inList = false): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return canonicalString(ctx, path, v);
  if (typeof v !== 'object') return v;
  if (Array.isArray(v)) return canonicalList(ctx, path, v);
  const out: Record<string, unknown> = {};
  const src = v as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    const childPath = [...path, k];
    const c = canonical(ctx, childPath, src[k]);
    if (c === undefined) continue;
    const d = defaultFor(ctx, childPath);
    if (d !== undefined && stableKey(c) === stableKey(typeof d === 'string' ? canonicalString(ctx, childPath, d) : d)) continue;
    out[k] = c;
  }
  // A Service port's targetPort defaults to its port.
  if (ctx.kindId === K.Service && path[path.length - 2] === 'ports' && out.targetPort !== undefined && out.targetPort === out.port) delete out.targetPort;
  if (ctx.kindId === K.HTTPRoute || ctx.kindId === K.GRPCRoute) {
    const key = path[path.length - 2];
    if ((key === 'backendRefs' || key === 'parentRefs') && out.namespace === ctx.namespace) delete out.namespace;
  }
  if (!inList && Object.keys(out).length === 0 && !PRESENCE_MATTERS.has(path[path.length - 1] ?? '')) return undefined;
  return out;
}

const CACHE = new WeakMap<Resource, Record<string, unknown>>();

/** The canonical form of a resource's comparable view (memoised per resource). */
export function canonicalResource(r: Resource): Record<string, unknown> {
  let c = CACHE.get(r);
  if (!c) {
    c = (canonical({ kindId: r.kindId, namespace: r.namespace }, [], comparableView(r), true) ?? {}) as Record<string, unknown>;
    // Kept even when empty, so that a first label is reported at /metadata/labels, not at /metadata.
    c.metadata ??= {};
    CACHE.set(r, c);
  }
  return c;
}

