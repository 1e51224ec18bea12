// AuthorizationPolicy as the local mesh enforces it: each resource read into Istio's own shape of a
// rule (every `from` is a set of source conditions, every `to` a set of operation conditions, `when`
// conditions joined to both), and which policies reach a pod (mesh, namespace and workload scope).
// The HAProxy compiler (runtime/haproxy/authz.ts) turns this model into the inbound listener's rules.
import type { Resource } from './load.js';
import { selectorMatches } from './selectors.js';

export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

/**
 * The attributes a condition can test, by Istio's names. `request.auth` stands for every
 * `request.auth.*` attribute and source.requestPrincipals (JWT claims), `envoy.metadata` for
 * `experimental.envoy.filters.*`: neither is ever present in the local mesh.
 */
export type AuthorizationAttribute =
  | 'source.principal' | 'source.namespace' | 'source.serviceAccount' | 'source.trustDomain' | 'source.ip' | 'remote.ip'
  | 'request.headers' | 'request.auth' | 'envoy.metadata'
  | 'destination.ip' | 'destination.port' | 'connection.sni'
  | 'host' | 'method' | 'path';

/** One attribute test: it holds when any of `values` matches and none of `notValues` does (an empty list imposes nothing). */
export interface AuthorizationCondition {
  attribute: AuthorizationAttribute;
  /** The header name, for `request.headers`. */
  header?: string;
  values: string[];
  notValues: string[];
}

/** One rule: it matches when any source set and any operation set holds (each set: all of its conditions). */
export interface AuthorizationRule {
  index: number;
  sources: AuthorizationCondition[][];
  operations: AuthorizationCondition[][];
  /** Why Istio would skip this rule (an unknown `when` key); a skipped rule matches nothing. */
  skipped: string | null;
}

export interface AuthorizationPolicySpec {
  name: string;
  namespace: string;
  action: AuthorizationAction;
  /** `selector.matchLabels`; null or empty selects every workload of the scope. */
  selector: Record<string, string> | null;
  /** The policy names a targetRef(s): it applies to gateways and waypoints, never to sidecars. */
  targeted: boolean;
  /** `istio.io/dry-run: "true"`: evaluated by Istio for its statistics only, never enforced. */
  dryRun: boolean;
  /** Absent `rules` and `rules: []` alike: an ALLOW policy then matches nothing, a DENY policy nothing. */
  rules: AuthorizationRule[];
  resource: Resource;
}

/** The policies that apply to one workload, in the order Istio evaluates them. */
export interface WorkloadAuthorization {
  custom: AuthorizationPolicySpec[];
  audit: AuthorizationPolicySpec[];
  deny: AuthorizationPolicySpec[];
  allow: AuthorizationPolicySpec[];
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => x !== null && x !== undefined).map(String) : []);
const object = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

function condition(attribute: AuthorizationAttribute, values: unknown, notValues: unknown, header?: string): AuthorizationCondition | null {
  const c: AuthorizationCondition = { attribute, values: strings(values), notValues: strings(notValues), ...(header !== undefined ? { header } : {}) };
  return c.values.length || c.notValues.length ? c : null;
}

const WHEN_KEYS: Record<string, AuthorizationAttribute> = {
  'source.principal': 'source.principal',
  'source.namespace': 'source.namespace',
  'source.serviceAccount': 'source.serviceAccount',
  'source.trustDomain': 'source.trustDomain',
  'source.ip': 'source.ip',
  'remote.ip': 'remote.ip',
  'destination.ip': 'destination.ip',
  'destination.port': 'destination.port',
  'connection.sni': 'connection.sni',
};

/** A `when` key's attribute (and header name); null when Istio does not know the key. */
function whenAttribute(key: string): { attribute: AuthorizationAttribute; header?: string } | null {
  if (WHEN_KEYS[key]) return { attribute: WHEN_KEYS[key] };
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) return { attribute: 'request.headers', header: header[1] };
  if (/^request\.auth\.(principal|audiences|presenter)$/.test(key) || /^request\.auth\.claims\[.+\]$/.test(key)) return { attribute: 'request.auth' };
  if (key.startsWith('experimental.envoy.filters.')) return { attribute: 'envoy.metadata' };
  return null;
}

