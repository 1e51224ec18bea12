// PeerAuthentication as the local mesh reads it: what each policy says, and the mode a pod's inbound
// listener takes from the policies that apply to it, composed as istiod composes them (mesh-wide, then
// the namespace's, then the workload's, each overriding only when it decides; port-level settings last).
import type { Resource } from './load.js';
import { selectorMatches } from './selectors.js';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** Istio's mode where no PeerAuthentication decides: mTLS and plain text both accepted. */
export const DEFAULT_MTLS_MODE: MtlsMode = 'PERMISSIVE';

export interface PeerAuthenticationSpec {
  name: string;
  namespace: string;
  /** matchLabels; null (or empty) for a namespace-wide or mesh-wide policy. */
  selector: Record<string, string> | null;
  mode: MtlsMode | 'UNSET';
  /** portLevelMtls: the workload's own (app) port → mode. Istio reads it only on a policy with a selector. */
  portLevel: Map<number, MtlsMode | 'UNSET'>;
  resource: Resource;
}

function modeOf(v: unknown): MtlsMode | 'UNSET' {
  const mode = (v as { mode?: unknown } | null | undefined)?.mode;
  return mode === 'STRICT' || mode === 'PERMISSIVE' || mode === 'DISABLE' ? mode : 'UNSET';
}

/** One PeerAuthentication resource, read as validate reads it (bad parts are validate's to report). */
export function peerAuthenticationOf(r: Resource, namespace: string): PeerAuthenticationSpec {
  const spec = (r.spec ?? {}) as Record<string, unknown>;
  const matchLabels = (spec.selector as { matchLabels?: unknown } | undefined)?.matchLabels;
  const selector: Record<string, string> | null = matchLabels && typeof matchLabels === 'object' && !Array.isArray(matchLabels)
    ? Object.fromEntries(Object.entries(matchLabels).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]))
    : null;
  const portLevel = new Map<number, MtlsMode | 'UNSET'>();
  const ports = spec.portLevelMtls;
  if (ports && typeof ports === 'object' && !Array.isArray(ports)) {
    for (const [port, setting] of Object.entries(ports)) {
      if (/^\d+$/.test(port) && Number(port) > 0 && Number(port) <= 65535) portLevel.set(Number(port), modeOf(setting));
    }
  }
  return { name: r.name, namespace, selector, mode: modeOf(spec.mtls), portLevel, resource: r };
}

export interface PeerAuthenticationScope {
  rootNamespace: string;
  /** In the order the model keeps them: the first of a scope is the one that counts (Istio: the oldest). */
  peerAuthentications: PeerAuthenticationSpec[];
}

const wide = (p: PeerAuthenticationSpec) => !p.selector || !Object.keys(p.selector).length;

/**
 * The mode of a pod's inbound traffic to `appPort` (its workload's port): Istio's PERMISSIVE, overridden
 * by the mesh-wide policy (root namespace, no selector), then the namespace's, then the workload's,
 * each only when its mode is set (UNSET inherits); a port-level setting of the workload's policy decides
 * last, and an UNSET one there inherits the workload's mode. Of several policies at one scope the first
 * counts, as Istio takes the oldest.
 */
export function effectiveMtlsMode(scope: PeerAuthenticationScope, pod: { namespace: string; labels: Record<string, string> }, appPort: number | null): MtlsMode {
  const pas = scope.peerAuthentications;
  const mesh = pas.find((p) => p.namespace === scope.rootNamespace && wide(p));
  const namespace = pod.namespace === scope.rootNamespace ? undefined : pas.find((p) => p.namespace === pod.namespace && wide(p));
  const workload = pas.find((p) => p.namespace === pod.namespace && !wide(p) && selectorMatches(p.selector, pod.labels));
  let mode: MtlsMode = DEFAULT_MTLS_MODE;
  for (const p of [mesh, namespace, workload]) if (p && p.mode !== 'UNSET') mode = p.mode;
  const port = workload && appPort !== null ? workload.portLevel.get(appPort) : undefined;
  return port && port !== 'UNSET' ? port : mode;
}

