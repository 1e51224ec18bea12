// Helpers shared by analyzers: namespaces, sidecar membership, route shapes.
import type { AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { resolveShortName } from '../hosts.js';
import { K } from '../kinds.js';
import { listOf, objectOf, specOf, type Mistyped, type VirtualServiceSpecHttp, type VirtualServiceSpecHttpMatch, type VirtualServiceSpecHttpRouteDestination } from '../spec.js';

/** What asArray gives for anything but a list: one shared empty list (frozen, as callers only read it). */
const NO_ARRAY: unknown[] = Object.freeze([]) as unknown as unknown[];

export function asArray<T = unknown>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : (NO_ARRAY as T[]);
}

/** What asObject gives for anything but a mapping: one shared empty object (frozen, as callers only read it). */
const NO_OBJECT: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

export function asObject(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : NO_OBJECT;
}

// ---- Mesh membership, as Istio's analyzers judge it ----

/** Namespaces Istio never injects and whose Services its port-name check skips (istio-system is not one of them). */
export const INJECTION_IGNORED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage'];

/** A label or matchLabels map as strings (YAML may give numbers or booleans; null becomes ''). */
export function stringLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, val] of Object.entries(asObject(v))) out[key] = val === null || val === undefined ? '' : String(val);
  return out;
}

/** `app=a,version=v1`: a matchLabels selector printed the way Kubernetes prints it (keys sorted). */
export function selectorString(selector: Record<string, string>): string {
  return Object.keys(selector)
    .sort()
    .map((key) => `${key}=${selector[key]}`)
    .join(',');
}

/**
 * A meshctl Workload's labels: its metadata's, with any `spec.labels` on top. The Workload schema has no
 * spec.labels (validate reports one), but a selector is still judged on what the file says.
 */
export function localWorkloadLabels(w: Resource): Record<string, string> {
  return { ...w.labels, ...stringLabels(asObject(w.spec).labels) };
}

/** What the sidecar decision reads from a pod or a pod template. */
export interface PodShape {
  annotations: Record<string, string>;
  labels: Record<string, string>;
  namespace: string;
  containers: unknown[];
}

/** Looks up a Namespace resource's labels (the analysis context satisfies this). */
export interface NamespaceLookup {
  find(kindId: string, namespace: string, name: string): { labels: Record<string, string> } | undefined;
}

/**
 * Istio's sidecar decision: a container named istio-proxy with an image; otherwise the
 * sidecar.istio.io/inject label, then the annotation (only "true" injects); otherwise the
 * namespace's istio-injection=enabled label, when the Namespace is known.
 */
export function sidecarInjected(ctx: NamespaceLookup, pod: PodShape): boolean {
  for (const c of pod.containers) {
    const container = asObject(c);
    if (container.name === 'istio-proxy') {
      if (typeof container.image === 'string' && container.image !== '') return true;
      break;
    }
  }
  const inject = 'sidecar.istio.io/inject';
  if (inject in pod.labels) return pod.labels[inject] === 'true';
  if (inject in pod.annotations) return pod.annotations[inject] === 'true';
  const ns = ctx.find('core/Namespace', '', pod.namespace);
  if (ns) return ns.labels['istio-injection'] === 'enabled';
  return false;
}

/** A Pod resource's shape for the sidecar decision (init containers count, as in Istio). */
export function podShape(pod: { annotations: Record<string, string>; labels: Record<string, string>; namespace: string; spec: unknown }): PodShape {
  const spec = asObject(pod.spec);
  return { annotations: pod.annotations, labels: pod.labels, namespace: pod.namespace, containers: [...asArray(spec.containers), ...asArray(spec.initContainers)] };
}

/** A Deployment's pod template shape for the sidecar decision. */
export function deploymentPodShape(deployment: { namespace: string; spec: unknown }): PodShape {
  const template = asObject(asObject(deployment.spec).template);
  const metadata = asObject(template.metadata);
  return {
    annotations: stringLabels(metadata.annotations),
    labels: stringLabels(metadata.labels),
    namespace: deployment.namespace,
    containers: asArray(asObject(template.spec).containers),
  };
}

