// Traffic impact, per host: the share of each route's requests that every destination (host + subset)
// gets before and after, the route's retries, timeout, fault injection and mirroring, and the host's
// traffic policies (connection pool, outlier detection, load balancing), with the risks they carry.
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { Canonical, canonicalSpecOf, isMapping, plain, stableKey } from './canonical.js';
import { hostKey, serviceHost, shortHost } from '../hosts.js';
import { pairRoutes, routeIdentity, type RouteIdentity } from './routes.js';
import { idOf, keyOf } from './pairing.js';
import { parseDuration } from '../duration.js';
import { listOf, objectOf, specOf, stringOf, type GRPCRouteSpecParentRefs, type HTTPRouteSpecParentRefs, type HTTPRouteSpecRules, type HTTPRouteSpecRulesBackendRefs, type HTTPRouteSpecRulesFilters, type Mistyped } from '../spec.js';
import {
  maxRisk,
  type DestinationShare,
  type PolicyImpact,
  type Risk,
  type RiskNote,
  type RouteImpact,
  type SettingChange,
  type TrafficImpact,
} from './model.js';

type Obj = Record<string, unknown>;
type Protocol = 'http' | 'tcp' | 'tls';

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Canonical);

/** A changed resource: its version in OLD and in NEW (one is absent when it was added or removed). */
export interface ResourceChangePair {
  before?: Resource;
  after?: Resource;
}

interface Share {
  host: string;
  subset: string | null;
  port: number | null;
  /** A pseudo-destination: the route answers itself (redirect, direct response), or no route table applies. */
  pseudo?: 'redirect' | 'direct response' | 'implicit';
  percent: number;
}

interface Setting {
  key: string;
  value: unknown;
}

interface RouteModel {
  identity: RouteIdentity;
  protocol: Protocol;
  shares: Map<string, Share>;
  settings: Map<string, Setting>;
  source: Resource | null;
  reachable: boolean;
}

interface HostRoutes {
  routes: RouteModel[];
  sources: Resource[];
  /** No route table names the host: every request goes to the host's endpoints. */
  implicit: boolean;
}

const ROUTE_KINDS = new Set<string>([K.VirtualService, K.HTTPRoute, K.GRPCRoute]);
const ROUTE_SETTINGS = new Set(['timeout', 'retries', 'fault', 'mirror', 'mirrorPercentage', 'mirrorPercent', 'mirrors']);

const round = (n: number): number => Math.round(n * 100) / 100;

function hostText(v: unknown): string {
  if (v instanceof Canonical) return v.key.startsWith('h:') ? v.key.slice(2) : String(v.raw);
  return typeof v === 'string' ? v : String(v ?? '');
}

/** Hosts a route resource applies to, read from the resource as written (cheap: no canonical form). */
export function routeHosts(r: Resource): string[] {
  if (r.kindId === K.VirtualService) {
    const hosts = listOf(specOf(r, K.VirtualService).hosts).filter((h): h is string => typeof h === 'string');
    return [...new Set(hosts.map((h) => hostKey(r.namespace, h)))];
  }
  if (r.kindId === K.HTTPRoute || r.kindId === K.GRPCRoute) {
    const spec = r.kindId === K.HTTPRoute ? specOf(r, K.HTTPRoute) : specOf(r, K.GRPCRoute);
    const out = new Set<string>();
    const parents = listOf<HTTPRouteSpecParentRefs | GRPCRouteSpecParentRefs | Mistyped>(spec.parentRefs);
    for (const item of parents) {
      const p = objectOf(item);
      if (p.kind === 'Service' && typeof p.name === 'string') out.add(serviceHost(p.name, stringOf(p.namespace, r.namespace)));
    }
    if (parents.some((p) => !isObj(p) || p.kind !== 'Service')) {
      const names = listOf<string | Mistyped>(spec.hostnames).filter((h): h is string => typeof h === 'string');
      for (const h of names.length ? names : ['*']) out.add(h.toLowerCase());
    }
    return [...out];
  }
  return [];
}

export function policyHost(r: Resource): string | undefined {
  const host = specOf(r, K.DestinationRule).host;
  return typeof host === 'string' ? hostKey(r.namespace, host) : undefined;
}