/** The mesh-wide PeerAuthentication `meshctl install --mtls` writes: istio-system/default, as Istio's docs name it. */
export function meshWidePeerAuthentication(mode: 'STRICT' | 'PERMISSIVE', rootNamespace: string): { apiVersion: string; kind: string; metadata: { name: string; namespace: string }; spec: { mtls: { mode: string } } } {
  return { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: rootNamespace }, spec: { mtls: { mode } } };
}

// ---------------------------------------------------------------- the caller's side: DestinationRule tls

export type ClientTlsMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';

/** A DestinationRule's `tls` (ClientTLSSettings) for one destination, after subset and port-level merging. */
export interface ClientTls {
  mode: ClientTlsMode;
  caCertificates: string | null;
  clientCertificate: string | null;
  privateKey: string | null;
  credentialName: string | null;
  sni: string | null;
  subjectAltNames: string[];
  insecureSkipVerify: boolean;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function clientTlsOf(v: unknown): ClientTls | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const mode = o.mode === 'DISABLE' || o.mode === 'SIMPLE' || o.mode === 'MUTUAL' || o.mode === 'ISTIO_MUTUAL' ? o.mode : 'DISABLE';
  const skip = o.insecureSkipVerify;
  return {
    mode,
    caCertificates: str(o.caCertificates),
    clientCertificate: str(o.clientCertificate),
    privateKey: str(o.privateKey),
    credentialName: str(o.credentialName),
    sni: str(o.sni),
    subjectAltNames: Array.isArray(o.subjectAltNames) ? o.subjectAltNames.filter((s): s is string => typeof s === 'string' && s !== '') : [],
    insecureSkipVerify: skip === true || (typeof skip === 'object' && skip !== null && (skip as { value?: unknown }).value === true),
  };
}

interface PolicyTls {
  /** The policy sets `tls` (possibly to null: present means it decides). */
  tls: ClientTls | null;
  decides: boolean;
}

/** `trafficPolicy` → its tls for `port`: a matching portLevelSettings entry replaces it whole, tls or not (Istio: port-level settings do not inherit). */
function policyTls(policy: unknown, port: number | null): PolicyTls {
  if (!policy || typeof policy !== 'object') return { tls: null, decides: false };
  const p = policy as Record<string, unknown>;
  if (port !== null && Array.isArray(p.portLevelSettings)) {
    const hit = (p.portLevelSettings as Record<string, unknown>[]).find((s) => (s?.port as { number?: unknown } | undefined)?.number === port);
    if (hit) return { tls: clientTlsOf(hit.tls), decides: true };
  }
  return 'tls' in p && p.tls ? { tls: clientTlsOf(p.tls), decides: true } : { tls: null, decides: false };
}

/**
 * What a DestinationRule asks of the caller's TLS toward one destination (its `subset`, on `port`), merged
 * as istiod merges: the rule's tls, replaced by its port-level setting for the port, then by the subset's
 * tls, then by the subset's port-level setting. null: the rule says nothing and auto mTLS decides.
 */
export function destinationClientTls(ruleSpec: unknown, subset: string, port: number | null): ClientTls | null {
  const spec = (ruleSpec ?? {}) as Record<string, unknown>;
  let tls = policyTls(spec.trafficPolicy, port).tls;
  if (subset && Array.isArray(spec.subsets)) {
    const s = (spec.subsets as Record<string, unknown>[]).find((x) => x?.name === subset);
    const own = s?.trafficPolicy as Record<string, unknown> | undefined;
    if (own?.tls) tls = clientTlsOf(own.tls);
    const portLevel = policyTls(own ? { portLevelSettings: own.portLevelSettings } : null, port);
    if (portLevel.decides) tls = portLevel.tls;
  }
  return tls;
}