/** Where a `when` attribute joins a rule, as in Istio: connection and request attributes of the caller are source conditions. */
const OPERATION_ATTRIBUTES = new Set<AuthorizationAttribute>(['destination.ip', 'destination.port', 'connection.sni', 'envoy.metadata']);

function rule(raw: unknown, index: number): AuthorizationRule {
  const r = object(raw);
  const whenSource: AuthorizationCondition[] = [];
  const whenOperation: AuthorizationCondition[] = [];
  let skipped: string | null = null;
  for (const w of Array.isArray(r.when) ? r.when : []) {
    const key = String(object(w).key ?? '');
    const at = whenAttribute(key);
    if (!at) {
      skipped = `when key ${JSON.stringify(key)} is not an Istio attribute`;
      continue;
    }
    const c = condition(at.attribute, object(w).values, object(w).notValues, at.header);
    if (c) (OPERATION_ATTRIBUTES.has(c.attribute) ? whenOperation : whenSource).push(c);
  }
  const sources = (Array.isArray(r.from) ? r.from : []).map((f) => {
    const s = object(object(f).source);
    return [
      condition('source.principal', s.principals, s.notPrincipals),
      condition('request.auth', s.requestPrincipals, s.notRequestPrincipals),
      condition('source.serviceAccount', s.serviceAccounts, s.notServiceAccounts),
      condition('source.trustDomain', s.trustDomains, s.notTrustDomains),
      condition('source.namespace', s.namespaces, s.notNamespaces),
      condition('remote.ip', s.remoteIpBlocks, s.notRemoteIpBlocks),
      condition('source.ip', s.ipBlocks, s.notIpBlocks),
      ...whenSource,
    ].filter((c): c is AuthorizationCondition => c !== null);
  });
  const operations = (Array.isArray(r.to) ? r.to : []).map((t) => {
    const o = object(object(t).operation);
    return [
      condition('host', o.hosts, o.notHosts),
      condition('method', o.methods, o.notMethods),
      condition('path', o.paths, o.notPaths),
      condition('destination.port', o.ports, o.notPorts),
      ...whenOperation,
    ].filter((c): c is AuthorizationCondition => c !== null);
  });
  return {
    index,
    sources: sources.length ? sources : [whenSource],
    operations: operations.length ? operations : [whenOperation],
    skipped,
  };
}

/** One AuthorizationPolicy resource in the model's shape. */
export function authorizationPolicySpec(r: Resource): AuthorizationPolicySpec {
  const spec = object(r.spec);
  const action = spec.action === 'DENY' || spec.action === 'AUDIT' || spec.action === 'CUSTOM' ? spec.action : 'ALLOW';
  const matchLabels = object(object(spec.selector).matchLabels);
  return {
    name: r.name,
    namespace: r.namespace || 'default',
    action,
    selector: Object.keys(matchLabels).length ? Object.fromEntries(Object.entries(matchLabels).map(([k, v]) => [k, String(v)])) : null,
    targeted: Boolean(spec.targetRef) || (Array.isArray(spec.targetRefs) && spec.targetRefs.length > 0),
    dryRun: r.annotations?.['istio.io/dry-run'] === 'true',
    rules: (Array.isArray(spec.rules) ? spec.rules : []).map(rule),
    resource: r,
  };
}

/**
 * The policies Istio applies to a workload's sidecar: those of the root namespace (every namespace's
 * workloads their selector matches) and those of the workload's own namespace, without targetRefs
 * (those bind gateways and waypoints) and without dry-run ones (never enforced).
 */
export function authorizationFor(policies: AuthorizationPolicySpec[], rootNamespace: string, workload: { namespace: string; labels: Record<string, string> }): WorkloadAuthorization {
  const out: WorkloadAuthorization = { custom: [], audit: [], deny: [], allow: [] };
  for (const p of policies) {
    if (p.targeted || p.dryRun) continue;
    if (p.namespace !== rootNamespace && p.namespace !== workload.namespace) continue;
    if (!selectorMatches(p.selector, workload.labels)) continue;
    out[p.action === 'ALLOW' ? 'allow' : p.action === 'DENY' ? 'deny' : p.action === 'AUDIT' ? 'audit' : 'custom'].push(p);
  }
  return out;
}

/** Envoy's name of a policy rule, as its access log and response details print it. */
export function ruleId(policy: { namespace: string; name: string }, index: number): string {
  return `ns[${policy.namespace}]-policy[${policy.name}]-rule[${index}]`;
}
