// What the local mesh's HAProxy sidecars enforce of each kind, and for every field they do not, why.
// One table read by both `validate` (a warning at the field) and the compiler (apply's notes), so the
// local mesh never ignores policy silently. It sits in the policy layer, beside the mesh model, so that
// the analyzers and the runtime compiler below the mesh can both read it.
import type { Resource } from './load.js';
import { K } from './kinds.js';
import { istioRetryPolicy, retryOnList, unenforcedRetryConditions } from './retry-conditions.js';
import { envoyFilterRateLimit } from './rate-limit.js';

export interface UnenforcedRule {
  /**
   * Where the field is, from `spec`: dot-separated keys, `[]` after a key for every item of its list
   * (`http[].retries.perTryTimeout`); empty for the whole resource.
   */
  field: string;
  /** Why the local mesh does not enforce it (a short clause). */
  reason: string;
  /** Only values for which this holds are reported (all when absent); for the whole resource, its spec. */
  when?: (value: unknown) => boolean;
}

export interface KindEnforcement {
  /** What the sidecars do enforce, for the reader of this table and of the docs. */
  enforced: string[];
  notEnforced: UnenforcedRule[];
}

const WHOLE_KIND_REASON: Record<string, string> = {
  [K.RequestAuthentication]: 'the local sidecars do not validate JWTs',
  [K.EnvoyFilter]: 'the local sidecars are HAProxy, not Envoy; of Envoy filters they read only envoy.filters.http.local_ratelimit with a token_bucket, inserted on SIDECAR_INBOUND for a workloadSelector',
  [K.Telemetry]: 'the local sidecars always write their own access log and metrics',
  [K.WasmPlugin]: 'the local sidecars run no Wasm',
  [K.WorkloadEntry]: 'the local mesh routes only to its own pods and ServiceEntry endpoints',
  [K.GRPCRoute]: 'the local mesh compiles routes from VirtualServices only',
};

/** JWT attributes: RequestAuthentication is not enforced, so, as on Istio with no JWT, they never match. */
const REQUEST_AUTH_REASON = 'no JWT is validated without RequestAuthentication, so, as on Istio for a request without a JWT, its values match nothing and its not-values exclude nothing';

/** `exportTo` narrower than every namespace: the local sidecars see every resource of the mesh. */
const exportToRule = (kind: string): UnenforcedRule => ({
  field: 'exportTo',
  reason: `every local sidecar sees every ${kind}, whatever its namespace`,
  when: (v) => Array.isArray(v) && !v.includes('*'),
});

const TRAFFIC_POLICY_NOT_ENFORCED: UnenforcedRule[] = [
  { field: 'loadBalancer.simple', reason: 'the sidecar always balances over the pods it knows', when: (v) => v === 'PASSTHROUGH' },
  { field: 'loadBalancer.consistentHash.ringHash', reason: 'HAProxy keeps its own consistent-hash ring' },
  { field: 'loadBalancer.consistentHash.maglev', reason: 'HAProxy keeps its own consistent-hash ring' },
  { field: 'loadBalancer.consistentHash.minimumRingSize', reason: 'HAProxy keeps its own consistent-hash ring' },
  { field: 'loadBalancer.consistentHash.httpCookie.attributes', reason: 'the sidecar sets only the cookie path, lifetime and HttpOnly' },
  { field: 'loadBalancer.localityLbSetting', reason: 'every local pod is in one locality' },
  { field: 'loadBalancer.warmupDurationSecs', reason: 'new pods take their full share at once' },
  ...['tcpKeepalive', 'maxConnectionDuration', 'idleTimeout'].map((f) => ({ field: `connectionPool.tcp.${f}`, reason: 'the sidecar keeps its connections to pods by its own settings' })),
  { field: 'connectionPool.http.maxRetries', reason: 'retries are bounded per route, not by a budget per host' },
  ...['http2MaxRequests', 'maxConcurrentStreams', 'h2UpgradePolicy', 'useClientProtocol'].map((f) => ({ field: `connectionPool.http.${f}`, reason: 'the sidecar calls pods over HTTP/1.1' })),
  { field: 'outlierDetection.consecutiveGatewayErrors', reason: 'the sidecar counts every 5xx but 501 and 505 as consecutive5xxErrors' },
  { field: 'outlierDetection.consecutiveLocalOriginFailures', reason: 'connect failures are retried, not counted toward ejection' },
  { field: 'outlierDetection.splitExternalLocalOriginErrors', reason: 'connect failures are retried, not counted toward ejection' },
  { field: 'outlierDetection.maxEjectionPercent', reason: 'HAProxy can eject every pod that fails' },
  { field: 'outlierDetection.minHealthPercent', reason: 'HAProxy has no panic threshold' },
  { field: 'outlierDetection.maxEjectionTime', reason: 'every ejection lasts baseEjectionTime; it does not grow with each ejection as with Envoy' },
  { field: 'tls.credentialName', reason: 'the local mesh keeps no Secrets; name caCertificates, clientCertificate and privateKey files instead' },
  ...['loadBalancer', 'connectionPool', 'outlierDetection'].map((f) => ({ field: `portLevelSettings[].${f}`, reason: 'the sidecar applies one policy to every port of a host; only a port\'s tls is read' })),
  { field: 'portLevelSettings[].tls.credentialName', reason: 'the local mesh keeps no Secrets; name caCertificates, clientCertificate and privateKey files instead' },
  { field: 'tunnel', reason: 'the sidecar does not tunnel' },
  { field: 'proxyProtocol', reason: 'the sidecar does not send the PROXY protocol upstream' },
];

