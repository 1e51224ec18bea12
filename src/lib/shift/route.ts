// Which route a shift moves: HOST's VirtualService, the http route whose destinations are HOST's
// subsets, the stable and the new subset; and that VirtualService rewritten with a step's weights (and,
// for a header-canary step, a route that sends matching requests to the new subset; for a mirror step,
// a mirror of the shifted route to the new subset).
import { usageError } from '../errors.js';
import type { StoredResource } from '../mesh/state.js';
import { modelOf } from '../mesh/pods.js';
import { desiredPods, destinationRuleFor, podsOfService, serviceFor, type HttpRoute, type MeshModel, type VirtualServiceSpec } from '../policy/mesh-model.js';
import { hostKey, resolveRequestHost } from '../policy/hosts.js';
import { selectorMatches } from '../policy/selectors.js';
import { isDeepStrictEqual } from 'node:util';
import { sameWeights, weightsText, type Weights } from './plan.js';

import { CANARY_ROUTE } from '../target/target.js';
import { httpRouteWeights, shiftedRule } from './http-route.js';
import { deployPodsHint, type ResolvedShift, type ResolveOptions, type ShiftRoute } from './route-types.js';

export { CANARY_ROUTE };

export type { ResolvedShift, ResolveOptions, ShiftRoute };

function routeLabel(vs: VirtualServiceSpec, r: HttpRoute): string {
  return `VirtualService ${vs.namespace}/${vs.name} http[${r.index}]${r.name ? ` (${r.name})` : ''}`;
}

/** Http routes of `vs` without a header-canary route, with their positions as the shift counts them. */
function ownRoutes(vs: VirtualServiceSpec): HttpRoute[] {
  return vs.http.filter((r) => r.name !== CANARY_ROUTE).map((r, index) => ({ ...r, index }));
}

function isSubsetRoute(r: HttpRoute, host: string): boolean {
  return !r.redirect && !r.directResponse && r.route.length > 0 && r.route.every((d) => d.fqdn === host && d.subset !== '');
}

/**
 * The host a user's HOST argument names with -n `namespace`: as a client in that namespace would reach
 * it (reviews, reviews.default, reviews.default.svc or the FQDN), among the hosts the mesh knows.
 */
export function hostOfArgument(model: MeshModel, host: string, namespace: string): string {
  const known = new Set([...model.services.map((s) => s.host), ...model.virtualServices.flatMap((vs) => vs.hosts.map((h) => hostKey(vs.namespace, h)))]);
  return resolveRequestHost(host, namespace, (h) => known.has(h));
}

/** The mesh VirtualService routing `host`; throws with a sentence when there is none or several. */
function virtualServiceFor(model: MeshModel, host: string, options: ResolveOptions): VirtualServiceSpec {
  const all = model.virtualServices.filter((vs) => vs.hosts.some((h) => hostKey(vs.namespace, h) === host));
  const mesh = all.filter((vs) => vs.gateways.includes('mesh'));
  if (!mesh.length) {
    if (!serviceFor(model, host) && !all.length) {
      throw usageError(`No Service, ServiceEntry or VirtualService of the mesh is host ${options.host} (${host}); check the name and -n ${options.namespace}, or list them with meshctl get virtualservices.`);
    }
    throw usageError(`No VirtualService routes host ${options.host} inside the mesh; apply one whose http route sends ${options.host} to its subsets (e.g. route: [{destination: {host: ${options.host}, subset: v1}}]) before shifting.`);
  }
  if (mesh.length > 1) {
    throw usageError(`Host ${options.host} is routed by ${mesh.length} VirtualServices (${mesh.map((v) => `${v.namespace}/${v.name}`).join(', ')}); keep one VirtualService per host before shifting it.`);
  }
  return mesh[0];
}

/**
 * Finds the route a shift of `options.host` to `options.to` moves, and checks everything a user can
 * get wrong: the host, the subsets, which route, that the new subset has pods.
 */
