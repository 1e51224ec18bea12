// Gateway API → the local mesh's routes. A `Gateway` (gateway.networking.k8s.io) becomes an ingress
// proxy with one server per HTTP listener; every HTTPRoute attached to one of its listeners, or to a
// Service (GAMMA: the mesh's sidecars), becomes routes of VirtualService shape, so that the same
// compiler serves both APIs.
//
// The Gateway API orders matches across every route of a host, not route by route: for each listener
// port and effective hostname (the listener's hostname intersected with the route's), the matches of
// all attached rules are merged and sorted by the specification's precedence, and a request that none
// of them takes is answered 404 there (it never falls through to a less specific hostname).
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { parseDuration } from '../duration.js';
import { serviceHost } from '../hosts.js';
import { selectorMatches } from '../selectors.js';
import type {
  GatewaySpec, HeaderOperations, HttpMatch, HttpRoute, RouteDestination, RouteHeaders, RouteMirror, StringMatch, VirtualServiceSpec,
} from '../route-model.js';
import type { BackendProblem, GatewayApiRedirect, GatewayApiRewrite, GatewayApiRouteExtras, PathModifier } from './types.js';
import { boundToServicesAlone, namesService } from './types.js';
import { routeStatuses, type ParentOutcome, type RouteStatus } from './status.js';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

export interface GatewayApiTranslation {
  gateways: GatewaySpec[];
  virtualServices: VirtualServiceSpec[];
  statuses: RouteStatus[];
  notes: string[];
}

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function list<T = Obj>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

interface Listener {
  name: string;
  port: number;
  protocol: string;
  hostname: string | null;
  from: 'Same' | 'All' | 'Selector' | 'None';
  selector: Obj;
  kinds: { group: string; kind: string }[] | null;
  /** The Gateway or ListenerSet that declares the listener: routes attach through it, `Same` is its namespace. */
  owner: { kind: 'Gateway' | 'ListenerSet'; namespace: string; name: string };
}

interface KubeGateway {
  name: string;
  namespace: string;
  listeners: Listener[];
  resource: Resource;
}

function listenersOf(r: Resource, owner: Listener['owner']): Listener[] {
  return list(obj(r.spec).listeners).map((l) => {
    const allowed = obj(l.allowedRoutes);
    const ns = obj(allowed.namespaces);
    const from = ns.from === 'All' || ns.from === 'Selector' || ns.from === 'None' ? ns.from : 'Same';
    const kinds = Array.isArray(allowed.kinds) ? list(allowed.kinds).map((k) => ({ group: typeof k.group === 'string' ? k.group : GATEWAY_API_GROUP, kind: String(k.kind ?? '') })) : null;
    return {
      name: String(l.name ?? ''),
      port: Number(l.port),
      protocol: String(l.protocol ?? '').toUpperCase(),
      hostname: str(l.hostname)?.toLowerCase() ?? null,
      from,
      selector: obj(ns.selector),
      kinds,
      owner,
    } satisfies Listener;
  });
}

function gatewayOf(r: Resource): KubeGateway {
  const namespace = r.namespace || 'default';
  return { name: r.name, namespace, listeners: listenersOf(r, { kind: 'Gateway', namespace, name: r.name }), resource: r };
}

export const LISTENER_SET_KIND = `${GATEWAY_API_GROUP}/ListenerSet`;

/**
 * ListenerSets add their listeners to the parent Gateway that allows them (`allowedListeners`, none
 * by default), after the Gateway's own and in age then name order; a listener whose port and
 * hostname another already holds is left out (it conflicts).
 */
