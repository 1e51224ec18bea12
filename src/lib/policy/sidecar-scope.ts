// Istio's Sidecar resource as the local mesh enforces it: which Sidecar applies to a pod, and which
// hosts (Services, ServiceEntries, VirtualServices and HTTPRoutes) that pod's sidecar knows. The
// compiler builds a sidecar's outbound routes from this scope alone, so a change to a host outside it
// leaves the sidecar's configuration as it was.
import type { Resource } from './load.js';
import { K } from './kinds.js';
import { objectOf, listOf, specOf } from './spec.js';
import { hostKey, hostMatches, hostSubsetOf, isWildcardHost } from './hosts.js';
import { selectorMatches } from './selectors.js';
import type { VirtualServiceSpec } from './route-model.js';

export type OutboundTrafficMode = 'ALLOW_ANY' | 'REGISTRY_ONLY';

/** Istio's meshConfig default: the local mesh has no mesh-wide setting of its own (a root-namespace Sidecar is one). */
export const DEFAULT_OUTBOUND_TRAFFIC_MODE: OutboundTrafficMode = 'ALLOW_ANY';

export interface SidecarSpec {
  name: string;
  namespace: string;
  /** `workloadSelector.labels`; null when the Sidecar has no workloadSelector (it applies to its namespace). */
  selector: Record<string, string> | null;
  /** Every egress listener's hosts, as written; null when no egress is written (Istio imports `*\/*`). */
  egressHosts: string[] | null;
  /** `outboundTrafficPolicy.mode`; null when not written (the mesh default applies). */
  outboundMode: OutboundTrafficMode | null;
  /** `metadata.creationTimestamp` when the resource carries one: Istio prefers the oldest Sidecar. */
  createdAt: string;
  resource: Resource;
}

/** A Sidecar resource as the model keeps it. */
export function sidecarSpecOf(r: Resource, namespace: string): SidecarSpec {
  const spec = specOf(r, K.Sidecar);
  const selector = spec.workloadSelector && typeof spec.workloadSelector === 'object' ? objectOf(spec.workloadSelector) : null;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(objectOf(selector?.labels))) labels[k] = v === null || v === undefined ? '' : String(v);
  const egress = listOf(spec.egress).map(objectOf);
  const mode = objectOf(spec.outboundTrafficPolicy).mode;
  const created = r.metadata?.creationTimestamp;
  return {
    name: r.name,
    namespace,
    selector: selector ? labels : null,
    egressHosts: egress.length ? egress.flatMap((e) => listOf(e.hosts).map(String)) : null,
    // Istio's enum default (the zero value) is REGISTRY_ONLY: a policy written without a mode blocks.
    outboundMode: spec.outboundTrafficPolicy && typeof spec.outboundTrafficPolicy === 'object' ? (mode === 'ALLOW_ANY' ? 'ALLOW_ANY' : 'REGISTRY_ONLY') : null,
    createdAt: typeof created === 'string' ? created : '',
    resource: r,
  };
}

/**
 * The Sidecar that applies to a pod, as istiod picks it: in the pod's namespace, one whose
 * workloadSelector matches the pod's labels, else the namespace's Sidecar without selector; else the
 * root namespace's Sidecar without selector (the mesh default). Among several, the oldest (by
 * creationTimestamp, then name) wins, as Istio orders them.
 */
export function sidecarFor(sidecars: SidecarSpec[], rootNamespace: string, pod: { namespace: string; labels: Record<string, string> }): SidecarSpec | null {
  const ordered = [...sidecars].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
  const local = ordered.filter((s) => s.namespace === pod.namespace);
  return local.find((s) => s.selector !== null && selectorMatches(s.selector, pod.labels))
    ?? local.find((s) => s.selector === null)
    ?? ordered.find((s) => s.namespace === rootNamespace && s.selector === null)
    ?? null;
}

/** One namespace's entries of the egress hosts: names imported and names excluded (`~ns/name`). */
interface NamespaceHosts {
  exact: Set<string>;
  all: string[];
  excluded: string[];
}