export function resolveShiftRoute(resources: StoredResource[], options: ResolveOptions): ResolvedShift {
  const model = modelOf(resources);
  const host = hostOfArgument(model, options.host, options.namespace);
  const vs = virtualServiceFor(model, host, options);
  const dr = destinationRuleFor(model, host, vs.namespace);
  const subsets = dr?.subsets.map((s) => s.name) ?? [];
  if (!dr || !subsets.length) {
    throw usageError(`No DestinationRule defines subsets of ${options.host}; a shift moves traffic between subsets, so apply a DestinationRule with subsets (e.g. v1 and v2) first.`);
  }
  if (!subsets.includes(options.to)) {
    throw usageError(`DestinationRule ${dr.namespace}/${dr.name} defines no subset ${options.to} of ${options.host} (it defines ${subsets.join(', ')}); pass one of them to --to.`);
  }
  if (options.from !== undefined && !subsets.includes(options.from)) {
    throw usageError(`DestinationRule ${dr.namespace}/${dr.name} defines no subset ${options.from} of ${options.host} (it defines ${subsets.join(', ')}); pass one of them to --from.`);
  }
  if (options.from !== undefined && options.from === options.to) throw usageError(`--from and --to both name subset ${options.to}; a shift moves traffic from one subset to another.`);

  const routes = ownRoutes(vs);
  let candidates = routes.filter((r) => isSubsetRoute(r, host));
  if (options.route !== undefined) {
    const wanted = options.route;
    const chosen = routes.find((r) => r.name === wanted) ?? (/^\d+$/.test(wanted) ? routes.find((r) => r.index === Number(wanted)) : undefined);
    if (!chosen) throw usageError(`VirtualService ${vs.namespace}/${vs.name} has no http route named or numbered ${wanted}; its routes are ${routes.map((r) => (r.name ? `${r.index} (${r.name})` : String(r.index))).join(', ')}.`);
    if (!isSubsetRoute(chosen, host)) throw usageError(`${routeLabel(vs, chosen)} does not send its traffic to subsets of ${options.host} alone, so it cannot be shifted; choose another --route.`);
    candidates = [chosen];
  }
  if (!candidates.length) {
    throw usageError(`VirtualService ${vs.namespace}/${vs.name} has no http route whose destinations are subsets of ${options.host}; add one (e.g. route: [{destination: {host: ${options.host}, subset: ${subsets[0]}}}]) and apply it before shifting.`);
  }
  if (candidates.length > 1) {
    // A split (several destinations) is what a shift moves; then a route without match conditions.
    const splits = candidates.filter((r) => r.route.length > 1);
    const catchAll = candidates.filter((r) => r.match.length === 0);
    if (splits.length === 1) candidates = splits;
    else if (!splits.length && catchAll.length === 1) candidates = catchAll;
    else {
      const list = (splits.length ? splits : candidates).map((r) => (r.name ? `${r.index} (${r.name})` : String(r.index)));
      throw usageError(`VirtualService ${vs.namespace}/${vs.name} has ${list.length} http routes to subsets of ${options.host} (${list.join(', ')}); choose one with --route NAME or --route INDEX.`);
    }
  }
  const route = candidates[0];
  const present = route.route.map((d) => d.subset);
  if (new Set(present).size !== present.length) throw usageError(`${routeLabel(vs, route)} names a subset of ${options.host} twice; merge those destinations before shifting.`);
  const baseline: Weights = {};
  for (const d of route.route) baseline[d.subset] = d.weight;
  let from = options.from;
  if (from === undefined) {
    const others = route.route.filter((d) => d.subset !== options.to);
    if (!others.length) throw usageError(`${routeLabel(vs, route)} sends all its traffic to ${options.to} already; name the subset to shift from with --from, or shift to another subset.`);
    from = [...others].sort((a, b) => b.weight - a.weight)[0].subset;
  } else if (!present.includes(from)) {
    throw usageError(`${routeLabel(vs, route)} has no destination ${options.host} subset ${from} (its destinations are ${present.join(', ')}); --from must name one of them.`);
  }
  const addsDestination = !present.includes(options.to);
  if (addsDestination) baseline[options.to] = 0;

  // The new subset must have pods, else every request it gets fails for a reason the shift cannot fix.
  const service = serviceFor(model, host);
  const subset = dr.subsets.find((s) => s.name === options.to)!;
  if (service && service.kind === 'Service') {
    const pods = podsOfService(service, options.pods ?? desiredPods(model)).filter((p) => selectorMatches(subset.labels, p.labels));
    if (!pods.length) throw usageError(`Subset ${options.to} of ${options.host} selects no pod (labels ${Object.entries(subset.labels).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'}); ${deployPodsHint(options)} before shifting traffic to it.`);
  }
  const destinations = addsDestination ? [...present, options.to] : present;
  return {
    route: {
      host,
      hostArg: options.host,
      namespace: options.namespace,
      virtualService: { namespace: vs.namespace, name: vs.name },
      index: route.index,
      name: route.name,
      from,
      to: options.to,
      destinations,
    },
    baseline,
    addsDestination,
    subsets,
    mirrored: route.mirrors.length > 0,
  };
}