/** Host → the route resources naming it, for one side. */
export function indexRouteHosts(resources: Resource[]): Map<string, Resource[]> {
  const byHost = new Map<string, Resource[]>();
  for (const r of resources) {
    if (!ROUTE_KINDS.has(r.kindId)) continue;
    for (const h of routeHosts(r)) {
      let list = byHost.get(h);
      if (!list) byHost.set(h, (list = []));
      list.push(r);
    }
  }
  for (const list of byHost.values()) list.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
  return byHost;
}

function flatten(prefix: string, v: unknown, out: Map<string, Setting>): void {
  if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) flatten(prefix ? `${prefix}.${k}` : k, x, out);
    return;
  }
  out.set(prefix, { key: stableKey(v), value: plain(v) });
}

function addShare(shares: Map<string, Share>, share: Share): void {
  const key = share.pseudo && share.pseudo !== 'implicit' ? share.pseudo : `${share.host}|${share.subset ?? ''}|${share.port ?? ''}`;
  const known = shares.get(key);
  if (known) known.percent = round(known.percent + share.percent);
  else shares.set(key, share);
}

function weightedShares(entries: { host: string; subset: string | null; port: number | null; weight: number | undefined }[], implicitWeight: number): Map<string, Share> {
  const shares = new Map<string, Share>();
  if (entries.length === 1) {
    const only = entries[0]!;
    // A lone Gateway API backend with weight 0 sends nothing; a lone Istio destination takes everything.
    addShare(shares, { ...only, percent: implicitWeight === 1 && only.weight === 0 ? 0 : 100 });
    return shares;
  }
  const weights = entries.map((e) => e.weight ?? (implicitWeight === 100 ? 0 : 1));
  const total = weights.reduce((a, b) => a + b, 0);
  entries.forEach((e, i) => addShare(shares, { host: e.host, subset: e.subset, port: e.port, percent: total > 0 ? round((weights[i]! / total) * 100) : round(100 / entries.length) }));
  return shares;
}

function istioRoutes(r: Resource): RouteModel[] {
  const spec = canonicalSpecOf(r, K.VirtualService) as Obj;
  const out: RouteModel[] = [];
  for (const protocol of ['http', 'tcp', 'tls'] as const) {
    const list = Array.isArray(spec[protocol]) ? (spec[protocol] as unknown[]) : [];
    for (const item of list) {
      const route = isObj(item) ? item : {};
      const identity = routeIdentity(route);
      let shares: Map<string, Share>;
      if (protocol === 'http' && isObj(route.redirect)) {
        shares = new Map([['redirect', { host: '', subset: null, port: null, pseudo: 'redirect', percent: 100 }]]);
      } else if (protocol === 'http' && isObj(route.directResponse)) {
        shares = new Map([['direct response', { host: '', subset: null, port: null, pseudo: 'direct response', percent: 100 }]]);
      } else {
        const dests = (Array.isArray(route.route) ? route.route : []).filter(isObj).map((d) => {
          const dest = isObj(d.destination) ? d.destination : {};
          const port = isObj(dest.port) && typeof dest.port.number === 'number' ? dest.port.number : null;
          return { host: hostText(dest.host), subset: typeof dest.subset === 'string' ? dest.subset : null, port, weight: typeof d.weight === 'number' ? d.weight : undefined };
        });
        shares = weightedShares(dests, 100);
      }
      const settings = new Map<string, Setting>();
      for (const [k, v] of Object.entries(route)) if (ROUTE_SETTINGS.has(k)) flatten(k, v, settings);
      if (protocol === 'http' && isObj(route.redirect)) flatten('redirect', route.redirect, settings);
      if (protocol === 'http' && isObj(route.directResponse)) flatten('directResponse', route.directResponse, settings);
      out.push({ identity: { ...identity, id: `${protocol}:${identity.id}` }, protocol, shares, settings, source: r, reachable: true });
    }
  }
  return out;
}

