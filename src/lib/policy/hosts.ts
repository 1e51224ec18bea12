// Host names as Istio reads them, for validate, diff, the local mesh, route shift and top alike.
//
// Two rules, not to be mixed up:
// - A host written in a rule (a VirtualService's hosts and destinations, a DestinationRule's host, a
//   ServiceEntry's hosts) is resolved as Istio's ResolveShortnameToFQDN does: only a name without a dot
//   is a Service of the rule's own namespace; `reviews.default` is taken as written (and so names no
//   Kubernetes Service).
// - A name a client uses (a request's Host header, a HOST argument) goes through Kubernetes DNS: from a
//   pod in namespace ns, `reviews`, `reviews.ns`, `reviews.ns.svc` and the FQDN all reach the Service,
//   which is why Istio lists them all as the domains of the service's virtual host.
// Plus the visibility rules of exportTo (`spec.exportTo`, and a Service's `networking.istio.io/exportTo`
// annotation) and wildcard matching.
import type { Resource } from './load.js';

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
export const EXPORT_ALL = '*';
export const EXPORT_LOCAL = '.';
export const SERVICE_EXPORT_ANNOTATION = 'networking.istio.io/exportTo';

export function isWildcardHost(host: string): boolean {
  return host.startsWith('*');
}

/**
 * A rule's host as Istio resolves it (ResolveShortnameToFQDN): a short name (no dot, no leading `*`,
 * not an IPv6 address) is the Service of that name in `namespace`; anything else is kept as written.
 */
export function resolveShortName(namespace: string, host: string, domain = DEFAULT_CLUSTER_DOMAIN): string {
  if (host === '' || isWildcardHost(host) || host.includes('.') || host.includes(':')) return host;
  return `${host}.${namespace}.svc.${domain}`;
}

/** `resolveShortName` of a host as a user may type it (any case, spaces around, a trailing dot): the key to compare hosts by. */
export function hostKey(namespace: string, host: string, domain = DEFAULT_CLUSTER_DOMAIN): string {
  return resolveShortName(namespace, host.trim().toLowerCase().replace(/\.$/, ''), domain);
}

/**
 * `resolveShortName` remembered per namespace and host: the same names come up in many analyzers and
 * many routes, and a remembered string is also hashed only once by the maps it is looked up in.
 */
export class HostNames {
  private readonly byNamespace = new Map<string, Map<string, string>>();

  constructor(readonly domain = DEFAULT_CLUSTER_DOMAIN) {}

  fqdn(namespace: string, host: string): string {
    let hosts = this.byNamespace.get(namespace);
    if (hosts === undefined) this.byNamespace.set(namespace, (hosts = new Map()));
    let full = hosts.get(host);
    if (full === undefined) hosts.set(host, (full = resolveShortName(namespace, host, this.domain)));
    return full;
  }
}

/** The host of a Kubernetes Service. */
export function serviceHost(name: string, namespace: string, domain = DEFAULT_CLUSTER_DOMAIN): string {
  return `${name.toLowerCase()}.${namespace || 'default'}.svc.${domain}`;
}

/** `name.ns.svc.<domain>` → {name, namespace}; undefined for any other host. */
export function serviceOfFqdn(fqdn: string, domain = DEFAULT_CLUSTER_DOMAIN): { name: string; namespace: string } | undefined {
  const suffix = `.svc.${domain}`;
  if (!fqdn.endsWith(suffix)) return undefined;
  const rest = fqdn.slice(0, -suffix.length);
  const dot = rest.lastIndexOf('.');
  if (dot <= 0 || dot === rest.length - 1) return undefined;
  return { name: rest.slice(0, dot), namespace: rest.slice(dot + 1) };
}

/** A Service host as people write it in review: `reviews.default`; any other host as it is. */
export function shortHost(host: string, domain = DEFAULT_CLUSTER_DOMAIN): string {
  const suffix = `.svc.${domain}`;
  return host.endsWith(suffix) ? host.slice(0, -suffix.length) : host;
}

/**
 * The names a client in `callerNamespace` can put in its Host header (without port) to reach `fqdn`,
 * as Kubernetes DNS resolves them and Istio lists them as the service's virtual-host domains.
 */