/** A pod captured by ambient mode (the redirection annotation the CNI sets). */
export function ambientRedirected(annotations: Record<string, string>): boolean {
  return annotations['ambient.istio.io/redirection'] === 'enabled';
}

/** An HTTP route as written: its fields, or a value of another type. */
export type HttpRouteInput = VirtualServiceSpecHttp | Mistyped | null | undefined;

/** How a message names a route: `route 2` or `route 2 ("canary")` when it has a name. */
export function routeLabel(route: HttpRouteInput, index: number): string {
  const name = objectOf(route).name;
  return typeof name === 'string' && name ? `route ${index} ("${name}")` : `route ${index}`;
}

/** Match fields that label a match without narrowing which requests it takes. */
const NON_NARROWING_MATCH_FIELDS = new Set(['name', 'statPrefix', 'ignoreUriCase']);

/**
 * True when one HTTPMatchRequest takes every request: it is empty, or its only condition is
 * `uri: {prefix: /}` (or `regex: .*`), which is how Envoy sees a route without a match.
 */
export function isCatchAllMatch(match: VirtualServiceSpecHttpMatch | Mistyped | null | undefined): boolean {
  if (match === null || match === undefined) return true;
  // Every field but the URI narrows, so the walk is over whatever fields are written.
  const m = objectOf(match) as Record<string, unknown>;
  for (const key of Object.keys(m)) {
    const value = m[key];
    if (NON_NARROWING_MATCH_FIELDS.has(key) || value === null || value === undefined) continue;
    if (key !== 'uri') return false;
    const uri = asObject(value);
    const kinds = Object.keys(uri).filter((k) => uri[k] !== null && uri[k] !== undefined);
    if (kinds.length !== 1) return false;
    if (!((kinds[0] === 'prefix' && uri.prefix === '/') || (kinds[0] === 'regex' && uri.regex === '.*'))) return false;
  }
  return true;
}

/** True when an HTTP route takes every request that reaches it: no match list, or one catch-all match in it. */
export function isCatchAllRoute(route: HttpRouteInput): boolean {
  const match = objectOf(route).match;
  if (!Array.isArray(match) || match.length === 0) return true;
  return match.some(isCatchAllMatch);
}

/** True when two hosts name the same service, short names read in `namespace`. */
export function sameHost(namespace: string, a: string, b: string): boolean {
  return resolveShortName(namespace, a).toLowerCase() === resolveShortName(namespace, b).toLowerCase();
}

/** One destination of a VirtualService route, with the JSON pointer of its `destination` object. */
export interface RouteDestination {
  /** `http`, `tcp` or `tls` for route destinations; `http.mirror` / `http.mirrors` for mirrors. */
  section: 'http' | 'tcp' | 'tls' | 'http.mirror' | 'http.mirrors';
  ruleIndex: number;
  /** Index in `route` (or `mirrors`); -1 for the single `mirror`. */
  index: number;
  destination: VirtualServiceSpecHttpRouteDestination;
  host: string;
  subset: string;
  /** The destination's port number, when it names one. */
  port: number | undefined;
  /** Pointer (from the resource root) of the destination object. */
  pointer: string;
  /** The host as an FQDN from `namespace` (the VirtualService's), worked out once per destination. */
  fqdnIn(names: { fqdn(namespace: string, host: string): string }, namespace: string): string;
}

/** A RouteDestination whose pointer is spelled out only when a finding needs it. */
class Destination implements RouteDestination {
  // Declared only (assigned in the constructor): a plain constructor is cheaper than class field definitions.
  declare readonly section: RouteDestination['section'];
  declare readonly ruleIndex: number;
  declare readonly index: number;
  declare readonly destination: VirtualServiceSpecHttpRouteDestination;
  declare readonly host: string;
  declare readonly subset: string;
  declare readonly port: number | undefined;
  declare private full: string | undefined;

