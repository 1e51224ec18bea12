// Host names within one analysis: the mesh config's cluster domain, the names resolved once per
// analysis, and the indexes of Service, ServiceEntry and DestinationRule hosts with their exportTo
// visibility. The rules themselves are src/lib/policy/hosts.ts.
import type { AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import {
  DEFAULT_CLUSTER_DOMAIN, EXPORT_ALL, EXPORT_LOCAL, HostNames, exportScopes, exportToList, exportsToAll, hostSubsetOf, isWildcardHost,
  serviceExportScopes, visibleFrom,
} from '../hosts.js';
import { listOf, objectOf, specOf } from '../spec.js';
import { asArray, asObject } from './util.js';

export const MESH_GATEWAY = 'mesh';

/** The cluster domain of the mesh config (`clusterDomain`), `cluster.local` unless set. */
export function clusterDomainOf(ctx: AnalysisContext): string {
  const d = ctx.meshConfig.clusterDomain;
  return typeof d === 'string' && d !== '' ? d : DEFAULT_CLUSTER_DOMAIN;
}

/** The analysis' shared HostNames (its mesh config's cluster domain). */
export function hostNames(ctx: AnalysisContext): HostNames {
  return ctx.memo('hosts.names', () => new HostNames(clusterDomainOf(ctx)));
}

/** A reference like a VirtualService's gateway: `ns/name`, or `name` in `defaultNamespace`. */
export function shortOrFullName(defaultNamespace: string, ref: string): { namespace: string; name: string } {
  const slash = ref.indexOf('/');
  if (slash === -1) return { namespace: defaultNamespace, name: ref };
  return { namespace: ref.slice(0, slash), name: ref.slice(slash + 1) };
}

/**
 * The namespaces whose proxies a VirtualService's routes must work for: its own namespace when it is
 * exported everywhere (the default), else each namespace it is exported to.
 */
export function virtualServiceConsumers(vs: Resource): string[] {
  return buildConsumers(vs);
}

/** virtualServiceConsumers(vs), worked out once per analysis (several analyzers ask; callers only read the list). */
export function consumersOf(ctx: AnalysisContext, vs: Resource): string[] {
  const lists = ctx.memo('hosts.consumers', () => new Map<Resource, string[]>());
  let out = lists.get(vs);
  if (!out) lists.set(vs, (out = buildConsumers(vs)));
  return out;
}

function buildConsumers(vs: Resource): string[] {
  const raw = specOf(vs, K.VirtualService).exportTo;
  if (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0)) return [vs.namespace]; // Exported everywhere: its own namespace.
  const exportTo = exportToList(raw);
  const out = new Set<string>();
  if (exportsToAll(exportTo)) out.add(vs.namespace);
  for (const e of exportTo) {
    if (e === EXPORT_ALL) continue;
    out.add(e === EXPORT_LOCAL ? vs.namespace : e);
  }
  return [...out];
}

/** A host known to the mesh: a ServiceEntry host or a Kubernetes Service. */
export interface ServiceHost {
  /** FQDN (or wildcard) of the host. */
  host: string;
  scopes: string[];
  ports: number[];
  kind: 'ServiceEntry' | 'Service';
  resource: Resource;
}

/** The port numbers of a Service's ports (those that are numbers). */
function servicePorts(raw: unknown): number[] {
  const out: number[] = [];
  const ports = asArray(raw);
  for (let i = 0; i < ports.length; i++) {
    const n = Number(asObject(ports[i]).port);
    if (Number.isFinite(n)) out.push(n);
  }
  return out;
}

/** Every host of the mesh, keyed by scope and FQDN; a Service replaces a ServiceEntry host of the same key. */
export class ServiceHostIndex {
  readonly domain: string;
  /** The hosts as scope → FQDN → host, for lookups without building a key; null when a scope or host holds a `/` (then the joined keys are used). */
  private readonly byScope: Map<string, Map<string, ServiceHost>> | null;
  readonly names: HostNames;
  /** Every host added, in order, as scope, FQDN and host: the joined map is built from it only when asked for. */
  private readonly added: (string | ServiceHost)[] = [];
  private joined: Map<string, ServiceHost> | undefined;

