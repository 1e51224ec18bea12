// A shift of an HTTPRoute attached to a Service (the Gateway API's mesh routing): the rule whose
// backendRefs split the Service's traffic between backend Services, and those backendRefs' weights.
// The shift's weights are keyed by backend name (reviews-v1, reviews-v2) where a VirtualService's are
// keyed by subset. backendRefs weights are proportions: a shift writes them as percentages (sum 100),
// so that every step's percentage is a weight as written; 1/1 before a shift reads 50/50 and an abort
// puts back 50/50, the same split.
import { usageError } from '../errors.js';
import type { StoredResource } from '../mesh/state.js';
import { modelOf } from '../mesh/pods.js';
import { desiredPods, podsOfService, serviceFor } from '../policy/mesh-model.js';
import { serviceHost } from '../policy/hosts.js';
import type { Weights } from './plan.js';
import { deployPodsHint, type ResolvedShift, type ResolveOptions, type ShiftRoute } from './route-types.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : []);
const namespaceOf = (r: StoredResource) => r.metadata.namespace ?? 'default';

function isServiceRef(ref: Obj): boolean {
  const group = typeof ref.group === 'string' ? ref.group : '';
  return (group === '' || group === 'core') && (ref.kind === undefined || ref.kind === 'Service');
}

/** The HTTPRoutes whose parentRefs name the Service of `host`. */
export function httpRoutesOf(resources: StoredResource[], host: string): StoredResource[] {
  return resources.filter((r) => r.kind === 'HTTPRoute' && list(obj(r.spec).parentRefs).some((p) => {
    const group = typeof p.group === 'string' ? p.group : 'gateway.networking.k8s.io';
    return (group === '' || group === 'core') && p.kind === 'Service' && serviceHost(String(p.name ?? ''), typeof p.namespace === 'string' ? p.namespace : namespaceOf(r)) === host;
  }));
}

/** Proportional weights as percentages summing to 100 (largest remainders get the rounding). */
export function asPercentages(weights: Weights): Weights {
  const total = Object.values(weights).reduce((n, w) => n + w, 0);
  if (total <= 0) return { ...weights };
  const exact = Object.entries(weights).map(([k, w]) => ({ k, share: (w * 100) / total }));
  const out: Weights = Object.fromEntries(exact.map((e) => [e.k, Math.floor(e.share)]));
  let left = 100 - Object.values(out).reduce((n, w) => n + w, 0);
  for (const e of [...exact].sort((a, b) => (b.share - Math.floor(b.share)) - (a.share - Math.floor(a.share)))) {
    if (left <= 0) break;
    out[e.k] += 1;
    left--;
  }
  return out;
}

function ruleLabel(route: StoredResource, rule: number): string {
  return `HTTPRoute ${namespaceOf(route)}/${route.metadata.name} rule ${rule}`;
}

function weightOf(ref: Obj): number {
  return typeof ref.weight === 'number' ? ref.weight : 1;
}