  constructor(section: RouteDestination['section'], ruleIndex: number, index: number, value: VirtualServiceSpecHttpRouteDestination | Mistyped | undefined) {
    const destination = objectOf(value);
    const port = objectOf(destination.port).number;
    this.section = section;
    this.ruleIndex = ruleIndex;
    this.index = index;
    this.destination = destination;
    this.host = typeof destination.host === 'string' ? destination.host : '';
    this.subset = typeof destination.subset === 'string' ? destination.subset : '';
    this.port = port === undefined || port === null ? undefined : Number(port);
    this.full = undefined;
  }

  fqdnIn(names: { fqdn(namespace: string, host: string): string }, namespace: string): string {
    let full = this.full;
    if (full === undefined) this.full = full = names.fqdn(namespace, this.host);
    return full;
  }

  get pointer(): string {
    switch (this.section) {
      case 'http.mirror':
        return `/spec/http/${this.ruleIndex}/mirror`;
      case 'http.mirrors':
        return `/spec/http/${this.ruleIndex}/mirrors/${this.index}/destination`;
      default:
        return `/spec/${this.section}/${this.ruleIndex}/route/${this.index}/destination`;
    }
  }
}

// Several analyzers read the destinations of every VirtualService; resources do not change during an
// analysis, so each list is built once per analysis and shared (callers only read it).
interface DestinationLists {
  routes: readonly RouteDestination[];
  mirrors: readonly RouteDestination[];
}

function destinationLists(ctx: AnalysisContext, vs: Resource): DestinationLists {
  const lists = ctx.memo('util.destinations', newDestinationMap);
  let out = lists.get(vs);
  if (!out) lists.set(vs, (out = buildDestinationLists(vs)));
  return out;
}

function newDestinationMap(): Map<Resource, DestinationLists> {
  return new Map();
}

/** Every `route[].destination` of a VirtualService's tcp, tls and http rules, in that order; built once per analysis. */
export function routeDestinationsOf(ctx: AnalysisContext, vs: Resource): readonly RouteDestination[] {
  return destinationLists(ctx, vs).routes;
}

/** Every mirror destination of a VirtualService's http rules (`mirror`, `mirrors[].destination`); built once per analysis. */
export function mirrorDestinationsOf(ctx: AnalysisContext, vs: Resource): readonly RouteDestination[] {
  return destinationLists(ctx, vs).mirrors;
}

const ROUTE_SECTIONS = ['tcp', 'tls', 'http'] as const;

function addMirrors(out: RouteDestination[], i: number, r: VirtualServiceSpecHttp): void {
  if (r.mirror && typeof r.mirror === 'object') out.push(new Destination('http.mirror', i, -1, r.mirror));
  if (r.mirrors === undefined) return;
  const mirrors = listOf(r.mirrors);
  for (let j = 0; j < mirrors.length; j++) {
    const d = objectOf(mirrors[j]).destination;
    if (d && typeof d === 'object') out.push(new Destination('http.mirrors', i, j, d));
  }
}

/** Both lists in one walk of the rules: the http rules are read once for their routes and mirrors. */
function buildDestinationLists(vs: Resource): DestinationLists {
  const routes: RouteDestination[] = [];
  const mirrors: RouteDestination[] = [];
  const spec = specOf(vs, K.VirtualService);
  for (const section of ROUTE_SECTIONS) {
    const rules = listOf(spec[section]);
    for (let i = 0; i < rules.length; i++) {
      const rule = objectOf(rules[i]);
      const list = listOf(rule.route);
      // A tcp or tls route's destination has the http one's host, subset and port.
      for (let j = 0; j < list.length; j++) routes.push(new Destination(section, i, j, objectOf(list[j]).destination));
      if (section === 'http') addMirrors(mirrors, i, rule as VirtualServiceSpecHttp);
    }
  }
  return { routes, mirrors };
}