/** The stored VirtualService of a shift. */
export function findVirtualService(resources: StoredResource[], ref: { namespace: string; name: string }): StoredResource | undefined {
  return resources.find((r) => r.kind === 'VirtualService' && r.metadata.name === ref.name && (r.metadata.namespace ?? 'default') === ref.namespace);
}

/** The shifted route's weights in a stored VirtualService (Istio's defaults for unweighted destinations). */
export function storedWeights(resources: StoredResource[], route: ShiftRoute): Weights | null {
  if (route.httpRoute) return httpRouteWeights(resources, route);
  const model = modelOf(resources.filter((r) => r.kind === 'VirtualService' && r.metadata.name === route.virtualService.name && (r.metadata.namespace ?? 'default') === route.virtualService.namespace));
  const vs = model.virtualServices[0];
  if (!vs) return null;
  const r = ownRoutes(vs)[route.index];
  if (!r) return null;
  const out: Weights = {};
  for (const d of r.route) out[d.subset] = (out[d.subset] ?? 0) + d.weight;
  return out;
}

interface WrittenDestination {
  destination?: { host?: string; subset?: string; [k: string]: unknown };
  weight?: number;
  [k: string]: unknown;
}

/** True when a written `mirror` is the one a mirror step puts on the shifted route. */
function isShiftMirror(mirror: unknown, route: ShiftRoute): boolean {
  const m = mirror as { host?: unknown; subset?: unknown } | undefined;
  return Boolean(m) && m!.host === route.host && m!.subset === route.to;
}

/**
 * `vs` with the shifted route at `weights` (adding the new subset as a destination when missing) and,
 * when `header` is given, a route before it that sends requests carrying the header to the new subset
 * with the shifted route's own rewrites, headers, timeout and retries. `mirror` true puts a mirror of
 * every request of the shifted route to the new subset on it, false removes that mirror, undefined
 * leaves the route's mirroring as it is. Everything else is left as written.
 */
export function withShiftWeights(vs: StoredResource, route: ShiftRoute, weights: Weights, header: { name: string; value: string } | null, mirror?: boolean): StoredResource {
  const next = structuredClone(vs);
  const spec = (next.spec ?? {}) as { http?: Record<string, unknown>[] };
  const http = (spec.http ?? []).filter((h) => h.name !== CANARY_ROUTE);
  const shifted = http[route.index];
  if (!shifted) throw usageError(`VirtualService ${route.virtualService.namespace}/${route.virtualService.name} no longer has http route ${route.index}; the shift cannot store its weights (abort it with meshctl route abort ${route.hostArg}).`);
  const destinations = (shifted.route ?? []) as WrittenDestination[];
  const fromEntry = destinations.find((d) => d.destination?.subset === route.from) ?? destinations[0] ?? { destination: { host: route.hostArg } };
  // The new subset joins at weight 0; a subset an apply took away comes back when an abort gives it weight.
  const missing = [route.to, ...Object.keys(weights).filter((s) => weights[s] > 0)];
  for (const subset of new Set(missing)) {
    if (destinations.some((d) => d.destination?.subset === subset)) continue;
    const added = structuredClone(fromEntry);
    added.destination = { ...(added.destination ?? {}), host: added.destination?.host ?? route.hostArg, subset };
    destinations.push(added);
  }
  for (const d of destinations) d.weight = weights[d.destination?.subset ?? ''] ?? 0;
  shifted.route = destinations;
  if (mirror === true) {
    shifted.mirror = { host: route.host, subset: route.to };
    shifted.mirrorPercentage = { value: 100 };
  } else if (mirror === false && isShiftMirror(shifted.mirror, route)) {
    delete shifted.mirror;
    delete shifted.mirrorPercentage;
  }
  if (header) {
    const canary: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(shifted)) {
      if (!['name', 'match', 'route', 'mirror', 'mirrors', 'mirrorPercentage', 'mirrorPercent', 'fault'].includes(k)) canary[k] = structuredClone(v);
    }
    const condition = { [header.name]: { exact: header.value } };
    const matches = (shifted.match ?? []) as Record<string, unknown>[];
    canary.name = CANARY_ROUTE;
    canary.match = matches.length
      ? matches.map((m) => ({ ...structuredClone(m), headers: { ...((m.headers as Record<string, unknown>) ?? {}), ...condition } }))
      : [{ headers: condition }];
    const to = structuredClone(fromEntry);
    to.destination = { ...(to.destination ?? {}), subset: route.to };
    delete to.weight;
    canary.route = [to];
    http.splice(route.index, 0, canary);
  }
  spec.http = http;
  next.spec = spec;
  return next;
}