function gatewayApiRoutes(r: Resource): RouteModel[] {
  // A GRPCRoute's rules carry backendRefs, timeouts, retry and filters as an HTTPRoute's do.
  const spec = canonicalSpecOf(r, K.HTTPRoute);
  const rules = Array.isArray(spec.rules) ? spec.rules : [];
  return rules.map((item) => {
    const rule: HTTPRouteSpecRules = isMapping(item) ? item : {};
    const identity = routeIdentity(rule as Obj, true);
    const refs = (Array.isArray(rule.backendRefs) ? rule.backendRefs : []).filter((b): b is HTTPRouteSpecRulesBackendRefs => isMapping(b)).map((b) => ({
      host: serviceHost(String(b.name ?? ''), typeof b.namespace === 'string' ? b.namespace : r.namespace),
      subset: null,
      port: typeof b.port === 'number' ? b.port : null,
      weight: typeof b.weight === 'number' ? b.weight : undefined,
    }));
    const settings = new Map<string, Setting>();
    if (isObj(rule.timeouts)) flatten('timeouts', rule.timeouts, settings);
    // retry is the Gateway API's experimental field, which the standard schema here does not define
    // (validate reports it); a diff still shows a change to it.
    const retry = (rule as Obj).retry;
    if (isObj(retry)) flatten('retry', retry, settings);
    const filters = Array.isArray(rule.filters) ? rule.filters.filter((f): f is HTTPRouteSpecRulesFilters => isMapping(f)) : [];
    filters.forEach((f) => {
      if (f.type === 'RequestMirror') flatten(`mirror`, f.requestMirror, settings);
    });
    return { identity: { ...identity, id: `http:${identity.id}` }, protocol: 'http' as const, shares: weightedShares(refs, 1), settings, source: r, reachable: true };
  });
}

function hostRoutes(host: string, sources: Resource[] | undefined): HostRoutes {
  if (!sources || sources.length === 0) {
    const shares = new Map<string, Share>([['implicit', { host, subset: null, port: null, pseudo: 'implicit', percent: 100 }]]);
    return {
      routes: [{ identity: { id: 'http:m:', named: false, label: 'default', catchAll: true }, protocol: 'http', shares, settings: new Map(), source: null, reachable: true }],
      sources: [],
      implicit: true,
    };
  }
  const routes = sources.flatMap((r) => (r.kindId === K.VirtualService ? istioRoutes(r) : gatewayApiRoutes(r)));
  // Istio takes the first HTTP route that matches: routes after one without a match are never reached.
  let caught = false;
  for (const route of routes) {
    if (route.protocol !== 'http' || route.source?.kindId !== K.VirtualService) continue;
    route.reachable = !caught;
    if (route.identity.catchAll) caught = true;
  }
  return { routes, sources, implicit: false };
}

function destinationLabel(s: Share): string {
  if (s.pseudo === 'redirect' || s.pseudo === 'direct response') return s.pseudo;
  return `${shortHost(s.host)}${s.subset ? `/${s.subset}` : ''}${s.port !== null ? `:${s.port}` : ''}`;
}

function shareChanges(before: Map<string, Share> | undefined, after: Map<string, Share> | undefined): DestinationShare[] {
  const keys = [...new Set([...(before?.keys() ?? []), ...(after?.keys() ?? [])])];
  return keys.map((k) => {
    const s = (after?.get(k) ?? before?.get(k))!;
    return {
      destination: destinationLabel(s),
      host: s.host,
      subset: s.subset,
      port: s.port,
      before: before?.get(k)?.percent ?? 0,
      after: after?.get(k)?.percent ?? 0,
    };
  });
}