/** The conditions of a `retryOn` value the sidecars cannot retry on. */
function retryOnUnenforced(value: unknown): string[] {
  const retryOn = retryOnList(value);
  return retryOn ? unenforcedRetryConditions(istioRetryPolicy({ attempts: 1, retryOn, perTryTimeoutMs: null }), false) : [];
}

// A policy set repeats a handful of retryOn strings on thousands of routes: each is judged once per process.
const RETRY_ON_UNENFORCED = new Map<string, boolean>();

function retryOnHasUnenforced(value: unknown): boolean {
  if (typeof value !== 'string') return retryOnUnenforced(value).length > 0;
  let known = RETRY_ON_UNENFORCED.get(value);
  if (known === undefined) RETRY_ON_UNENFORCED.set(value, (known = retryOnUnenforced(value).length > 0));
  return known;
}

const LOCAL_ENFORCEMENT: Record<string, KindEnforcement> = {
  [K.VirtualService]: {
    enforced: [
      'hosts', 'gateways', 'http[].match (uri, method, authority, headers, withoutHeaders, queryParams, ignoreUriCase)', 'http[].route (weights, subsets, headers)',
      'http[].rewrite (uri, authority)', 'http[].redirect (uri, authority, redirectCode)', 'http[].directResponse (status, body.string)', 'http[].headers',
      'http[].timeout', 'http[].retries (attempts, perTryTimeout, retryOn)', 'http[].fault (delay.fixedDelay, abort.httpStatus)', 'http[].mirror, mirrors',
    ],
    notEnforced: [
      exportToRule('VirtualService'),
      { field: 'tcp', reason: 'the local mesh routes HTTP only' },
      { field: 'tls', reason: 'the local mesh routes HTTP only' },
      { field: 'http[].delegate', reason: 'delegate VirtualServices are not compiled' },
      { field: 'http[].corsPolicy', reason: 'the sidecar does not answer CORS preflights' },
      { field: 'http[].match[].scheme', reason: 'the sidecar does not match on scheme' },
      { field: 'http[].match[].port', reason: 'the sidecar has one outbound listener for every port' },
      { field: 'http[].match[].sourceLabels', reason: 'the sidecar does not match on the caller' },
      { field: 'http[].match[].sourceNamespace', reason: 'the sidecar does not match on the caller' },
      { field: 'http[].match[].gateways', reason: 'the route applies wherever its VirtualService does' },
      { field: 'http[].rewrite.uriRegexRewrite', reason: 'only uri and authority rewrites are compiled' },
      { field: 'http[].redirect.scheme', reason: 'only uri and authority redirects are compiled' },
      { field: 'http[].redirect.port', reason: 'only uri and authority redirects are compiled' },
      { field: 'http[].redirect.derivePort', reason: 'only uri and authority redirects are compiled' },
      { field: 'http[].directResponse.body.bytes', reason: 'only a string body is served' },
      { field: 'http[].fault.delay.exponentialDelay', reason: 'only fixed delays are injected' },
      { field: 'http[].fault.abort.grpcStatus', reason: 'only HTTP status aborts are injected' },
      { field: 'http[].fault.abort.http2Error', reason: 'only HTTP status aborts are injected' },
      { field: 'http[].retries.retryOn', reason: 'the sidecars retry on connect failures, resets, timeouts and the statuses 401, 403, 404, 408, 425 and 500-504 only (5xx: never on 505-599), never on a gRPC status, 409 (retriable-4xx) or a response header', when: retryOnHasUnenforced },
      { field: 'http[].retries.retryRemoteLocalities', reason: 'every local pod is in one locality' },
    ],
  },
  [K.DestinationRule]: {
    enforced: [
      'host', 'subsets[].name, labels', 'trafficPolicy (and each subset\'s) loadBalancer.simple (ROUND_ROBIN, LEAST_REQUEST, RANDOM)',
      'loadBalancer.consistentHash (httpHeaderName, httpCookie with path and ttl, useSourceIp, httpQueryParameterName)',
      'connectionPool.tcp (maxConnections, shared between the pods; connectTimeout)',
      'connectionPool.http (http1MaxPendingRequests, maxRequestsPerConnection, idleTimeout)',
      'outlierDetection (consecutive5xxErrors, interval, baseEjectionTime)',
      'tls (and per subset and port): DISABLE, ISTIO_MUTUAL, SIMPLE and MUTUAL with caCertificates, clientCertificate, privateKey, sni, subjectAltNames, insecureSkipVerify',
    ],
    notEnforced: [
      ...['trafficPolicy', 'subsets[].trafficPolicy'].flatMap((at) => TRAFFIC_POLICY_NOT_ENFORCED.map((r) => ({ ...r, field: `${at}.${r.field}` }))),
      { field: 'workloadSelector', reason: 'the rule applies to every caller of its host' },
      exportToRule('DestinationRule'),
    ],
  },
  [K.Sidecar]: {
    enforced: [
      'workloadSelector (workload, namespace and root-namespace Sidecars, in Istio\'s precedence)',
      'egress[].hosts (namespace/dnsName with ., *, ~ and wildcard names: the Services, ServiceEntries, VirtualServices and HTTPRoutes the sidecar knows)',
      'outboundTrafficPolicy.mode REGISTRY_ONLY (502, flag NR)',
    ],
    notEnforced: [
      { field: 'ingress', reason: 'the sidecar\'s inbound listener serves the workload\'s port as the mesh sets it up' },
      { field: 'egress[].port', reason: 'the sidecar has one outbound listener for every port, and it knows the hosts of every egress listener' },
      { field: 'egress[].bind', reason: 'the outbound listener is bound on loopback by the mesh' },
      { field: 'egress[].captureMode', reason: 'the local mesh captures no traffic; apps call their sidecar as an HTTP proxy' },
      { field: 'inboundConnectionPool', reason: 'the inbound listener keeps its own connection settings' },
      { field: 'outboundTrafficPolicy.mode', reason: 'a request through the sidecar to a host outside the mesh\'s registry gets 404 (flag NR) instead of being passed on to the address it names; apps reach such hosts directly', when: (v) => v === 'ALLOW_ANY' },
      { field: 'outboundTrafficPolicy.egressProxy', reason: 'requests to hosts outside the mesh\'s registry are not passed on' },
    ],
  },
  [K.ServiceEntry]: {
    enforced: ['hosts', 'ports', 'workloadSelector', 'endpoints (address and port)'],
    notEnforced: [exportToRule('ServiceEntry')],
  },
  [K.Gateway]: {
    enforced: ['selector', 'servers[].port, hosts'],
    notEnforced: [{ field: 'servers[].tls', reason: 'gateway ports are served in plaintext on loopback' }],
  },
  [K.HTTPRoute]: {
    enforced: [
      'parentRefs (Gateway with sectionName and port; Service)', 'hostnames', 'rules[].matches (path Exact, PathPrefix, RegularExpression; headers; queryParams; method)',
      'rules[].backendRefs (Service, weight, port, filters RequestHeaderModifier and ResponseHeaderModifier)',
      'rules[].filters (RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror with percent or fraction, CORS)',
      'rules[].timeouts (request, backendRequest)', 'rules[].retry (codes, attempts)',
    ],
    notEnforced: [
      { field: 'rules[].filters[]', reason: 'the local mesh runs no extension filters', when: (v) => (v as { type?: unknown } | null)?.type === 'ExtensionRef' },
      { field: 'rules[].backendRefs[].filters[]', reason: 'a backendRef applies its header modifiers, redirect and URL rewrite only', when: (v) => !['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite'].includes(String((v as { type?: unknown } | null)?.type)) },
      { field: 'rules[].retry.backoff', reason: 'HAProxy retries at once' },
      { field: 'rules[].sessionPersistence', reason: 'the sidecar does not pin sessions to a pod for HTTPRoutes' },
    ],
  },
  [K.KubernetesGateway]: {
    enforced: ['listeners[] with protocol HTTP (port, hostname, allowedRoutes by namespace and kind)'],
    notEnforced: [
      { field: 'listeners[]', reason: 'the local mesh serves HTTP listeners only', when: (v) => String((v as { protocol?: unknown } | null)?.protocol ?? '').toUpperCase() !== 'HTTP' },
      { field: 'addresses', reason: 'gateway listeners are served on loopback' },
      { field: 'infrastructure', reason: 'the gateway proxy is a local process' },
    ],
  },
  [K.PeerAuthentication]: {
    enforced: ['selector', 'mtls.mode', 'portLevelMtls (the workload\'s own port)'],
    notEnforced: [],
  },
  [K.AuthorizationPolicy]: {
    enforced: [
      'action ALLOW, DENY, AUDIT (on the inbound sidecar, Istio\'s order: AUDIT, DENY, then ALLOW)', 'selector (mesh, namespace and workload scope)',
      'rules[].from[].source (principals, namespaces, serviceAccounts, trustDomains, ipBlocks, remoteIpBlocks and their not-forms)',
      'rules[].to[].operation (hosts, methods, paths, ports and their not-forms)',
      'rules[].when[] (request.headers, source.principal, source.namespace, source.serviceAccount, source.trustDomain, source.ip, remote.ip, destination.ip, destination.port)',
    ],
    notEnforced: [
      { field: 'action', reason: 'CUSTOM needs an external authorizer, which the local mesh does not run; the requests it names are let through', when: (v) => v === 'CUSTOM' },
      ...['targetRef', 'targetRefs'].map((f) => ({ field: f, reason: 'a policy with a target binds gateways and waypoints, never sidecars, and the local mesh runs neither' })),
      ...['requestPrincipals', 'notRequestPrincipals'].map((f) => ({ field: `rules[].from[].source.${f}`, reason: REQUEST_AUTH_REASON })),
      { field: 'rules[].when[]', reason: REQUEST_AUTH_REASON, when: (v) => /^request\.auth\./.test(String((v as { key?: unknown } | null)?.key ?? '')) },
      { field: 'rules[].when[]', reason: 'the local sidecars write no Envoy filter metadata, so its values never match and its not-values always hold', when: (v) => String((v as { key?: unknown } | null)?.key ?? '').startsWith('experimental.envoy.filters.') },
      { field: 'rules[].when[]', reason: 'local callers send no SNI, so its values never match and its not-values always hold', when: (v) => (v as { key?: unknown } | null)?.key === 'connection.sni' },
      ...['paths', 'notPaths'].map((f) => ({ field: `rules[].to[].operation.${f}`, reason: 'path templates ({*}, {**}) are matched as literal text', when: (v: unknown) => Array.isArray(v) && v.some((p) => /[{}]/.test(String(p))) })),
    ],
  },
  ...Object.fromEntries(Object.entries(WHOLE_KIND_REASON).map(([kind, reason]) => [kind, { enforced: [], notEnforced: [{ field: '', reason }] }])),
  [K.EnvoyFilter]: {
    enforced: ['a local rate limit in its documented shape (rate-limit.ts)'],
    notEnforced: [{ field: '', reason: WHOLE_KIND_REASON[K.EnvoyFilter]!, when: (spec) => !envoyFilterRateLimit(spec, { namespace: '', name: '' }) }],
  },
};