function shiftedLabel(route: ShiftRoute): string {
  if (route.httpRoute) return `HTTPRoute ${route.httpRoute.namespace}/${route.httpRoute.name} rule ${route.httpRoute.rule}`;
  return `VirtualService ${route.virtualService.namespace}/${route.virtualService.name} http[${route.index}]${route.name ? ` (${route.name})` : ''}`;
}

/** The written http entries a shift owns: the shifted route and the header-canary route it may have added. */
function ownedEntries(resources: StoredResource[], route: ShiftRoute): { shifted: unknown; canary: unknown } | null {
  if (route.httpRoute) {
    if (!resources.some((r) => r.kind === 'HTTPRoute' && r.metadata.name === route.httpRoute!.name && (r.metadata.namespace ?? 'default') === route.httpRoute!.namespace)) return null;
    return { shifted: shiftedRule(resources, route), canary: null };
  }
  const vs = findVirtualService(resources, route.virtualService);
  if (!vs) return null;
  const http = ((vs.spec ?? {}) as { http?: Record<string, unknown>[] }).http ?? [];
  return { shifted: http.filter((h) => h.name !== CANARY_ROUTE)[route.index] ?? null, canary: http.find((h) => h.name === CANARY_ROUTE) ?? null };
}

/** What `after` does to the route a shift moves, against `before` (a clause); null when it leaves it as it is. */
export function routeChange(before: StoredResource[], after: StoredResource[], route: ShiftRoute): string | null {
  const was = ownedEntries(before, route);
  const now = ownedEntries(after, route);
  if (isDeepStrictEqual(was, now)) return null;
  if (!now) return `it removes ${routeResourceLabel(route)}`;
  if (!now.shifted) return `it removes ${shiftedLabel(route)}`;
  if (route.name && !route.httpRoute && (now.shifted as { name?: unknown }).name !== route.name) {
    return `it puts another route at http[${route.index}] of VirtualService ${route.virtualService.namespace}/${route.virtualService.name}, where the shift's route ${route.name} was`;
  }
  const from = storedWeights(before, route);
  const to = storedWeights(after, route);
  if (from && to && !sameWeights(from, to)) return `it sets ${shiftedLabel(route)} to ${weightsText(to)} where the shift has ${weightsText(from)}`;
  return `it rewrites ${shiftedLabel(route)}`;
}

/**
 * How the applied route disagrees with what a shift expects (a clause), or null. `exact`: only the weights
 * the shift last set will do; otherwise any weights of its plan (a shift killed between a change of the
 * proxies and its record in the VirtualService leaves the previous step there).
 */
export function routeDisagreement(resources: StoredResource[], route: ShiftRoute, expected: Weights[]): string | null {
  const entries = ownedEntries(resources, route);
  if (!entries) return `${routeResourceLabel(route)} is no longer applied`;
  if (!entries.shifted) return `${shiftedLabel(route)} is no longer applied`;
  const stored = storedWeights(resources, route) ?? {};
  if (expected.some((w) => sameWeights(w, stored))) return null;
  return `${shiftedLabel(route)} holds ${weightsText(stored)} where the shift set ${weightsText(expected[0])}`;
}

/** The applied resource a shift records its weights in, as sentences name it. */
export function routeResourceLabel(route: ShiftRoute): string {
  return route.httpRoute ? `HTTPRoute ${route.httpRoute.namespace}/${route.httpRoute.name}` : `VirtualService ${route.virtualService.namespace}/${route.virtualService.name}`;
}