/** Finds the HTTPRoute rule a shift of `host` to the backend `options.to` moves, with what a user can get wrong. */
export function resolveHttpRouteShift(resources: StoredResource[], host: string, options: ResolveOptions): ResolvedShift {
  const routes = httpRoutesOf(resources, host);
  if (!routes.length) {
    throw usageError(`No HTTPRoute attached to Service ${options.host} (parentRefs kind Service) is applied in namespace ${options.namespace}; apply one whose rule sends ${options.host} to its backendRefs, or drop --route-kind httproute to shift a VirtualService.`);
  }
  if (routes.length > 1) {
    throw usageError(`Service ${options.host} has ${routes.length} HTTPRoutes attached (${routes.map((r) => `${namespaceOf(r)}/${r.metadata.name}`).join(', ')}); keep one HTTPRoute per Service before shifting it.`);
  }
  const route = routes[0];
  const namespace = namespaceOf(route);
  const rules = list(obj(route.spec).rules);
  const shiftable = (rule: Obj) => list(rule.backendRefs).length > 0 && list(rule.backendRefs).every((ref) => isServiceRef(ref) && (ref.namespace === undefined || ref.namespace === namespace));
  let candidates = rules.map((rule, index) => ({ rule, index })).filter((c) => shiftable(c.rule));
  if (options.route !== undefined) {
    const wanted = options.route;
    const chosen = /^\d+$/.test(wanted) ? candidates.find((c) => c.index === Number(wanted)) : undefined;
    if (!chosen) throw usageError(`HTTPRoute ${namespace}/${route.metadata.name} has no rule ${wanted} whose backendRefs are Services of its namespace; --route takes a rule's index (0 to ${rules.length - 1}).`);
    candidates = [chosen];
  }
  if (!candidates.length) throw usageError(`HTTPRoute ${namespace}/${route.metadata.name} has no rule whose backendRefs are Services of namespace ${namespace}; add one and apply it before shifting.`);
  if (candidates.length > 1) {
    const splits = candidates.filter((c) => list(c.rule.backendRefs).length > 1);
    const catchAll = candidates.filter((c) => !list(c.rule.matches).length);
    if (splits.length === 1) candidates = splits;
    else if (!splits.length && catchAll.length === 1) candidates = catchAll;
    else throw usageError(`HTTPRoute ${namespace}/${route.metadata.name} has ${candidates.length} rules to backend Services (${candidates.map((c) => c.index).join(', ')}); choose one with --route INDEX.`);
  }
  const { rule, index: ruleIndex } = candidates[0];
  if (list(rule.matches).length > 1) {
    throw usageError(`${ruleLabel(route, ruleIndex)} has ${list(rule.matches).length} matches; a shift moves one rule with at most one match, so split it into one rule per match before shifting.`);
  }
  const refs = list(rule.backendRefs);
  const present = refs.map((r) => String(r.name ?? ''));
  if (new Set(present).size !== present.length) throw usageError(`${ruleLabel(route, ruleIndex)} names a backend twice; merge those backendRefs before shifting.`);

  const model = modelOf(resources);
  const backendService = (name: string) => serviceFor(model, serviceHost(name, namespace));
  if (!backendService(options.to)) throw usageError(`There is no Service ${options.to} in namespace ${namespace} for --to; name the backend Service to shift ${options.host}'s traffic to.`);
  if (options.from !== undefined && !present.includes(options.from)) {
    throw usageError(`${ruleLabel(route, ruleIndex)} has no backendRef ${options.from} (its backends are ${present.join(', ')}); --from must name one of them.`);
  }
  if (options.from !== undefined && options.from === options.to) throw usageError(`--from and --to both name backend ${options.to}; a shift moves traffic from one backend to another.`);
  const raw: Weights = Object.fromEntries(refs.map((r) => [String(r.name ?? ''), weightOf(r)]));
  let from = options.from;
  if (from === undefined) {
    const others = present.filter((n) => n !== options.to);
    if (!others.length) throw usageError(`${ruleLabel(route, ruleIndex)} sends all its traffic to ${options.to} already; name the backend to shift from with --from, or shift to another backend.`);
    from = [...others].sort((a, b) => raw[b] - raw[a])[0];
  }
  const addsDestination = !present.includes(options.to);
  if (addsDestination) raw[options.to] = 0;
  const baseline = asPercentages(raw);
  const service = backendService(options.to)!;
  if (service.kind === 'Service' && !podsOfService(service, options.pods ?? desiredPods(model)).length) {
    throw usageError(`Service ${options.to} selects no pod; ${deployPodsHint(options)} before shifting traffic to it.`);
  }

  // The compiled route: the translation's mesh routes of the parent Service, named after the rule.
  const compiledName = `${namespace}.${route.metadata.name}.${ruleIndex}.0`;
  const meshRoutes = model.virtualServices.find((vs) => vs.gateways.includes('mesh') && vs.hosts.includes(host) && vs.http.some((h) => h.name === compiledName));
  const compiled = meshRoutes?.http.find((h) => h.name === compiledName);
  if (!meshRoutes || !compiled) throw usageError(`${ruleLabel(route, ruleIndex)} is not routed by the mesh (see meshctl get httproutes ${route.metadata.name} -o yaml for its conditions); fix it and apply it before shifting.`);
  const destinations = addsDestination ? [...present, options.to] : present;
  const shifted: ShiftRoute = {
    host,
    hostArg: options.host,
    namespace: options.namespace,
    virtualService: { namespace: meshRoutes.namespace, name: meshRoutes.name },
    index: compiled.index,
    name: compiledName,
    from,
    to: options.to,
    destinations,
    httpRoute: { namespace, name: route.metadata.name, rule: ruleIndex },
    backends: Object.fromEntries(destinations.map((n) => [serviceHost(n, namespace), n])),
  };
  // The route is written as percentages before the first step unless it holds them already.
  const rewrites = addsDestination || Object.entries(raw).some(([k, w]) => baseline[k] !== w);
  return { route: shifted, baseline, addsDestination: rewrites, subsets: destinations, mirrored: list(rule.filters).some((f) => f.type === 'RequestMirror') };
}

/** The stored HTTPRoute of a shift. */
export function findHttpRoute(resources: StoredResource[], ref: { namespace: string; name: string }): StoredResource | undefined {
  return resources.find((r) => r.kind === 'HTTPRoute' && r.metadata.name === ref.name && namespaceOf(r) === ref.namespace);
}

/** The shifted rule as written (null when the HTTPRoute or the rule is gone). */
export function shiftedRule(resources: StoredResource[], route: ShiftRoute): Obj | null {
  const stored = route.httpRoute ? findHttpRoute(resources, route.httpRoute) : undefined;
  if (!stored || !route.httpRoute) return null;
  return list(obj(stored.spec).rules)[route.httpRoute.rule] ?? null;
}

/** The shifted rule's backendRefs weights in a stored HTTPRoute, by backend name. */
export function httpRouteWeights(resources: StoredResource[], route: ShiftRoute): Weights | null {
  const rule = shiftedRule(resources, route);
  if (!rule) return null;
  const out: Weights = {};
  for (const ref of list(rule.backendRefs)) out[String(ref.name ?? '')] = (out[String(ref.name ?? '')] ?? 0) + weightOf(ref);
  return out;
}

/** `stored` with the shifted rule's backendRefs at `weights` (the new backend added after the stable one's entry when missing). */
export function withHttpRouteWeights(stored: StoredResource, route: ShiftRoute, weights: Weights): StoredResource {
  const next = structuredClone(stored);
  const rules = list(obj(next.spec).rules);
  const rule = rules[route.httpRoute!.rule];
  if (!rule) throw usageError(`HTTPRoute ${route.httpRoute!.namespace}/${route.httpRoute!.name} no longer has rule ${route.httpRoute!.rule}; the shift cannot store its weights (abort it with meshctl route abort ${route.hostArg}).`);
  const refs = list(rule.backendRefs);
  const template = refs.find((r) => r.name === route.from) ?? refs[0] ?? { kind: 'Service' };
  for (const name of new Set([route.to, ...Object.keys(weights).filter((k) => weights[k] > 0)])) {
    if (refs.some((r) => r.name === name)) continue;
    refs.push({ ...structuredClone(template), name });
  }
  for (const ref of refs) ref.weight = weights[String(ref.name ?? '')] ?? 0;
  rule.backendRefs = refs;
  (next.spec as Obj).rules = rules;
  return next;
}