  constructor(resources: { serviceEntries: Resource[]; services: Resource[] }, domain = DEFAULT_CLUSTER_DOMAIN, names?: HostNames) {
    this.domain = domain;
    this.names = names && names.domain === domain ? names : new HostNames(domain);
    const added = this.added;
    let byScope: Map<string, Map<string, ServiceHost>> | null = new Map();
    const add = (scope: string, host: string, entry: ServiceHost) => {
      added.push(scope, host, entry);
      if (byScope === null) return;
      if (scope.includes('/') || host.includes('/')) {
        byScope = null;
        return;
      }
      let hosts = byScope.get(scope);
      if (!hosts) byScope.set(scope, (hosts = new Map()));
      hosts.set(host, entry);
    };
    for (const se of resources.serviceEntries) {
      const spec = specOf(se, K.ServiceEntry);
      const scopes = exportScopes(exportToList(spec.exportTo), se.namespace);
      const ports = listOf(spec.ports).map((p) => Number(objectOf(p).number)).filter((n) => Number.isFinite(n));
      for (const h of listOf(spec.hosts)) {
        if (typeof h !== 'string') continue;
        const host = this.names.fqdn(se.namespace, h);
        for (const scope of scopes) add(scope, host, { host, scopes, ports, kind: 'ServiceEntry', resource: se });
      }
    }
    for (const svc of resources.services) {
      const scopes = serviceExportScopes(svc);
      // A Service has no schema of its own here (the typed specs cover the mesh kinds): read as written.
      const ports = servicePorts(svc.spec?.ports);
      const host = this.names.fqdn(svc.namespace, svc.name);
      for (const scope of scopes) add(scope, host, { host, scopes, ports, kind: 'Service', resource: svc });
    }
    this.byScope = byScope;
  }

  /** Every host by `scope/FQDN`, in the order first added (a later host of the same key replaces the earlier one). */
  get byScopedHost(): Map<string, ServiceHost> {
    if (this.joined) return this.joined;
    const joined = new Map<string, ServiceHost>();
    const added = this.added;
    for (let i = 0; i < added.length; i += 3) joined.set(`${added[i] as string}/${added[i + 1] as string}`, added[i + 2] as ServiceHost);
    return (this.joined = joined);
  }

  static of(ctx: AnalysisContext): ServiceHostIndex {
    return ctx.memo('hosts.serviceHostIndex', () => new ServiceHostIndex({ serviceEntries: ctx.of(K.ServiceEntry), services: ctx.of(K.Service) }, clusterDomainOf(ctx), hostNames(ctx)));
  }

  private lookup(scope: string, fqdn: string): ServiceHost | undefined {
    return this.byScope !== null ? this.byScope.get(scope)?.get(fqdn) : this.byScopedHost.get(`${scope}/${fqdn}`);
  }

  /**
   * The host a destination of a resource in `sourceNamespace` reaches, looked up from each of
   * `consumers` (namespaces whose proxies use the route): exact names first, then wildcard ServiceEntry hosts.
   */
  resolve(sourceNamespace: string, host: string, consumers: string[] = [sourceNamespace]): ServiceHost | undefined {
    return this.resolveFqdn(this.names.fqdn(sourceNamespace, host), consumers);
  }

  /** `resolve` for a host already written as an FQDN (by this index's cluster domain). */
  resolveFqdn(fqdn: string, consumers: string[]): ServiceHost | undefined {
    const exact = this.lookup(EXPORT_ALL, fqdn);
    if (exact) return exact;
    for (const ns of consumers) {
      const scoped = this.lookup(ns, fqdn);
      if (scoped) return scoped;
    }
    const wildcards = this.wildcardEntries();
    if (wildcards.length === 0) return undefined;
    const bare = isWildcardHost(fqdn) ? fqdn.slice(1) : fqdn;
    for (const { scope, entry } of wildcards) {
      if (scope !== EXPORT_ALL && !consumers.includes(scope)) continue;
      if (bare.endsWith(entry.host.slice(1))) return entry;
    }
    return undefined;
  }

  private wildcards: { scope: string; entry: ServiceHost }[] | undefined;