/** A rule about the whole resource applies unless its `when` says otherwise of the spec. */
const wholeApplies = (rule: UnenforcedRule, spec: unknown) => !rule.when || rule.when(spec);

/** The local mesh's enforcement table for one kind (undefined: the kind has no policy to enforce). */
export function localEnforcement(kindId: string): KindEnforcement | undefined {
  return LOCAL_ENFORCEMENT[kindId];
}

export interface UnenforcedField {
  /** JSON pointer from the resource's root (`/spec/http/0/retries/perTryTimeout`; empty for the whole resource). */
  pointer: string;
  /** The field as a reader writes it (`http[0].retries.perTryTimeout`); empty for the whole resource. */
  field: string;
  reason: string;
}

function present(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

interface FieldStep {
  key: string;
  /** The key holds a list and the rule names every item of it (`http[]`). */
  each: boolean;
}

// Rules are walked for every resource of a policy set, so each field is split into steps once.
const STEPS = new Map<UnenforcedRule, FieldStep[]>();

function stepsOf(rule: UnenforcedRule): FieldStep[] {
  let steps = STEPS.get(rule);
  if (!steps) {
    steps = rule.field.split('.').map((segment) => (segment.endsWith('[]') ? { key: segment.slice(0, -2), each: true } : { key: segment, each: false }));
    STEPS.set(rule, steps);
  }
  return steps;
}

/**
 * Walks `value` down `steps` from `depth`, the keys and indices taken so far in `trail`, and adds the
 * places that are set to `out` until it holds `limit`; true when it does. The pointer and field of a
 * place are spelled only for places that are set.
 */
function collect(value: unknown, steps: FieldStep[], depth: number, trail: (string | number)[], rule: UnenforcedRule, out: UnenforcedField[], limit: number): boolean {
  if (depth === steps.length) {
    if (!present(value) || (rule.when && !rule.when(value))) return false;
    out.push(placeOf(trail, rule.reason));
    return out.length >= limit;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const { key, each } = steps[depth]!;
  const child = (value as Record<string, unknown>)[key];
  let full = false;
  trail.push(key);
  if (!each) full = collect(child, steps, depth + 1, trail, rule, out, limit);
  else if (Array.isArray(child)) {
    for (let i = 0; i < child.length && !full; i++) {
      trail.push(i);
      full = collect(child[i], steps, depth + 1, trail, rule, out, limit);
      trail.pop();
    }
  }
  trail.pop();
  return full;
}

// collect() leaves the trail as it found it, so one serves every walk.
const TRAIL: (string | number)[] = [];

function placeOf(trail: (string | number)[], reason: string): UnenforcedField {
  let pointer = '/spec';
  let field = '';
  for (const step of trail) {
    pointer += `/${step}`;
    field += typeof step === 'number' ? `[${step}]` : field ? `.${step}` : step;
  }
  return { pointer, field, reason };
}

/** The places in `spec` that `rule.field` names and that are set, in document order; at most `limit` of them. */
export function unenforcedOccurrences(spec: unknown, rule: UnenforcedRule, limit = Infinity): UnenforcedField[] {
  if (!rule.field) return wholeApplies(rule, spec) ? [{ pointer: '', field: '', reason: rule.reason }] : [];
  const out: UnenforcedField[] = [];
  collect(spec, stepsOf(rule), 0, TRAIL, rule, out, limit);
  return out;
}

/** A kind's rules as one tree of fields, so that one walk of a resource answers for the whole table. */
interface FieldTree {
  /** Indices (in the table) of the rules whose field ends here. */
  ends: number[];
  children: { key: string; each: boolean; tree: FieldTree }[];
}

const TREES = new Map<string, { rules: UnenforcedRule[]; tree: FieldTree; whole: UnenforcedRule[] }>();

function treeOf(kindId: string, table: KindEnforcement) {
  let entry = TREES.get(kindId);
  if (entry) return entry;
  const tree: FieldTree = { ends: [], children: [] };
  table.notEnforced.forEach((rule, index) => {
    if (!rule.field) return;
    let at = tree;
    for (const { key, each } of stepsOf(rule)) {
      let child = at.children.find((c) => c.key === key && c.each === each);
      if (!child) at.children.push((child = { key, each, tree: { ends: [], children: [] } }));
      at = child.tree;
    }
    at.ends.push(index);
  });
  entry = { rules: table.notEnforced, tree, whole: table.notEnforced.filter((rule) => !rule.field) };
  TREES.set(kindId, entry);
  return entry;
}

// Indexed loops: this runs for every resource, mostly before the optimizing compiler has taken it.
function markSet(value: unknown, tree: FieldTree, rules: UnenforcedRule[], set: boolean[]): void {
  const ends = tree.ends;
  for (let i = 0; i < ends.length; i++) {
    const rule = rules[ends[i]!]!;
    if (present(value) && (!rule.when || rule.when(value))) set[ends[i]!] = true;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return;
  const children = tree.children;
  for (let c = 0; c < children.length; c++) {
    const branch = children[c]!;
    const child = (value as Record<string, unknown>)[branch.key];
    if (child === undefined || child === null) continue;
    if (!branch.each) markSet(child, branch.tree, rules, set);
    else if (Array.isArray(child)) for (let i = 0; i < child.length; i++) markSet(child[i], branch.tree, rules, set);
  }
}

/**
 * The rules of the resource's kind whose field (or whole kind) the resource sets, in table order: what
 * unenforcedFields() finds, without the places, in one walk of the resource for the whole table.
 */
export function unenforcedRulesOf(resource: Pick<Resource, 'kindId' | 'spec'>): UnenforcedRule[] {
  const table = LOCAL_ENFORCEMENT[resource.kindId];
  if (!table) return [];
  const { rules, tree, whole } = treeOf(resource.kindId, table);
  const wholeHere = whole.length && whole.some((rule) => rule.when) ? whole.filter((rule) => wholeApplies(rule, resource.spec)) : whole;
  if (!tree.children.length) return wholeHere;
  const set: boolean[] = [];
  markSet(resource.spec, tree, rules, set);
  return set.length ? rules.filter((rule, index) => set[index] === true || (!rule.field && wholeApplies(rule, resource.spec))) : wholeHere;
}

/** The fields of a resource (or the whole resource) that the local mesh does not enforce, in table order. */
export function unenforcedFields(resource: Pick<Resource, 'kindId' | 'spec'>): UnenforcedField[] {
  const table = LOCAL_ENFORCEMENT[resource.kindId];
  if (!table) return [];
  return table.notEnforced.flatMap((rule) => unenforcedOccurrences(resource.spec, rule));
}

/** The one sentence `validate` and `apply` say about an unenforced field. */
export function notEnforcedSentence(resource: Pick<Resource, 'kind' | 'namespace' | 'name'>, item: UnenforcedField): string {
  const name = resource.namespace ? `${resource.namespace}/${resource.name}` : resource.name;
  const subject = item.field ? `${item.field} of ${resource.kind} ${name}` : `${resource.kind} ${name}`;
  return `${subject} is not enforced by the local mesh (${item.reason}); it takes effect on Istio.`;
}

/** apply's notes: one sentence per unenforced field of every resource. */
export function notEnforcedNotes(resources: Pick<Resource, 'kind' | 'kindId' | 'namespace' | 'name' | 'spec'>[]): string[] {
  return resources.flatMap((r) => unenforcedFields(r).map((item) => notEnforcedSentence(r, item)));
}