function attachListenerSets(resources: Resource[], gateways: KubeGateway[], index: Index, notes: string[]): void {
  const sets = resources.filter((r) => r.kindId === LISTENER_SET_KIND)
    .sort((a, b) => compareKeys([String(a.metadata?.creationTimestamp ?? ''), `${a.namespace}/${a.name}`], [String(b.metadata?.creationTimestamp ?? ''), `${b.namespace}/${b.name}`]));
  for (const set of sets) {
    const namespace = set.namespace || 'default';
    const parent = obj(obj(set.spec).parentRef);
    const gw = gateways.find((g) => g.name === parent.name && g.namespace === (str(parent.namespace) ?? namespace));
    if (!gw) { notes.push(`ListenerSet ${namespace}/${set.name}: its parent Gateway does not exist; its listeners serve nothing.`); continue; }
    const allowed = obj(obj(obj(gw.resource.spec).allowedListeners).namespaces);
    const gate: Listener = { name: '', port: 0, protocol: '', hostname: null, from: allowed.from === 'All' || allowed.from === 'Same' || allowed.from === 'Selector' ? allowed.from : 'None', selector: obj(allowed.selector), kinds: null, owner: { kind: 'Gateway', namespace: gw.namespace, name: gw.name } };
    if (!namespaceAllowed(gate, namespace, index)) { notes.push(`ListenerSet ${namespace}/${set.name}: Gateway ${gw.namespace}/${gw.name} does not allow ListenerSets from its namespace; its listeners serve nothing.`); continue; }
    for (const l of listenersOf(set, { kind: 'ListenerSet', namespace, name: set.name })) {
      if (gw.listeners.some((x) => x.port === l.port && x.hostname === l.hostname)) continue;
      gw.listeners.push(l);
    }
  }
}

/** Whether `host` (exact) is matched by `pattern` (exact, or `*.suffix` matching one label or more). */
function wildcardMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
}

/**
 * The hostnames a route serves on a listener: the listener's hostname intersected with the route's
 * (the more specific of two overlapping names wins). An empty list means they do not meet.
 */
export function intersectHostnames(listener: string | null, route: string[]): string[] {
  if (!listener) return route.length ? [...new Set(route)] : ['*'];
  if (!route.length) return [listener];
  const out = new Set<string>();
  for (const h of route) {
    if (h === listener) out.add(h);
    else if (!h.startsWith('*.') && wildcardMatches(listener, h)) out.add(h);
    else if (h.startsWith('*.') && !listener.startsWith('*.') && wildcardMatches(h, listener)) out.add(listener);
    else if (h.startsWith('*.') && listener.startsWith('*.')) {
      if (h.endsWith(listener.slice(1))) out.add(h);
      else if (listener.endsWith(h.slice(1))) out.add(listener);
    }
  }
  return [...out];
}

// ---------------------------------------------------------------- matches

type PathMatch = { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };

function pathMatchOf(m: Obj): PathMatch {
  const p = obj(m.path);
  const type = p.type === 'Exact' || p.type === 'RegularExpression' ? p.type : 'PathPrefix';
  return { type, value: typeof p.value === 'string' ? p.value : '/' };
}

function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** PathPrefix matches whole path segments: `/foo` takes `/foo`, `/foo/` and `/foo/bar`, never `/foobar`. */
function uriMatch(path: PathMatch): StringMatch {
  if (path.type === 'Exact') return { exact: path.value };
  if (path.type === 'RegularExpression') return { regex: path.value };
  const prefix = path.value.replace(/\/+$/, '');
  if (prefix === '') return { prefix: '/' };
  return { regex: `${regexEscape(prefix)}(?:/.*)?` };
}

function valueMatch(m: Obj): StringMatch {
  const value = typeof m.value === 'string' ? m.value : '';
  return m.type === 'RegularExpression' ? { regex: value } : { exact: value };
}