function settingChanges(before: Map<string, Setting> | undefined, after: Map<string, Setting> | undefined): SettingChange[] {
  const names = [...new Set([...(before?.keys() ?? []), ...(after?.keys() ?? [])])];
  const out: SettingChange[] = [];
  for (const name of names) {
    const b = before?.get(name);
    const a = after?.get(name);
    if (b?.key === a?.key) continue;
    out.push({ setting: name, before: b ? b.value : null, after: a ? a.value : null });
  }
  return out;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'unset';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function settingsText(changes: SettingChange[]): string {
  return changes.map((c) => `${c.setting} ${show(c.before)} → ${show(c.after)}`).join(', ');
}

function sharesText(shares: DestinationShare[]): string {
  return shares
    .filter((s) => s.before !== s.after)
    .map((s) => `${s.destination} ${s.before}% → ${s.after}%`)
    .join(', ');
}

function faultText(settings: Map<string, Setting>): string {
  const abort = settings.get('fault.abort.httpStatus') ?? settings.get('fault.abort.grpcStatus');
  const abortPct = settings.get('fault.abort.percentage.value');
  const delay = settings.get('fault.delay.fixedDelay');
  const delayPct = settings.get('fault.delay.percentage.value');
  const parts: string[] = [];
  if (abort || abortPct) parts.push(`abort${abort ? ` ${show(abort.value)}` : ''} for ${abortPct ? show(abortPct.value) : 100}% of requests`);
  if (delay || delayPct) parts.push(`delay${delay ? ` ${show(delay.value)}` : ''} for ${delayPct ? show(delayPct.value) : 100}% of requests`);
  return parts.join(' and ') || 'a fault';
}

const hasFault = (settings: Map<string, Setting> | undefined): boolean => [...(settings?.keys() ?? [])].some((k) => k.startsWith('fault.'));

/** Durations and numbers for "is this relaxed?" comparisons; absent means the documented default. */
function outlierNumbers(od: unknown): { c5xx: number; cgw: number; interval: number; ejection: number; maxEject: number; minHealth: number } | null {
  if (!isObj(od)) return null;
  const num = (v: unknown, dflt: number, zeroIsOff = false): number => {
    const n = typeof v === 'number' ? v : v instanceof Canonical ? Number(v.raw) : dflt;
    return zeroIsOff && n === 0 ? Infinity : n;
  };
  const ms = (v: unknown, dflt: number): number => (v instanceof Canonical ? (parseDuration(String(v.raw)) ?? dflt) : dflt);
  return {
    c5xx: num(od.consecutive5xxErrors ?? od.consecutiveErrors, 5, true),
    cgw: num(od.consecutiveGatewayErrors, 0, true),
    interval: ms(od.interval, 10_000),
    ejection: ms(od.baseEjectionTime, 30_000),
    maxEject: num(od.maxEjectionPercent, 10),
    minHealth: num(od.minHealthPercent, 0),
  };
}

/** Why outlier detection ejects less after the change; undefined when it does not. */
function outlierRelaxation(before: unknown, after: unknown): string | undefined {
  const b = outlierNumbers(before);
  const a = outlierNumbers(after);
  if (!b) return undefined;
  if (!a) return 'is turned off';
  const reasons: string[] = [];
  if (a.c5xx > b.c5xx) reasons.push('needs more consecutive 5xx errors to eject');
  if (a.cgw > b.cgw) reasons.push('needs more consecutive gateway errors to eject');
  if (a.interval > b.interval) reasons.push('sweeps less often');
  if (a.ejection < b.ejection) reasons.push('ejects for a shorter time');
  if (a.maxEject < b.maxEject) reasons.push('ejects a smaller share of hosts');
  if (a.minHealth > b.minHealth) reasons.push('stops ejecting at a higher health threshold');
  return reasons.length ? reasons.join(', ') : undefined;
}

interface PolicyBlock {
  subset: string | null;
  port: number | null;
  policy: Obj;
}

/** The traffic policies a DestinationRule declares: the host's, each port's, each subset's. */
function policyBlocks(r: Resource | undefined): Map<string, PolicyBlock> {
  const out = new Map<string, PolicyBlock>();
  if (!r) return out;
  const spec = canonicalSpecOf(r, K.DestinationRule);
  const add = (subset: string | null, policy: unknown) => {
    if (!isObj(policy)) return;
    out.set(`${subset ?? ''}|`, { subset, port: null, policy });
    const ports = Array.isArray(policy.portLevelSettings) ? policy.portLevelSettings.filter(isObj) : [];
    for (const p of ports) {
      const number = isObj(p.port) && typeof p.port.number === 'number' ? p.port.number : null;
      if (number !== null) out.set(`${subset ?? ''}|${number}`, { subset, port: number, policy: p });
    }
  };
  add(null, spec.trafficPolicy);
  for (const s of Array.isArray(spec.subsets) ? spec.subsets : []) if (isMapping(s) && typeof s.name === 'string') add(s.name, s.trafficPolicy);
  return out;
}

const POLICY_SETTINGS = ['connectionPool', 'outlierDetection', 'loadBalancer'];

function policySettings(block: PolicyBlock | undefined): Map<string, Setting> {
  const out = new Map<string, Setting>();
  if (!block) return out;
  for (const k of POLICY_SETTINGS) if (block.policy[k] !== undefined) flatten(k, block.policy[k], out);
  // An outlierDetection block with every field at its default still turns ejection on.
  if (block.policy.outlierDetection !== undefined && ![...out.keys()].some((k) => k.startsWith('outlierDetection.'))) {
    out.set('outlierDetection', { key: '{}', value: {} });
  }
  return out;
}

function scopeText(host: string, subset: string | null, port: number | null): string {
  return `${shortHost(host)}${subset ? `/${subset}` : ''}${port !== null ? ` port ${port}` : ''}`;
}

export interface TrafficResult {
  impacts: TrafficImpact[];
  notes: RiskNote[];
}

/**
 * Traffic impact of the changed resources, for every host they route or set policy for. Only the hosts
 * touched by a change are modelled, so the cost follows the size of the change, not of the policy set.
 */
export function trafficImpact(before: Resource[], after: Resource[], changes: ResourceChangePair[]): TrafficResult {
  const touchedRoutes = new Set<string>();
  const policyChanges: { host: string; change: ResourceChangePair }[] = [];
  for (const c of changes) {
    for (const r of [c.before, c.after]) {
      if (r && ROUTE_KINDS.has(r.kindId)) for (const h of routeHosts(r)) touchedRoutes.add(h);
    }
    const dr = c.after ?? c.before!;
    if (dr.kindId === K.DestinationRule) {
      const host = policyHost(dr);
      if (host) policyChanges.push({ host, change: c });
    }
  }
  const byHost = new Map<string, TrafficImpact>();
  const notes: RiskNote[] = [];
  const impactFor = (host: string): TrafficImpact => {
    let impact = byHost.get(host);
    if (!impact) byHost.set(host, (impact = { host, routes: [], policies: [], risk: 'low', reasons: [] }));
    return impact;
  };
  const note = (impact: TrafficImpact, risk: Risk, reason: string, keys: string[]) => {
    impact.risk = maxRisk(impact.risk, risk);
    impact.reasons.push(reason);
    notes.push({ risk, reason, keys });
  };

  if (touchedRoutes.size) {
    const oldIndex = indexRouteHosts(before);
    const newIndex = indexRouteHosts(after);
    for (const host of [...touchedRoutes].sort()) routeImpact(host, hostRoutes(host, oldIndex.get(host)), hostRoutes(host, newIndex.get(host)), impactFor, note);
  }
  for (const { host, change } of policyChanges) policyImpact(host, change, impactFor, note);

  const impacts = [...byHost.values()].filter((i) => i.routes.length || i.policies.length || i.reorder || i.reasons.length);
  impacts.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return { impacts, notes };
}

type NoteFn = (impact: TrafficImpact, risk: Risk, reason: string, keys: string[]) => void;

function routeImpact(host: string, before: HostRoutes, after: HostRoutes, impactFor: (h: string) => TrafficImpact, note: NoteFn): void {
  if (before.implicit && after.implicit) return;
  const name = shortHost(host);
  const sourceKeys = [...before.sources, ...after.sources].map(keyOf);
  const keysOf = (...routes: (RouteModel | undefined)[]) => [...new Set(routes.flatMap((r) => (r?.source ? [keyOf(r.source)] : [])))];
  const routeResources = (...routes: (RouteModel | undefined)[]) => {
    const seen = new Set<string>();
    return routes.flatMap((r) => (r?.source && !seen.has(keyOf(r.source)) && seen.add(keyOf(r.source)) ? [idOf(r.source)] : []));
  };
  const entries: RouteImpact[] = [];
  const impact = impactFor(host);

  // The implicit route (every request to the host's endpoints) is the route table's catch-all route.
  const adopt = (implicit: HostRoutes, other: HostRoutes) => {
    const catchAll = other.routes.find((r) => r.protocol === 'http' && r.identity.catchAll);
    if (!implicit.implicit) return;
    // Without a catch-all on the other side, the implicit route pairs with nothing (not with a matched route by position).
    implicit.routes[0]!.identity = catchAll ? { ...catchAll.identity } : { ...implicit.routes[0]!.identity, id: 'http:implicit', named: true };
  };
  adopt(before, after);
  adopt(after, before);
  if (!before.implicit && after.implicit) {
    note(impact, 'high', `${name} loses its routes: no route table names it any more, so every request goes to any of its endpoints, without the old routes, splits, retries or timeouts.`, sourceKeys);
  }
  for (const protocol of ['http', 'tcp', 'tls'] as const) {
    const b = before.routes.filter((r) => r.protocol === protocol);
    const a = after.routes.filter((r) => r.protocol === protocol);
    if (!b.length && !a.length) continue;
    const pairing = pairRoutes(b.map((r) => r.identity), a.map((r) => r.identity));
    if (pairing.reordered && protocol === 'http') {
      impact.reorder = { before: b.map((r) => r.identity.label), after: a.map((r) => r.identity.label) };
      note(impact, 'medium', `The HTTP routes of ${name} are reordered; a request that matches more than one of them now takes a different route.`, keysOf(...a));
    }
    for (const [i, j] of pairing.pairs) {
      const ob = b[i]!;
      const na = a[j]!;
      const shares = shareChanges(ob.shares, na.shares);
      const settings = settingChanges(ob.settings, na.settings);
      const matchChanged = ob.identity.label !== na.identity.label;
      if (!matchChanged && !settings.length && shares.every((s) => s.before === s.after)) continue;
      const entry: RouteImpact = { route: na.identity.label, protocol, op: 'changed', shares, settings, resources: routeResources(ob, na) };
      if (matchChanged) entry.match = { before: ob.identity.label, after: na.identity.label };
      entries.push(entry);
      // A host that lost its route table has one reason already; its old routes' details are in the entries.
      if (after.implicit) continue;
      const keys = keysOf(ob, na);
      const label = `route ${na.identity.label === 'default' ? 'default' : `"${na.identity.label}"`} of ${name}`;
      if (matchChanged && !before.implicit) {
        note(impact, 'medium', `The ${protocol.toUpperCase()} route of ${name} that matched "${ob.identity.label}" now matches "${na.identity.label}"; the requests it catches change.`, keys);
      }
      if (shares.some((s) => s.before !== s.after)) {
        note(impact, 'medium', `Traffic moves on ${label}: ${sharesText(shares)}.`, keys);
      }
      const retries = settings.filter((s) => s.setting === 'timeout' || s.setting.startsWith('retries') || s.setting.startsWith('timeouts') || s.setting.startsWith('retry'));
      if (retries.length) note(impact, 'medium', `Retries or timeouts change on ${label}: ${settingsText(retries)}.`, keys);
      const faults = settings.filter((s) => s.setting.startsWith('fault'));
      if (faults.length) faultNote(impact, note, label, ob.settings, na.settings, na.identity.catchAll, faults, keys);
      const mirror = settings.filter((s) => s.setting.startsWith('mirror'));
      if (mirror.length) note(impact, 'low', `Mirroring changes on ${label}: ${settingsText(mirror)}.`, keys);
    }
    for (const i of pairing.removed) {
      const ob = b[i]!;
      entries.push({ route: ob.identity.label, protocol, op: 'removed', shares: shareChanges(ob.shares, undefined), settings: settingChanges(ob.settings, undefined), resources: routeResources(ob) });
      if (before.implicit) {
        note(impact, 'high', `${name} gets routes but no default route: requests that match none of them, which went to its endpoints before, now fail.`, keysOf(...a));
      } else if (!after.implicit) {
        note(impact, 'high', `The ${protocol.toUpperCase()} route ${ob.identity.label === 'default' ? 'default' : `"${ob.identity.label}"`} of ${name} is removed; the requests it matched fall through to the routes after it, or fail when none matches.`, keysOf(ob, ...a));
      }
    }
    for (const j of pairing.added) {
      const na = a[j]!;
      entries.push({ route: na.identity.label, protocol, op: 'added', shares: shareChanges(undefined, na.shares), settings: settingChanges(undefined, na.settings), resources: routeResources(na) });
      const dests = [...na.shares.values()].map((s) => `${destinationLabel(s)} ${s.percent}%`).join(', ');
      note(impact, 'medium', `A new ${protocol.toUpperCase()} route ${na.identity.label === 'default' ? 'default' : `"${na.identity.label}"`} of ${name} sends the requests it matches to ${dests || 'no destination'}.`, keysOf(na));
      if (hasFault(na.settings)) faultNote(impact, note, `route "${na.identity.label}" of ${name}`, undefined, na.settings, na.identity.catchAll, settingChanges(undefined, na.settings).filter((s) => s.setting.startsWith('fault')), keysOf(na));
    }
  }
  impact.routes.push(...entries);
  if (before.implicit || after.implicit) return;
  // A destination that took a share of some reachable route before and takes none now.
  const receiving = (routes: RouteModel[]) => {
    const out = new Map<string, { share: Share; route: string }>();
    for (const r of routes) {
      if (!r.reachable) continue;
      for (const [k, s] of r.shares) if (s.percent > 0 && !s.pseudo && !out.has(k)) out.set(k, { share: s, route: r.identity.label });
    }
    return out;
  };
  const had = receiving(before.routes);
  const has = receiving(after.routes);
  for (const [k, { share, route }] of had) {
    if (has.has(k)) continue;
    const pct = before.routes.find((r) => r.identity.label === route)?.shares.get(k)?.percent ?? 0;
    note(impact, 'high', `${destinationLabel(share)} no longer gets any traffic from ${name} (it had ${pct}% of route ${route === 'default' ? 'default' : `"${route}"`}).`, sourceKeys);
  }
}

function faultNote(
  impact: TrafficImpact,
  note: NoteFn,
  label: string,
  before: Map<string, Setting> | undefined,
  after: Map<string, Setting>,
  catchAll: boolean,
  faults: SettingChange[],
  keys: string[],
): void {
  if (!hasFault(after)) {
    note(impact, 'low', `Fault injection is removed from ${label}.`, keys);
    return;
  }
  const added = !hasFault(before);
  if (added && catchAll) {
    note(impact, 'high', `A fault (${faultText(after)}) is added to ${label}, which has no match: it hits every request the route takes.`, keys);
    return;
  }
  note(impact, 'medium', `Fault injection ${added ? 'is added to' : 'changes on'} ${label}: ${settingsText(faults)}.`, keys);
}

function policyImpact(host: string, change: ResourceChangePair, impactFor: (h: string) => TrafficImpact, note: NoteFn): void {
  const blocksBefore = policyBlocks(change.before);
  const blocksAfter = policyBlocks(change.after);
  const resource = idOf((change.after ?? change.before)!);
  const key = keyOf((change.after ?? change.before)!);
  const impact = impactFor(host);
  for (const k of [...new Set([...blocksBefore.keys(), ...blocksAfter.keys()])]) {
    const b = blocksBefore.get(k);
    const a = blocksAfter.get(k);
    const settings = settingChanges(policySettings(b), policySettings(a));
    if (!settings.length) continue;
    const subset = (a ?? b)!.subset;
    const port = (a ?? b)!.port;
    const entry: PolicyImpact = { subset, port, settings, resource };
    impact.policies.push(entry);
    const where = scopeText(host, subset, port);
    const relaxed = outlierRelaxation(b?.policy.outlierDetection, a?.policy.outlierDetection);
    if (relaxed) note(impact, 'medium', `Outlier detection for ${where} is relaxed: it ${relaxed}.`, [key]);
    const rest = settings.filter((s) => !(relaxed && s.setting.startsWith('outlierDetection')));
    if (rest.length) note(impact, 'low', `Traffic policy for ${where} changes: ${settingsText(rest)}.`, [key]);
  }
}