export function requestHostNames(fqdn: string, callerNamespace: string, domain = DEFAULT_CLUSTER_DOMAIN): string[] {
  const service = serviceOfFqdn(fqdn, domain);
  if (!service) return [fqdn];
  const names = [fqdn, `${service.name}.${service.namespace}.svc`, `${service.name}.${service.namespace}`];
  if (service.namespace === callerNamespace) names.push(service.name);
  return names;
}

/**
 * The host a client in `callerNamespace` reaches with `name` (a Host header without port, or a HOST
 * argument): the first of Kubernetes DNS's search-path candidates that `known` holds; for an unknown
 * name, its rule reading (`resolveShortName`).
 */
export function resolveRequestHost(name: string, callerNamespace: string, known: (host: string) => boolean, domain = DEFAULT_CLUSTER_DOMAIN): string {
  const host = name.trim().toLowerCase().replace(/\.$/, '');
  if (isWildcardHost(host)) return host;
  for (const candidate of [`${host}.${callerNamespace}.svc.${domain}`, `${host}.svc.${domain}`, `${host}.${domain}`, host]) {
    if (known(candidate)) return candidate;
  }
  return resolveShortName(callerNamespace, host, domain);
}

/**
 * True when two (possibly wildcarded) host names overlap: equal names, or one wildcard covering the
 * other (`*.com` and `foo.com`, `*.foo.com` and `*.com`, `*` and anything).
 */
export function hostMatches(a: string, b: string): boolean {
  const aw = isWildcardHost(a);
  const bw = isWildcardHost(b);
  if (aw && bw) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/** True when every name `a` stands for is also covered by `b` (one-way `hostMatches`): a request host `a` against a host pattern `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  const aw = isWildcardHost(a);
  const bw = isWildcardHost(b);
  if (aw && bw) return a.length >= b.length && a.slice(1).endsWith(b.slice(1));
  if (aw) return false;
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/**
 * Gateway server hosts as seen from `namespace`: `ns/host` entries of other namespaces are dropped,
 * `*\/host` and `ns/host` become `host`, unqualified hosts are kept. `./host` must already be qualified.
 */
export function namesForNamespace(hosts: string[], namespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const slash = h.indexOf('/');
    if (slash === -1) {
      out.push(h);
      continue;
    }
    const ns = h.slice(0, slash);
    if (ns !== namespace && ns !== EXPORT_ALL) continue;
    out.push(h.slice(slash + 1));
  }
  return out;
}

/** The strings of a resource's `spec.exportTo` (non-strings dropped). */
export function exportToList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** True when an exportTo list exports to every namespace: empty, or naming `*`. */
export function exportsToAll(exportTo: string[]): boolean {
  return exportTo.length === 0 || exportTo.includes(EXPORT_ALL);
}

/** The scopes of anything exported everywhere: one shared list (frozen, as callers only read it). */
const ALL_SCOPES: string[] = Object.freeze([EXPORT_ALL]) as unknown as string[];

/**
 * The visibility scopes of a resource: `['*']` for every namespace, else the namespaces it is exported
 * to (`.` is its own namespace).
 */
export function exportScopes(exportTo: string[], ownNamespace: string): string[] {
  if (exportsToAll(exportTo)) return ALL_SCOPES;
  return [...new Set(exportTo.map((e) => (e === EXPORT_LOCAL ? ownNamespace : e)))];
}

/** The scopes of a Kubernetes Service from its `networking.istio.io/exportTo` annotation (comma-separated). */
export function serviceExportScopes(service: Pick<Resource, 'annotations' | 'namespace'>): string[] {
  const anno = service.annotations[SERVICE_EXPORT_ANNOTATION];
  if (anno === undefined || anno.trim() === '') return ALL_SCOPES;
  const list = anno.split(',').map((s) => s.trim()).filter(Boolean);
  return exportScopes(list, service.namespace);
}

/** True when something with these scopes is visible from `namespace`. */
export function visibleFrom(scopes: string[], namespace: string): boolean {
  return scopes.includes(EXPORT_ALL) || scopes.includes(namespace);
}