function httpMatch(m: Obj): HttpMatch {
  const headers: Record<string, StringMatch> = {};
  for (const h of list(m.headers)) if (typeof h.name === 'string' && !(h.name.toLowerCase() in headers)) headers[h.name.toLowerCase()] = valueMatch(h);
  const queryParams: Record<string, StringMatch> = {};
  for (const q of list(m.queryParams)) if (typeof q.name === 'string' && !(q.name in queryParams)) queryParams[q.name] = valueMatch(q);
  return {
    uri: uriMatch(pathMatchOf(m)),
    ...(typeof m.method === 'string' ? { method: { exact: m.method } } : {}),
    headers,
    withoutHeaders: {},
    queryParams,
    ignoreUriCase: false,
  };
}

/** The precedence key of one match: lower sorts first (the specification's order, continuing on ties). */
function precedenceKey(m: Obj): number[] {
  const path = pathMatchOf(m);
  // Exact, then prefixes longest first, then regular expressions (their place is the implementation's: Istio's).
  const rank = path.type === 'Exact' ? 0 : path.type === 'PathPrefix' ? 1 : 2;
  const length = path.type === 'PathPrefix' ? path.value.replace(/\/+$/, '').length : path.value.length;
  return [rank, -length, typeof m.method === 'string' ? 0 : 1, -list(m.headers).length, -list(m.queryParams).length];
}

// ---------------------------------------------------------------- filters

function noHeaders(): RouteHeaders {
  return { request: { set: {}, add: {}, remove: [] }, response: { set: {}, add: {}, remove: [] } };
}

function headerModifier(into: HeaderOperations, f: Obj): void {
  for (const h of list(f.set)) if (typeof h.name === 'string') into.set[h.name] = String(h.value ?? '');
  for (const h of list(f.add)) if (typeof h.name === 'string') into.add[h.name] = String(h.value ?? '');
  for (const name of list<string>(f.remove)) if (typeof name === 'string') into.remove.push(name);
}

function pathModifier(v: unknown): PathModifier | null {
  const p = obj(v);
  if (p.type === 'ReplaceFullPath' && typeof p.replaceFullPath === 'string') return { type: 'ReplaceFullPath', value: p.replaceFullPath };
  if (p.type === 'ReplacePrefixMatch' && typeof p.replacePrefixMatch === 'string') return { type: 'ReplacePrefixMatch', value: p.replacePrefixMatch };
  return null;
}

function redirectFilter(f: Obj, parentPort: number): GatewayApiRedirect {
  const r = obj(f.requestRedirect);
  return {
    scheme: str(r.scheme)?.toLowerCase() ?? null,
    hostname: str(r.hostname),
    port: typeof r.port === 'number' ? r.port : null,
    path: pathModifier(r.path),
    statusCode: typeof r.statusCode === 'number' ? r.statusCode : 302,
    parentPort,
  };
}

function rewriteFilter(f: Obj): GatewayApiRewrite {
  const r = obj(f.urlRewrite);
  return { hostname: str(r.hostname), path: pathModifier(r.path) };
}

function mirrorPercent(f: Obj): number {
  if (typeof f.percent === 'number') return Math.min(100, Math.max(0, f.percent));
  const fraction = obj(f.fraction);
  if (typeof fraction.numerator === 'number') {
    const denominator = typeof fraction.denominator === 'number' && fraction.denominator > 0 ? fraction.denominator : 100;
    return Math.min(100, Math.max(0, (fraction.numerator / denominator) * 100));
  }
  return 100;
}

// ---------------------------------------------------------------- references

interface Index {
  services: Map<string, Resource>;
  namespaceLabels: Map<string, Record<string, string>>;
  grants: Resource[];
}


function grantAllows(index: Index, from: { kind: string; namespace: string }, to: { group: string; kind: string; namespace: string; name: string }): boolean {
  return index.grants.some((g) => (g.namespace || 'default') === to.namespace
    && list(obj(g.spec).from).some((f) => (f.group ?? '') === GATEWAY_API_GROUP && f.kind === from.kind && f.namespace === from.namespace)
    && list(obj(g.spec).to).some((t) => (t.group ?? '') === to.group && t.kind === to.kind && (t.name === undefined || t.name === '' || t.name === to.name)));
}