/** What a pod's sidecar knows: the hosts of the mesh it may route to, and what it answers for the others. */
export interface EgressScope {
  /** The Sidecar that set it: `<namespace>/<name>`. */
  sidecar: string;
  mode: OutboundTrafficMode;
  /** True when the sidecar knows a Service or ServiceEntry host of `namespace`. */
  importsService(host: string, namespace: string): boolean;
  /** True when the sidecar knows a VirtualService (or a route translated from an HTTPRoute). */
  importsVirtualService(vs: VirtualServiceSpec): boolean;
}

const WILDCARD_NAMESPACE = '*';

/**
 * Reads the egress hosts as istiod does (pilot's sidecar scope): `ns/dnsName`, where `.` is the pod's
 * namespace (for a root-namespace Sidecar too), `*` any namespace, and `~ns/dnsName` (`~/` any
 * namespace) excludes what it names; the dnsName is taken as written, lower-cased (a short name is not
 * expanded, as Istio does not expand it there).
 */
function hostsByNamespace(hosts: string[], podNamespace: string): Map<string, NamespaceHosts> {
  const out = new Map<string, NamespaceHosts>();
  for (const written of hosts) {
    if (written.split('/').length !== 2) continue;
    let [ns, name] = written.split('/') as [string, string];
    name = name.trim().toLowerCase().replace(/\.$/, '');
    const excluded = ns.startsWith('~');
    if (excluded) ns = ns.slice(1) || WILDCARD_NAMESPACE;
    if (ns === '.') ns = podNamespace;
    let entry = out.get(ns);
    if (!entry) out.set(ns, (entry = { exact: new Set(), all: [], excluded: [] }));
    if (excluded) entry.excluded.push(name);
    else {
      if (!isWildcardHost(name)) entry.exact.add(name);
      entry.all.push(name);
    }
  }
  return out;
}

/**
 * Istio's hostClassification: an exact name is looked up; otherwise a wildcard on either side must
 * cover the host. For a Service, the host must fall inside the imported name (Matches: `hostSubsetOf`);
 * for a VirtualService, wildcards match both ways (VSMatches: `*.com` is imported by `a.com`).
 * HTTPRoutes attached to a Service come as routes of that Service's exact host.
 */
function importedBy(entry: NamespaceHosts, host: string, covers: (host: string, imported: string) => boolean): boolean {
  if (entry.exact.has(host)) return true;
  return entry.all.some((imported) => (isWildcardHost(host) || isWildcardHost(imported)) && covers(host, imported));
}

function excludes(entry: NamespaceHosts | undefined, host: string): boolean {
  return !!entry && entry.excluded.some((excluded) => hostSubsetOf(host, excluded));
}

/**
 * The egress scope of a pod's sidecar; null when no Sidecar applies (it knows every host of the mesh,
 * and unknown hosts are treated as Istio's default ALLOW_ANY).
 */
export function egressScopeFor(sidecars: SidecarSpec[], rootNamespace: string, pod: { namespace: string; labels: Record<string, string> }): EgressScope | null {
  const sidecar = sidecarFor(sidecars, rootNamespace, pod);
  if (!sidecar) return null;
  const byNamespace = hostsByNamespace(sidecar.egressHosts ?? ['*/*'], pod.namespace);
  const anyNamespace = byNamespace.get(WILDCARD_NAMESPACE);
  const excluded = (host: string, namespace: string) => excludes(byNamespace.get(namespace), host) || excludes(anyNamespace, host);
  return {
    sidecar: `${sidecar.namespace}/${sidecar.name}`,
    mode: sidecar.outboundMode ?? DEFAULT_OUTBOUND_TRAFFIC_MODE,
    importsService(host, namespace) {
      const h = host.toLowerCase();
      if (excluded(h, namespace)) return false;
      const own = byNamespace.get(namespace);
      return (!!own && importedBy(own, h, hostSubsetOf)) || (!!anyNamespace && importedBy(anyNamespace, h, hostSubsetOf));
    },
    importsVirtualService(vs) {
      const entries = [byNamespace.get(vs.namespace), anyNamespace].filter((e): e is NamespaceHosts => !!e);
      // A VirtualService is imported whole when one of its hosts is imported and not excluded.
      return vs.hosts.some((written) => {
        const h = hostKey(vs.namespace, written);
        return !excluded(h, vs.namespace) && entries.some((e) => importedBy(e, h, hostMatches));
      });
    },
  };
}