  /** The wildcard hosts in the map's order, collected once: scanning the whole map for every unknown host made resolve quadratic. */
  private wildcardEntries(): { scope: string; entry: ServiceHost }[] {
    if (this.wildcards) return this.wildcards;
    this.wildcards = [];
    for (const [key, entry] of this.byScopedHost) {
      if (isWildcardHost(entry.host)) this.wildcards.push({ scope: key.slice(0, key.length - entry.host.length - 1), entry });
    }
    return this.wildcards;
  }
}

/** A DestinationRule's host as an FQDN, with the namespaces it is visible from. */
export interface DestinationRuleHost {
  host: string;
  scopes: string[];
  subsets: string[];
  resource: Resource;
}

export function destinationRuleHosts(ctx: AnalysisContext): DestinationRuleHost[] {
  return ctx.memo('hosts.destinationRuleHosts', () => buildDestinationRuleHosts(ctx));
}

function buildDestinationRuleHosts(ctx: AnalysisContext): DestinationRuleHost[] {
  const names = hostNames(ctx);
  const out: DestinationRuleHost[] = [];
  for (const dr of ctx.of(K.DestinationRule)) {
    const spec = specOf(dr, K.DestinationRule);
    const h = spec.host;
    if (typeof h !== 'string' || h === '') continue;
    const subsets = listOf(spec.subsets)
      .map((s) => objectOf(s).name)
      .filter((n): n is string => typeof n === 'string');
    out.push({ host: names.fqdn(dr.namespace, h), scopes: exportScopes(exportToList(spec.exportTo), dr.namespace), subsets, resource: dr });
  }
  return out;
}

/**
 * The DestinationRules that apply to `fqdn` for proxies in `consumers`: those visible there whose host
 * names it exactly, or, when none does, those whose wildcard host covers it.
 */
export function applicableDestinationRules(rules: DestinationRuleHost[], fqdn: string, consumers: string[]): DestinationRuleHost[] {
  const index = indexOf(rules);
  let out: DestinationRuleHost[] | undefined;
  const exact = index.byHost.get(fqdn);
  if (exact) {
    for (const r of exact) if (visibleFromAny(r.scopes, consumers)) (out ??= []).push(r);
    if (out) return out;
  }
  for (const r of index.wildcards) if (visibleFromAny(r.scopes, consumers) && hostSubsetOf(fqdn, r.host)) (out ??= []).push(r);
  return out ?? [];
}

/**
 * `applicableDestinationRules(rules, fqdn, consumers).some((r) => r.subsets.includes(subset))`, without
 * building the list: most destinations name a subset their rule defines.
 */
export function applicableRuleDefines(rules: DestinationRuleHost[], fqdn: string, consumers: string[], subset: string): boolean {
  const index = indexOf(rules);
  const exact = index.byHost.get(fqdn);
  let anyVisible = false;
  if (exact) {
    for (const r of exact) {
      if (!visibleFromAny(r.scopes, consumers)) continue;
      if (r.subsets.includes(subset)) return true;
      anyVisible = true;
    }
    if (anyVisible) return false;
  }
  for (const r of index.wildcards) if (visibleFromAny(r.scopes, consumers) && hostSubsetOf(fqdn, r.host) && r.subsets.includes(subset)) return true;
  return false;
}

function visibleFromAny(scopes: string[], consumers: string[]): boolean {
  for (const ns of consumers) if (visibleFrom(scopes, ns)) return true;
  return false;
}

interface DestinationRuleIndex {
  byHost: Map<string, DestinationRuleHost[]>;
  wildcards: DestinationRuleHost[];
}

// Rules indexed by exact host once per list, so that looking up every route destination stays linear.
const ruleIndexes = new WeakMap<DestinationRuleHost[], DestinationRuleIndex>();

function indexOf(rules: DestinationRuleHost[]): DestinationRuleIndex {
  let index = ruleIndexes.get(rules);
  if (index) return index;
  index = { byHost: new Map(), wildcards: [] };
  for (const r of rules) {
    if (isWildcardHost(r.host)) index.wildcards.push(r);
    let list = index.byHost.get(r.host);
    if (!list) index.byHost.set(r.host, (list = []));
    list.push(r);
  }
  ruleIndexes.set(rules, index);
  return index;
}