interface ResolvedBackend {
  destination: RouteDestination;
  filters: Obj[];
  problem: BackendProblem | null;
  ref: string;
}

/** The port of a Service that a call naming no port goes to: 80 when the Service has it, else its first. */
function defaultServicePort(service: Resource): number | null {
  const ports = list(obj(service.spec).ports).map((p) => Number(p.port)).filter((p) => Number.isInteger(p) && p > 0);
  return ports.includes(80) ? 80 : ports[0] ?? null;
}

/** `mesh`: a rule of a route bound to Services alone (types.ts, boundToServicesAlone), which needs no ReferenceGrant. */
function resolveBackendRef(ref: Obj, route: Resource, index: Index, mesh = false): ResolvedBackend {
  const group = typeof ref.group === 'string' ? ref.group : '';
  const kind = typeof ref.kind === 'string' ? ref.kind : 'Service';
  const name = String(ref.name ?? '');
  const routeNs = route.namespace || 'default';
  const namespace = str(ref.namespace) ?? routeNs;
  const port = typeof ref.port === 'number' ? ref.port : null;
  const headers = noHeaders();
  for (const f of list(ref.filters)) {
    if (f.type === 'RequestHeaderModifier') headerModifier(headers.request, obj(f.requestHeaderModifier));
    if (f.type === 'ResponseHeaderModifier') headerModifier(headers.response, obj(f.responseHeaderModifier));
  }
  const fqdn = serviceHost(name, namespace);
  const destination: RouteDestination = { host: fqdn, fqdn, subset: '', port, weight: typeof ref.weight === 'number' ? ref.weight : 1, headers };
  let problem: BackendProblem | null = null;
  if ((group !== '' && group !== 'core') || kind !== 'Service') problem = 'InvalidKind';
  else if (!mesh && namespace !== routeNs && !grantAllows(index, { kind: 'HTTPRoute', namespace: routeNs }, { group: '', kind: 'Service', namespace, name })) problem = 'RefNotPermitted';
  else if (!index.services.has(`${namespace}/${name}`)) problem = 'BackendNotFound';
  return { destination, filters: list(ref.filters), problem, ref: `${namespace}/${name}` };
}

// ---------------------------------------------------------------- rules

interface RuleEntry {
  route: Resource;
  ruleIndex: number;
  matchIndex: number;
  match: Obj;
  rule: Obj;
  key: (number | string)[];
}

function compareKeys(a: (number | string)[], b: (number | string)[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

function entriesOf(route: Resource): RuleEntry[] {
  const created = String(route.metadata?.creationTimestamp ?? '');
  return list(obj(route.spec).rules).flatMap((rule, ruleIndex) => {
    const matches = list(rule.matches);
    return (matches.length ? matches : [{}]).map((match, matchIndex) => ({
      route, ruleIndex, matchIndex, match, rule,
      key: [...precedenceKey(match), created, `${route.namespace}/${route.name}`, ruleIndex, matchIndex],
    }));
  });
}

/** One route entry as an HttpRoute of the model; `parentPort` is the listener's (or Service's) declared port. */
function httpRouteOf(entry: RuleEntry, index: Index, position: number, parentPort: number, mesh: boolean): HttpRoute {
  const { rule, route } = entry;
  const headers = noHeaders();
  const mirrors: RouteMirror[] = [];
  const extras: GatewayApiRouteExtras = { matchedPrefix: null, redirect: null, rewrite: null, cors: null, invalidDestinations: [], destinationFilters: [] };
  const path = pathMatchOf(entry.match);
  if (path.type === 'PathPrefix') extras.matchedPrefix = path.value.replace(/\/+$/, '');
  for (const f of list(rule.filters)) {
    if (f.type === 'RequestHeaderModifier') headerModifier(headers.request, obj(f.requestHeaderModifier));
    else if (f.type === 'ResponseHeaderModifier') headerModifier(headers.response, obj(f.responseHeaderModifier));
    else if (f.type === 'RequestRedirect') extras.redirect = redirectFilter(f, parentPort);
    else if (f.type === 'URLRewrite') extras.rewrite = rewriteFilter(f);
    else if (f.type === 'CORS') {
      const c = obj(f.cors);
      const strings = (v: unknown) => list<string>(v).filter((x) => typeof x === 'string');
      extras.cors = {
        allowOrigins: strings(c.allowOrigins),
        allowMethods: strings(c.allowMethods),
        allowHeaders: strings(c.allowHeaders),
        exposeHeaders: strings(c.exposeHeaders),
        allowCredentials: c.allowCredentials === true,
        maxAgeSeconds: typeof c.maxAge === 'number' ? c.maxAge : 5,
      };
    }
    else if (f.type === 'RequestMirror') {
      const m = obj(f.requestMirror);
      const backend = resolveBackendRef(obj(m.backendRef), route, index, mesh);
      if (!backend.problem) mirrors.push({ host: backend.destination.host, fqdn: backend.destination.fqdn, subset: '', port: backend.destination.port, percent: mirrorPercent(m) });
    }
  }
  const refs = list(rule.backendRefs).map((ref) => resolveBackendRef(ref, route, index, mesh));
  // A weight-0 backend stays a destination (it gets nothing) beside one that has weight, so that a
  // shift can give it weight through the runtime API without a reload.
  const destinations = refs.some((r) => r.destination.weight > 0) ? refs : [];
  destinations.forEach((r, n) => {
    if (r.problem) extras.invalidDestinations.push(n);
    const redirect = r.filters.find((f) => f.type === 'RequestRedirect');
    const rewrite = r.filters.find((f) => f.type === 'URLRewrite');
    extras.destinationFilters.push({ redirect: redirect ? redirectFilter(redirect, parentPort) : null, rewrite: rewrite ? rewriteFilter(rewrite) : null });
  });
  const timeouts = obj(rule.timeouts);
  const positiveMs = (v: unknown) => {
    const ms = typeof v === 'string' ? parseDuration(v) ?? null : null;
    return ms !== null && ms > 0 ? ms : null;
  };
  const requestMs = positiveMs(timeouts.request);
  const backendMs = positiveMs(timeouts.backendRequest);
  // The Gateway API's retry, in Istio's terms: connection errors and resets (an attempt past
  // backendRequest included) always, the listed codes besides; backendRequest is each attempt's bound.
  const retry = obj(rule.retry);
  const retries = typeof retry.attempts === 'number' || Array.isArray(retry.codes)
    ? {
      attempts: typeof retry.attempts === 'number' ? Math.max(0, Math.floor(retry.attempts)) : 1,
      retryOn: ['connect-failure', 'reset', ...list<number>(retry.codes).filter((c) => typeof c === 'number').map(String)],
      perTryTimeoutMs: backendMs,
    }
    : null;
  const answersItself = extras.redirect !== null;
  // A rule that forwards to nothing (no backendRefs, all weights 0, or every reference invalid) answers 500.
  const noBackend = !answersItself && !destinations.some((r) => r.destination.weight > 0 && !r.problem);
  return {
    name: `${route.namespace}.${route.name}.${entry.ruleIndex}.${entry.matchIndex}`,
    index: position,
    match: [httpMatch(entry.match)],
    route: noBackend ? [] : destinations.map((r) => r.destination),
    rewrite: null,
    headers,
    // `request` bounds the whole response; without a retry of its own, the one attempt is bounded by both.
    timeoutMs: retries ? requestMs : [requestMs, backendMs].reduce<number | null>((a, b) => (b === null ? a : a === null ? b : Math.min(a, b)), null),
    retries,
    redirect: null,
    directResponse: noBackend ? { status: 500, body: '' } : null,
    fault: null,
    mirrors: answersItself ? [] : mirrors,
    gatewayApi: extras,
  };
}

function notFoundRoute(position: number): HttpRoute {
  return {
    name: 'no-matching-rule', index: position, match: [], route: [], rewrite: null, headers: noHeaders(), timeoutMs: null, retries: null,
    redirect: null, directResponse: { status: 404, body: '' }, fault: null, mirrors: [],
  };
}

// ---------------------------------------------------------------- attachment

function hostnameRank(host: string): (number | string)[] {
  // Exact names first, then wildcards longest first, then the catch-all.
  if (host === '*') return [2, 0, host];
  return [host.startsWith('*.') ? 1 : 0, -host.length, host];
}

function listenerAllows(listener: Listener, routeNs: string, index: Index): boolean {
  if (listener.kinds && !listener.kinds.some((k) => k.group === GATEWAY_API_GROUP && k.kind === 'HTTPRoute')) return false;
  return namespaceAllowed(listener, routeNs, index);
}

function namespaceAllowed(listener: Listener, routeNs: string, index: Index): boolean {
  if (listener.from === 'All') return true;
  if (listener.from === 'None') return false;
  if (listener.from === 'Same') return routeNs === listener.owner.namespace;
  const labels = index.namespaceLabels.get(routeNs) ?? { 'kubernetes.io/metadata.name': routeNs };
  const selector = obj(listener.selector);
  const matchLabels = obj(selector.matchLabels) as Record<string, string>;
  if (!selectorMatches(matchLabels, labels)) return false;
  return list(selector.matchExpressions).every((e) => {
    const values = list<string>(e.values);
    const has = Object.prototype.hasOwnProperty.call(labels, String(e.key));
    const value = labels[String(e.key)];
    switch (e.operator) {
      case 'In': return has && values.includes(value);
      case 'NotIn': return !has || !values.includes(value);
      case 'Exists': return has;
      case 'DoesNotExist': return !has;
      default: return false;
    }
  });
}

function routeHostnames(route: Resource): string[] {
  return list<string>(obj(route.spec).hostnames).filter((h) => typeof h === 'string').map((h) => h.toLowerCase());
}

/** Reads every Gateway API resource among `resources` into gateways and routes of the mesh model. */
export function translateGatewayApi(resources: Resource[]): GatewayApiTranslation {
  const notes: string[] = [];
  const index: Index = { services: new Map(), namespaceLabels: new Map(), grants: [] };
  for (const r of resources) {
    if (r.kindId === K.Service) index.services.set(`${r.namespace || 'default'}/${r.name}`, r);
    else if (r.kindId === K.Namespace) index.namespaceLabels.set(r.name, { 'kubernetes.io/metadata.name': r.name, ...r.labels });
    else if (r.kindId === K.ReferenceGrant) index.grants.push(r);
  }
  const kubeGateways = resources.filter((r) => r.kindId === K.KubernetesGateway).map(gatewayOf);
  attachListenerSets(resources, kubeGateways, index, notes);
  const routes = resources.filter((r) => r.kindId === K.HTTPRoute);

  // (gateway, port, hostname) or (mesh service) → entries
  const groups = new Map<string, { kind: 'gateway'; gw: KubeGateway; port: number; listenerHost: string; host: string; entries: RuleEntry[] } | { kind: 'mesh'; service: Resource; port: number; consumer: string | null; scopedPort: number | null; entries: RuleEntry[] }>();
  const outcomes = new Map<Resource, ParentOutcome[]>();
  // Every listener with a hostname has a group of its own hostname (the least specific of the listener's
  // groups, so the last): a request it takes and none of its routes' hostnames match is answered 404
  // there, never by the routes of a less specific listener (listener isolation).
  for (const gw of kubeGateways) {
    for (const l of gw.listeners) {
      if (l.protocol !== 'HTTP' || !l.hostname) continue;
      groups.set(`gw/${gw.namespace}/${gw.name}/${l.port}/${l.hostname}/${l.hostname}`, { kind: 'gateway', gw, port: l.port, listenerHost: l.hostname, host: l.hostname, entries: [] });
    }
  }
  for (const route of routes) {
    const routeNs = route.namespace || 'default';
    const entries = entriesOf(route);
    const parents: ParentOutcome[] = [];
    for (const ref of list(obj(route.spec).parentRefs)) {
      const group = typeof ref.group === 'string' ? ref.group : GATEWAY_API_GROUP;
      const kind = typeof ref.kind === 'string' ? ref.kind : 'Gateway';
      const namespace = str(ref.namespace) ?? routeNs;
      const name = String(ref.name ?? '');
      const sectionName = str(ref.sectionName);
      const port = typeof ref.port === 'number' ? ref.port : null;
      const parent = { group, kind, namespace, name, ...(sectionName ? { sectionName } : {}), ...(port !== null ? { port } : {}) };
      if (namesService({ group, kind })) {
        const service = index.services.get(`${namespace}/${name}`);
        if (!service) { parents.push({ parent, accepted: 'NoMatchingParent' }); continue; }
        const servicePort = port ?? Number(list(obj(service.spec).ports)[0]?.port ?? 80);
        // A route of another namespace is that namespace's own view of the Service (a consumer route),
        // and a route naming a port is about that port alone: each is a group of its own.
        const consumer = routeNs !== namespace ? routeNs : null;
        const key = `mesh/${consumer ?? ''}/${namespace}/${name}/${port ?? ''}`;
        const group_ = groups.get(key) ?? { kind: 'mesh' as const, service, port: servicePort, consumer, scopedPort: port, entries: [] };
        group_.entries.push(...entries);
        groups.set(key, group_);
        parents.push({ parent, accepted: 'Accepted' });
        continue;
      }
      // A route names a Gateway (its own listeners) or a ListenerSet (the listeners it added to its parent).
      const owner = group === GATEWAY_API_GROUP && (kind === 'Gateway' || kind === 'ListenerSet') ? { kind, namespace, name } : null;
      const gw = owner ? kubeGateways.find((g) => g.listeners.some((l) => l.owner.kind === owner.kind && l.owner.namespace === owner.namespace && l.owner.name === owner.name)) : undefined;
      if (!gw || !owner) { parents.push({ parent, accepted: 'NoMatchingParent' }); continue; }
      const candidates = gw.listeners.filter((l) => l.owner.kind === owner.kind && l.owner.namespace === owner.namespace && l.owner.name === owner.name
        && (!sectionName || l.name === sectionName) && (port === null || l.port === port));
      if (!candidates.length) { parents.push({ parent, accepted: 'NoMatchingParent' }); continue; }
      const allowed = candidates.filter((l) => listenerAllows(l, routeNs, index));
      if (!allowed.length) { parents.push({ parent, accepted: 'NotAllowedByListeners' }); continue; }
      let attached = false;
      for (const listener of allowed) {
        if (listener.protocol !== 'HTTP') continue;
        for (const host of intersectHostnames(listener.hostname, routeHostnames(route))) {
          attached = true;
          const listenerHost = listener.hostname ?? '*';
          const key = `gw/${gw.namespace}/${gw.name}/${listener.port}/${listenerHost}/${host}`;
          const g = groups.get(key) ?? { kind: 'gateway' as const, gw, port: listener.port, listenerHost, host, entries: [] };
          g.entries.push(...entries);
          groups.set(key, g);
        }
      }
      const intersects = allowed.some((l) => intersectHostnames(l.hostname, routeHostnames(route)).length);
      parents.push({ parent, accepted: intersects ? 'Accepted' : 'NoMatchingListenerHostname' });
      if (!attached && intersects) notes.push(`HTTPRoute ${routeNs}/${route.name}: the listeners of Gateway ${gw.namespace}/${gw.name} it attaches to are not HTTP; the local mesh serves HTTP listeners only.`);
    }
    outcomes.set(route, parents);
  }

  const virtualServices: VirtualServiceSpec[] = [];
  const ordered = [...groups.values()].sort((a, b) => {
    if (a.kind !== b.kind) return a.kind === 'gateway' ? -1 : 1;
    if (a.kind === 'gateway' && b.kind === 'gateway') {
      // Listener isolation: the most specific listener hostname takes the request, then its most specific route hostname.
      return compareKeys([a.gw.namespace, a.gw.name, a.port, ...hostnameRank(a.listenerHost), ...hostnameRank(a.host)], [b.gw.namespace, b.gw.name, b.port, ...hostnameRank(b.listenerHost), ...hostnameRank(b.host)]);
    }
    return 0;
  });
  for (const g of ordered) {
    // A route attached through several listeners of one host group counts once.
    const seen = new Set<string>();
    const entries = g.entries.filter((e) => {
      const id = `${e.route.namespace}/${e.route.name}/${e.ruleIndex}/${e.matchIndex}`;
      return seen.has(id) ? false : (seen.add(id), true);
    }).sort((a, b) => compareKeys(a.key, b.key));
    const http = entries.map((e, position) => httpRouteOf(e, index, position, g.port, g.kind === 'mesh'));
    http.push(notFoundRoute(http.length));
    if (g.kind === 'gateway') {
      const label = (h: string) => (h === '*' ? 'any' : h.replace(/^\*\./, 'wildcard.'));
      const common = { namespace: g.gw.namespace, gateways: [`${g.gw.namespace}/${g.gw.name}`], gatewayPort: g.port, resource: g.gw.resource };
      virtualServices.push({ ...common, name: `gateway.${g.gw.name}.${g.port}.${label(g.listenerHost)}.${label(g.host)}`, hosts: [g.host], http });
    } else {
      const ns = g.service.namespace || 'default';
      virtualServices.push({
        name: `mesh.${g.service.name}${g.scopedPort !== null ? `.${g.scopedPort}` : ''}`, namespace: g.consumer ?? ns, hosts: [serviceHost(g.service.name, ns)], gateways: ['mesh'], http, resource: g.service,
        ...(g.consumer ? { consumerNamespace: g.consumer } : {}),
        ...(g.scopedPort !== null ? { servicePort: g.scopedPort, servicePortIsDefault: g.scopedPort === defaultServicePort(g.service) } : {}),
      });
    }
  }

  const gateways: GatewaySpec[] = kubeGateways.map((gw) => {
    const http = gw.listeners.filter((l) => l.protocol === 'HTTP' && Number.isInteger(l.port) && l.port > 0);
    for (const l of gw.listeners) {
      if (l.protocol !== 'HTTP') notes.push(`Gateway ${gw.namespace}/${gw.name} listener ${l.name}: protocol ${l.protocol || '(none)'} is not served by the local mesh (HTTP listeners only).`);
    }
    return { name: gw.name, namespace: gw.namespace, selector: {}, servers: http.map((l) => ({ port: l.port, protocol: 'HTTP', hosts: [l.hostname ?? '*'] })), resource: gw.resource };
  });

  // ResolvedRefs speaks of every backendRef of a route, attached or not.
  const backendProblems = new Map<Resource, { ref: string; problem: BackendProblem }[]>();
  for (const route of routes) {
    const meshOnly = boundToServicesAlone(list(obj(route.spec).parentRefs));
    const found = list(obj(route.spec).rules).flatMap((rule) => list(rule.backendRefs).map((ref) => resolveBackendRef(ref, route, index, meshOnly)))
      .filter((r) => r.problem).map((r) => ({ ref: r.ref, problem: r.problem as BackendProblem }));
    backendProblems.set(route, found);
  }
  const statuses = routeStatuses(routes, outcomes, backendProblems);
  return { gateways, virtualServices, statuses, notes };
}
