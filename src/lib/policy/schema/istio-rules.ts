// Istio's own validation of its kinds, beyond what the CRD schema says: the rules istiod's webhook and
// istioctl apply to VirtualService, DestinationRule, Gateway, ServiceEntry, Sidecar, WorkloadEntry and the
// security kinds. Errors become IST0106 and warnings IST0133, each at the field at fault. Rules that meshctl
// checks in a dedicated analyzer are left to it: durations (MSH2006), all-zero route weights (MSH2002),
// duplicate subset names (MSH2004) and the unreachable-rule analysis (IST0130/IST0131).
// These run only on resources whose shape passed the schema, so fields have their declared types.
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { joinPointer } from '../locate.js';
import { fieldPath } from './explain.js';
import {
  fqdnProblem, gatewayBoundDomainProblem, GRPC_STATUS_NAMES, hostSubsetOf, hostsOverlap, HTTP_STATUS_CODES, ipSubnetProblem, isDns1123Label,
  isHttpProtocol, isIpAddress, isTcpProtocol, isTlsProtocol, labelKeyProblem, labelValueProblem, parseProtocol, re2Problem, wildcardDomainProblem,
} from './names.js';

export interface RuleSink {
  error(pointer: string, message: string): void;
  warning(pointer: string, message: string): void;
}

export type SemanticRule = (r: Resource, sink: RuleSink) => void;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
// Shared empty results for absent fields (frozen: the rules only read them).
const NO_ITEMS: unknown[] = Object.freeze([]) as unknown as unknown[];
const NO_ENTRIES: [string, unknown][] = Object.freeze([]) as unknown as [string, unknown][];
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : NO_ITEMS);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const has = (o: Json | undefined, key: string): boolean => !!o && o[key] !== undefined && o[key] !== null;
const entries = (v: unknown): [string, unknown][] => {
  const o = obj(v);
  return o ? Object.entries(o) : NO_ENTRIES;
};

/**
 * A JSON pointer still to be spelled out: rules pass pointers down to every field they look at, but only
 * the few fields with a finding need their pointer as text.
 */
class PointerAt {
  // Declared only (assigned in the constructor): a plain constructor is cheaper than class field definitions.
  declare readonly base: Ptr;
  declare readonly a: string | number;
  declare readonly b: string | number | undefined;
  declare readonly c: string | number | undefined;
  declare readonly d: string | number | undefined;

  constructor(base: Ptr, a: string | number, b: string | number | undefined, c: string | number | undefined, d: string | number | undefined) {
    this.base = base;
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }
}

type Ptr = string | PointerAt;

function pointerText(p: Ptr): string {
  if (typeof p === 'string') return p;
  let out = seg(pointerText(p.base), p.a);
  if (p.b !== undefined) out = seg(out, p.b);
  if (p.c !== undefined) out = seg(out, p.c);
  if (p.d !== undefined) out = seg(out, p.d);
  return out;
}

class Check {
  declare readonly r: Resource;
  declare private readonly sink: RuleSink;
  constructor(r: Resource, sink: RuleSink) {
    this.r = r;
    this.sink = sink;
  }
  /** `{Kind} {name}`, as messages name the resource. */
  get who(): string {
    return `${this.r.kind} ${this.r.name}`;
  }
  /** `{field} in {Kind name} {text}`. */
  error(at: Ptr, text: string): void {
    const pointer = pointerText(at);
    this.sink.error(pointer, `${fieldPath(pointer) || 'The resource'} in ${this.who} ${text}.`);
  }
  warning(at: Ptr, text: string): void {
    const pointer = pointerText(at);
    this.sink.warning(pointer, `${fieldPath(pointer) || 'The resource'} in ${this.who} ${text}.`);
  }
}

/** The pointer of a field below `base` (joinPointer's escaping, applied when it is spelled out). */
function at(base: Ptr, a: string | number, b?: string | number, c?: string | number, d?: string | number): Ptr {
  return new PointerAt(base, a, b, c, d);
}

function seg(base: string, s: string | number): string {
  if (typeof s === 'number' || (!s.includes('~') && !s.includes('/'))) return `${base}/${s}`;
  return joinPointer(base, s);
}

function checkPort(c: Check, pointer: Ptr, port: unknown): void {
  const n = num(port);
  if (!(Number.isInteger(n) && n >= 1 && n <= 65535)) c.error(pointer, `is ${JSON.stringify(port ?? 0)}, not a port number; use 1-65535`);
}

function checkLabels(c: Check, pointer: Ptr, labels: unknown): void {
  for (const [k, v] of entries(labels)) {
    const keyProblem = labelKeyProblem(k);
    if (keyProblem) c.error(at(pointer, k), `has a ${keyProblem}; use an optional DNS prefix and a slash, then up to 63 letters, digits, -, _ or .`);
    const valueProblem = labelValueProblem(str(v));
    if (valueProblem) c.error(at(pointer, k), `has a ${valueProblem}; use up to 63 letters, digits, -, _ or ., starting and ending with a letter or digit`);
  }
}

function checkGatewayNames(c: Check, pointer: Ptr, names: unknown): void {
  for (const [i, raw] of list(names).entries()) {
    const name = str(raw);
    const p = at(pointer, i);
    const slash = name.indexOf('/');
    if (slash === -1) {
      if (name.includes('.')) {
        const parts = name.split('.');
        c.warning(p, `names gateway ${JSON.stringify(name)} in the legacy <name>.<namespace> form; write it as ${parts[1]}/${parts[0]}`);
      }
      const problem = fqdnProblem(name);
      if (problem) c.error(p, `names gateway ${JSON.stringify(name)}, which is not a valid name (${problem}); use <namespace>/<name>`);
      // Istio stops at the first gateway named without a namespace.
      return;
    }
    const ns = name.slice(0, slash);
    const gw = name.slice(slash + 1);
    if (!ns || !gw) c.error(p, `names gateway ${JSON.stringify(name)} with an empty namespace or name; use <namespace>/<name>`);
    if (!isDns1123Label(ns)) c.error(p, `names gateway ${JSON.stringify(name)}, whose namespace ${JSON.stringify(ns)} is not a DNS label; fix the namespace`);
    if (!isDns1123Label(gw)) c.error(p, `names gateway ${JSON.stringify(name)}, whose name ${JSON.stringify(gw)} is not a DNS label; fix the name`);
  }
}

function checkExportTo(c: Check, pointer: Ptr, exportTo: unknown, serviceEntry: boolean, drWithSelector = false): void {
  const values = list(exportTo).map(str);
  if (!values.length) return;
  const namespace = c.r.namespace;
  const seen = new Set<string>();
  values.forEach((e, i) => {
    const p = at(pointer, i);
    const key = e === '.' ? namespace || '.' : e;
    if (seen.has(key)) {
      c.error(p, key !== e ? `lists both . and the resource's own namespace ${namespace}; keep one` : `lists ${JSON.stringify(e)} twice; remove the duplicate`);
      return;
    }
    if (serviceEntry && e === '~') {
      seen.add(key);
      return;
    }
    if (key === '~') c.error(p, 'is ~ (none), which only a ServiceEntry may use; use ., *, or a namespace');
    else if (key !== '.' && key !== '*' && !isDns1123Label(key)) c.error(p, `is ${JSON.stringify(e)}; use ., *, or a namespace name`);
    else seen.add(key);
  });
  if (drWithSelector && seen.size) {
    if (seen.has(namespace || '.')) {
      if (seen.size > 1) c.error(pointer, 'has several entries, but a DestinationRule with a workloadSelector can only be exported to its own namespace; keep only .');
    } else {
      c.error(pointer, 'exports beyond the DestinationRule\'s own namespace, which a workloadSelector does not allow; use .');
    }
  }
  if (seen.has('*') && values.length > 1) c.error(pointer, 'mixes * with other entries; * already exports everywhere, so keep it alone');
  if (seen.has('~') && values.length > 1) c.error(pointer, 'mixes ~ (export to no one) with other entries; keep ~ alone');
}

/** type.v1beta1.WorkloadSelector (matchLabels). */
function checkWorkloadSelector(c: Check, pointer: Ptr, selector: unknown): void {
  const s = obj(selector);
  if (!s) return;
  const labels = entries(s.matchLabels);
  for (const [k, v] of labels) {
    if (k === '') c.error(at(pointer, 'matchLabels', k), 'has an empty label key; name the label');
    if (k.includes('*') || str(v).includes('*')) c.error(at(pointer, 'matchLabels', k), `uses a wildcard (${k}=${str(v)}), which selectors do not support; use exact labels`);
  }
  if (!labels.length) c.warning(pointer, 'selects workloads without any labels, so it applies to every workload in the namespace; add matchLabels or remove it');
}

/** networking WorkloadSelector (labels), used by Sidecar and ServiceEntry. Returns false on errors. */
function checkAlphaWorkloadSelector(c: Check, pointer: Ptr, selector: unknown, appliesTo: string): boolean {
  const s = obj(selector);
  if (!s) return true;
  let ok = true;
  const labels = entries(s.labels);
  for (const [k, v] of labels) {
    if (k === '') {
      c.error(at(pointer, 'labels', k), 'has an empty label key; name the label');
      ok = false;
    }
    if (k.includes('*') || str(v).includes('*')) {
      c.error(at(pointer, 'labels', k), `uses a wildcard (${k}=${str(v)}), which selectors do not support; use exact labels`);
      ok = false;
    }
  }
  if (ok && !labels.length) c.warning(pointer, `has no labels, so the ${c.r.kind} applies to ${appliesTo}; add labels or remove the selector`);
  return ok;
}

function checkTargetRef(c: Check, pointer: Ptr, ref: unknown): void {
  const t = obj(ref);
  if (!t) return;
  if (!str(t.name)) c.error(pointer, 'has no name; name the target');
  if (str(t.namespace)) c.error(at(pointer, 'namespace'), 'is set, but policies cannot target another namespace; remove it');
  const group = str(t.group) || 'core';
  const kind = str(t.kind);
  const allowed = (group === 'core' && kind === 'Service') || (group === 'networking.istio.io' && kind === 'ServiceEntry') || (group === 'gateway.networking.k8s.io' && kind === 'Gateway');
  if (!allowed) c.error(pointer, `targets ${str(t.group)}/${kind}; target a Service, a ServiceEntry (networking.istio.io) or a Gateway (gateway.networking.k8s.io)`);
}

function checkSelectorOrTargets(c: Check, spec: Json): void {
  const set = (has(spec, 'selector') ? 1 : 0) + (has(spec, 'targetRef') ? 1 : 0) + (list(spec.targetRefs).length ? 1 : 0);
  if (set > 1) c.error('/spec', 'sets more than one of selector, targetRef and targetRefs; keep one');
  checkWorkloadSelector(c, '/spec/selector', spec.selector);
  checkTargetRef(c, '/spec/targetRef', spec.targetRef);
  list(spec.targetRefs).forEach((t, i) => checkTargetRef(c, at('/spec/targetRefs', i), t));
}

// ---------------------------------------------------------------------------------------------------------
// Destinations, routes and matches (VirtualService)

function checkSubsetName(c: Check, pointer: Ptr, name: string): void {
  if (!name) c.error(pointer, 'is empty; name the subset');
  else if (!isDns1123Label(name)) c.error(pointer, `is ${JSON.stringify(name)}, not a valid subset name; use lowercase letters, digits and - (a DNS label)`);
}

function checkDestination(c: Check, pointer: Ptr, destination: unknown): void {
  const d = obj(destination);
  if (!d) return;
  const host = str(d.host);
  if (host === '*') c.error(at(pointer, 'host'), 'is *, which is not a destination; name a service host');
  else {
    const problem = wildcardDomainProblem(host);
    if (problem) c.error(at(pointer, 'host'), `is ${JSON.stringify(host)}, not a valid host (${problem}); name a service host`);
  }
  // Pointers only for fields with a finding: most destinations have none.
  const subset = str(d.subset);
  if (subset && !isDns1123Label(subset)) checkSubsetName(c, at(pointer, 'subset'), subset);
  if (has(d, 'port')) {
    const port = obj(d.port)?.number;
    if (!isPortNumber(port)) checkPort(c, at(pointer, 'port', 'number'), port);
  }
}

function isPortNumber(port: unknown): boolean {
  const n = num(port);
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function checkStringMatch(c: Check, pointer: Ptr, match: unknown): void {
  const m = obj(match);
  if (!m) return;
  if ('prefix' in m && str(m.prefix) === '') c.error(at(pointer, 'prefix'), 'is an empty prefix; remove the match or give a prefix');
  if ('regex' in m) {
    const re = str(m.regex);
    if (!re) c.error(at(pointer, 'regex'), 'is an empty regex; remove the match or give a pattern');
    else {
      const problem = re2Problem(re);
      if (problem) c.error(at(pointer, 'regex'), `is not usable: ${problem}; Envoy uses RE2 syntax`);
    }
  }
}

const VALID_HEADER = /^[-_A-Za-z0-9]+$/;
const JWT_CLAIM = /^@request\.auth\.claims(\.|\[)/;

function checkHeaderName(c: Check, pointer: Ptr, name: string, allowJwtClaim: boolean): void {
  if (name === '') c.error(pointer, 'is an empty header name; name the header');
  else if (allowJwtClaim && JWT_CLAIM.test(name)) return;
  else if (!VALID_HEADER.test(name)) c.error(pointer, `names header ${JSON.stringify(name)}, which is not a valid header name; use letters, digits, - and _`);
}

const CONTROL_CHARS = /[\u0000-\u0008\u000A-\u001F\u007F]/;

function checkHeaderOperations(c: Check, pointer: Ptr, headers: unknown): void {
  const h = obj(headers);
  if (!h) return;
  for (const side of ['request', 'response'] as const) {
    const ops = obj(h[side]);
    if (!ops) continue;
    for (const op of ['set', 'add'] as const) {
      for (const [name, value] of entries(ops[op])) {
        const p = at(pointer, side, op, name);
        if (name === '') c.error(p, 'is an empty header name; name the header');
        else if (side === 'request') {
          if ((name.startsWith(':') || name.toLowerCase() === 'host') && !/^(:authority|host)$/i.test(name)) c.error(p, `sets pseudo-header ${name}, which Envoy does not allow; remove it`);
        } else if (name.toLowerCase() === 'host') c.error(p, 'sets the Host header, which cannot be changed here; remove it');
        else if (name.startsWith(':')) c.error(p, `sets pseudo-header ${name}, which Envoy does not allow; remove it`);
        if (CONTROL_CHARS.test(str(value))) c.error(p, 'has a value with control characters; remove them');
      }
    }
    list(ops.remove).forEach((raw, i) => {
      const name = str(raw);
      const p = at(pointer, side, 'remove', i);
      if (name === '') c.error(p, 'is an empty header name; name the header');
      else if (name.toLowerCase() === 'host') c.error(p, 'removes the Host header, which cannot be changed here; remove the entry');
      else if (name.startsWith(':')) c.error(p, `removes pseudo-header ${name}, which Envoy does not allow; remove the entry`);
    });
  }
}

function checkWeight(c: Check, pointer: Ptr, weight: unknown): void {
  if (num(weight) < 0) c.error(pointer, `is ${String(weight)}; weights cannot be negative`);
}

function checkRouteDestinations(c: Check, pointer: Ptr, routes: unknown, http: boolean): void {
  const items = list(routes);
  for (let i = 0; i < items.length; i++) {
    const rd = obj(items[i]);
    if (!rd) continue;
    if (!has(rd, 'destination')) c.error(at(pointer, i), 'has no destination; add destination.host');
    if (http && rd.headers) checkHeaderOperations(c, at(pointer, i, 'headers'), rd.headers);
    if (rd.destination) checkDestination(c, at(pointer, i, 'destination'), rd.destination);
    if (num(rd.weight) < 0) checkWeight(c, at(pointer, i, 'weight'), rd.weight);
  }
}

function checkMatchCommon(c: Check, pointer: Ptr, m: Json): void {
  if (num(m.port) !== 0) checkPort(c, at(pointer, 'port'), m.port);
  if (m.sourceLabels) checkLabels(c, at(pointer, 'sourceLabels'), m.sourceLabels);
  if (m.gateways) checkGatewayNames(c, at(pointer, 'gateways'), m.gateways);
}

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE']);
const RETRY_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes', 'retriable-headers',
  'envoy-ratelimited', 'http3-post-connect-failure', 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);

function checkPercentage(c: Check, pointer: Ptr, percentage: unknown): void {
  const p = obj(percentage);
  if (!p) return;
  const v = num(p.value);
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) c.error(at(pointer, 'value'), `is ${v}; use 0, or a percentage from 0.0001 to 100`);
}

function checkHttpStatus(c: Check, pointer: Ptr, status: unknown): void {
  const s = num(status);
  if (s < 200 || s > 600) c.error(pointer, `is ${String(status ?? 0)}, not an HTTP status Envoy can return; use 200-599`);
}

function checkMirrorPercent(c: Check, p: Ptr, http: Json): void {
  for (const f of ['mirrorPercent', 'mirror_percent'] as const) {
    if (!has(http, f)) continue;
    const v = typeof http[f] === 'object' ? num(obj(http[f])?.value) : num(http[f]);
    if (v > 100) c.error(at(p, f), `is ${v}; a mirror percentage cannot exceed 100`);
    c.warning(at(p, f), 'is deprecated; use mirrorPercentage instead');
  }
}

function checkHttpRoute(c: Check, p: Ptr, http: Json, delegateVs: boolean): void {
  const root = !delegateVs && has(http, 'delegate');
  const hasRoute = list(http.route).length > 0;
  if (root) {
    if (has(http, 'redirect')) c.error(at(p, 'redirect'), 'is set on a route that delegates; a delegating route may only name its delegate, so remove it');
    if (http.route !== undefined && http.route !== null) c.error(at(p, 'route'), 'is set on a route that delegates; a delegating route may only name its delegate, so remove it');
  } else {
    if (delegateVs && has(http, 'delegate')) c.error(at(p, 'delegate'), 'is set inside a delegate VirtualService, which cannot delegate again; remove it');
    if (has(http, 'redirect')) {
      if (hasRoute) c.error(at(p, 'redirect'), 'is set together with route; a rule either redirects or routes, so keep one');
      if (has(http, 'directResponse')) c.error(at(p, 'redirect'), 'is set together with directResponse; keep one');
      if (has(http, 'fault')) c.error(at(p, 'fault'), 'is set on a rule that redirects, where it has no effect; remove it');
      if (has(http, 'rewrite')) c.error(at(p, 'rewrite'), 'is set on a rule that redirects, where it has no effect; remove it');
    } else if (has(http, 'directResponse')) {
      if (hasRoute) c.error(at(p, 'directResponse'), 'is set together with route; a rule either responds directly or routes, so keep one');
      if (has(http, 'fault')) c.error(at(p, 'fault'), 'is set on a rule that responds directly, where it has no effect; remove it');
      if (has(http, 'rewrite')) c.error(at(p, 'rewrite'), 'is set on a rule that responds directly, where it has no effect; remove it');
    } else if (!hasRoute) {
      c.error(p, 'has no route, redirect or directResponse; add a route with a destination');
    }
  }

  // Matches.
  const independent = !delegateVs && !root;
  const matches = list(http.match);
  for (let j = 0; j < matches.length; j++) {
    const m = obj(matches[j]);
    if (!m) continue;
    const mp = at(p, 'match', j);
    if (independent) {
      const headers = entries(m.headers);
      for (let k = 0; k < headers.length; k++) {
        const [name, sm] = headers[k]!;
        checkHeaderName(c, at(mp, 'headers', name), name, true);
        checkStringMatch(c, at(mp, 'headers', name), sm);
      }
      if (m.uri) checkStringMatch(c, at(mp, 'uri'), m.uri);
      if (m.scheme) checkStringMatch(c, at(mp, 'scheme'), m.scheme);
      if (m.method) checkStringMatch(c, at(mp, 'method'), m.method);
      if (m.authority) checkStringMatch(c, at(mp, 'authority'), m.authority);
      if (m.queryParams) for (const [name, sm] of entries(m.queryParams)) checkStringMatch(c, at(mp, 'queryParams', name), sm);
    } else {
      for (const f of ['uri', 'scheme', 'method', 'authority'] as const) {
        if (has(obj(m[f]), 'regex')) c.error(at(mp, f, 'regex'), 'is a regex match, which delegation does not support; use exact or prefix');
      }
      for (const group of ['headers', 'queryParams', 'withoutHeaders'] as const) {
        for (const [name, sm] of entries(m[group])) {
          if (has(obj(sm), 'regex')) c.error(at(mp, group, name, 'regex'), 'is a regex match, which delegation does not support; use exact or prefix');
          if (group !== 'queryParams') checkHeaderName(c, at(mp, group, name), name, false);
        }
      }
    }
    checkMatchCommon(c, mp, m);
    if (str(m.sourceNamespace) && !isDns1123Label(str(m.sourceNamespace))) c.error(at(mp, 'sourceNamespace'), `is ${JSON.stringify(m.sourceNamespace)}, not a namespace name; fix it`);
  }

  if (http.headers) checkHeaderOperations(c, at(p, 'headers'), http.headers);

  // CORS.
  const cors = obj(http.corsPolicy);
  if (cors) {
    list(cors.allowOrigins).forEach((raw, j) => {
      const o = obj(raw);
      const op = at(p, 'corsPolicy', 'allowOrigins', j);
      if (!o) return;
      const value = str(o.exact) || str(o.prefix) || str(o.regex);
      if (!value) c.error(op, 'is an empty origin match; give exact, prefix or regex a value');
      else if ('regex' in o) {
        const problem = re2Problem(str(o.regex));
        if (problem) c.error(at(op, 'regex'), `is not usable: ${problem}; Envoy uses RE2 syntax`);
      }
    });
    list(cors.allowMethods).forEach((m, j) => {
      if (!HTTP_METHODS.has(str(m))) c.error(at(p, 'corsPolicy', 'allowMethods', j), `is ${JSON.stringify(m)}, not an HTTP method; use one of ${[...HTTP_METHODS].join(', ')} (upper case)`);
    });
    for (const f of ['allowHeaders', 'exposeHeaders'] as const) {
      list(cors[f]).forEach((h, j) => {
        const name = str(h);
        if (name === '*') return;
        checkHeaderName(c, at(p, 'corsPolicy', f, j), name, false);
      });
    }
  }

  // Fault injection.
  const fault = obj(http.fault);
  if (fault) {
    const fp = at(p, 'fault');
    if (!has(fault, 'abort') && !has(fault, 'delay')) c.error(fp, 'has neither abort nor delay; add one or remove the fault');
    const abort = obj(fault.abort);
    if (abort) {
      checkPercentage(c, at(fp, 'abort', 'percentage'), abort.percentage);
      if (has(abort, 'grpcStatus')) {
        if (!GRPC_STATUS_NAMES.has(str(abort.grpcStatus))) c.error(at(fp, 'abort', 'grpcStatus'), `is ${JSON.stringify(abort.grpcStatus)}, not a gRPC status name; use one such as UNAVAILABLE or NOT_FOUND`);
      } else if (has(abort, 'http2Error')) c.error(at(fp, 'abort', 'http2Error'), 'is not supported by Istio yet; use httpStatus or grpcStatus');
      else if (has(abort, 'httpStatus')) checkHttpStatus(c, at(fp, 'abort', 'httpStatus'), abort.httpStatus);
      else c.warning(at(fp, 'abort'), 'sets no error type, so it aborts nothing; add httpStatus or grpcStatus');
    }
    const delay = obj(fault.delay);
    if (delay) {
      checkPercentage(c, at(fp, 'delay', 'percentage'), delay.percentage);
      if (has(delay, 'exponentialDelay')) c.error(at(fp, 'delay', 'exponentialDelay'), 'is not supported by Istio yet; use fixedDelay');
    }
  }

  // Mirroring.
  if (http.mirrorPercent != null || http.mirror_percent != null) checkMirrorPercent(c, p, http);
  const mirrorPercentage = obj(http.mirrorPercentage);
  if (mirrorPercentage) {
    const v = num(mirrorPercentage.value);
    if (v > 100 || v < 0) c.error(at(p, 'mirrorPercentage', 'value'), `is ${v}; use a percentage from 0 to 100`);
  }
  if (http.mirror) checkDestination(c, at(p, 'mirror'), http.mirror);
  if (http.mirrors) list(http.mirrors).forEach((raw, j) => {
    const m = obj(raw);
    if (!m) return;
    const mp = at(p, 'mirrors', j);
    if (!has(m, 'destination')) {
      c.error(mp, 'has no destination; add destination.host');
      return;
    }
    checkDestination(c, at(mp, 'destination'), m.destination);
    const pct = obj(m.percentage);
    if (pct && (num(pct.value) > 100 || num(pct.value) < 0)) c.error(at(mp, 'percentage', 'value'), `is ${num(pct.value)}; use a percentage from 0 to 100`);
  });

  // Redirect.
  const redirect = obj(http.redirect);
  if (redirect) {
    const rp = at(p, 'redirect');
    if (!str(redirect.uri) && !str(redirect.authority) && !has(redirect, 'port') && !has(redirect, 'derivePort') && !str(redirect.scheme)) {
      c.error(rp, 'changes nothing; set uri, authority, scheme or port');
    } else if (num(redirect.redirectCode) !== 0 && (num(redirect.redirectCode) < 300 || num(redirect.redirectCode) > 399)) {
      c.error(at(rp, 'redirectCode'), `is ${String(redirect.redirectCode)}, not a redirect status; use a 3xx code`);
    } else if (str(redirect.scheme) && !['http', 'https'].includes(str(redirect.scheme))) {
      c.error(at(rp, 'scheme'), `is ${JSON.stringify(redirect.scheme)}; use http or https`);
    } else if (num(redirect.port) > 0) checkPort(c, at(rp, 'port'), redirect.port);
  }

  // Retries.
  const retries = obj(http.retries);
  if (retries) {
    const rp = at(p, 'retries');
    const attempts = num(retries.attempts);
    if (attempts < 0) c.error(at(rp, 'attempts'), `is ${attempts}; attempts cannot be negative`);
    if (attempts === 0 && (has(retries, 'perTryTimeout') || str(retries.retryOn) || has(retries, 'retryRemoteLocalities'))) {
      c.error(rp, 'configures retries while attempts is 0 (retries disabled); set attempts or remove the other retry fields');
    }
    if (str(retries.retryOn)) {
      for (const policy of str(retries.retryOn).split(',')) {
        const code = /^\d+$/.test(policy) ? Number(policy) : NaN;
        if (!HTTP_STATUS_CODES.has(code) && !RETRY_ON.has(policy)) {
          c.error(at(rp, 'retryOn'), `lists ${JSON.stringify(policy)}, which is not a retry condition; use Envoy's (5xx, gateway-error, reset, connect-failure, ...) or HTTP status codes, comma-separated without spaces`);
        }
      }
    }
  }

  // Rewrite.
  const rewrite = obj(http.rewrite);
  if (rewrite) {
    const rp = at(p, 'rewrite');
    const regexRewrite = obj(rewrite.uriRegexRewrite);
    if (str(rewrite.uri) && regexRewrite) c.error(rp, 'sets both uri and uriRegexRewrite; keep one');
    else if (!str(rewrite.uri) && !regexRewrite && !str(rewrite.authority)) c.error(rp, 'rewrites nothing; set uri, uriRegexRewrite or authority');
    if (regexRewrite) {
      if (!str(regexRewrite.match) || !str(regexRewrite.rewrite)) c.error(at(rp, 'uriRegexRewrite'), 'needs both match and rewrite; add the missing one');
      else {
        const problem = re2Problem(str(regexRewrite.match));
        if (problem) c.error(at(rp, 'uriRegexRewrite', 'match'), `is not usable: ${problem}; Envoy uses RE2 syntax`);
      }
    }
  }
  // The authority may be rewritten in one place only.
  let authority = str(rewrite?.authority);
  const request = obj(obj(http.headers)?.request);
  if (request) for (const op of HEADER_OPS) {
    for (const [name, value] of entries(request[op])) {
      if (!/^(:authority|host)$/i.test(name)) continue;
      if (authority) c.error(at(p, 'headers', 'request', op, name), `sets the authority again (already ${JSON.stringify(authority)}); set it in one place only`);
      authority = str(value);
    }
  }

  if (http.route) checkRouteDestinations(c, at(p, 'route'), http.route, true);

  const direct = obj(http.directResponse);
  if (direct) {
    const body = obj(direct.body);
    const size = body ? str(body.string).length || Math.floor((str(body.bytes).length * 3) / 4) : 0;
    if (size > 1024 * 1024) c.error(at(p, 'directResponse', 'body'), 'is larger than 1 MB, which would slow the control plane; serve it from a backend');
    else if (size > 100 * 1024) c.warning(at(p, 'directResponse', 'body'), 'is larger than 100 KB, which may slow the control plane; consider serving it from a backend');
    checkHttpStatus(c, at(p, 'directResponse', 'status'), direct.status);
  }
}

const HEADER_GROUPS = ['headers', 'withoutHeaders'] as const;

const HEADER_OPS = ['set', 'add'] as const;

const checkVirtualService: SemanticRule = (r, sink) => {
  const c = new Check(r, sink);
  const spec = obj(r.spec) ?? {};
  const hosts = list(spec.hosts).map(str);
  const gateways = list(spec.gateways).map(str);
  const delegateVs = hosts.length === 0;
  if (delegateVs) {
    if (gateways.length) c.error('/spec/gateways', 'is set on a VirtualService without hosts (a delegate), where it has no meaning; remove it or add hosts');
    if (list(spec.tls).length) c.error('/spec/tls', 'is set on a VirtualService without hosts (a delegate), which only supports http routes; remove it or add hosts');
    if (list(spec.tcp).length) c.error('/spec/tcp', 'is set on a VirtualService without hosts (a delegate), which only supports http routes; remove it or add hosts');
  }
  let appliesToGateway = false;
  if (gateways.length) {
    checkGatewayNames(c, '/spec/gateways', spec.gateways);
    appliesToGateway = !gateways.includes('mesh');
  }
  const appliesToMesh = !appliesToGateway;
  if (!appliesToGateway) {
    const rules = list(spec.http);
    for (let i = 0; i < rules.length; i++) {
      const matches = list(obj(rules[i])?.match);
      for (let j = 0; j < matches.length; j++) {
        const m = obj(matches[j]);
        if (!m) continue;
        for (const group of HEADER_GROUPS) {
          const names = obj(m[group]);
          if (!names) continue;
          for (const name of Object.keys(names)) {
            if (JWT_CLAIM.test(name)) c.error(at(at('/spec/http', i, 'match', j), group, name), 'routes on a JWT claim, which only works on gateways; bind the VirtualService to a gateway or match on a header');
          }
        }
      }
    }
  }
  const sni = list(spec.tls).some((t) => list(obj(t)?.match).some((m) => list(obj(m)?.sniHosts).length > 0));
  let allValid = true;
  hosts.forEach((h, i) => {
    const problem = appliesToGateway ? gatewayBoundDomainProblem(sni, h) : wildcardDomainProblem(h);
    if (problem) {
      if (!isIpAddress(h)) {
        c.error(at('/spec/hosts', i), `is ${JSON.stringify(h)}, not a valid host (${problem}); use a DNS name, a *.-prefixed wildcard or an IP`);
        allValid = false;
      }
    } else if (appliesToMesh && h === '*') {
      c.error(at('/spec/hosts', i), 'is *, which a VirtualService for the mesh (sidecars) cannot use; name the hosts, or bind it to a gateway');
      allValid = false;
    }
  });
  if (allValid) {
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        if (hostsOverlap(hosts[i]!, hosts[j]!)) c.error(at('/spec/hosts', j), `is ${JSON.stringify(hosts[j])}, which overlaps host ${JSON.stringify(hosts[i])} of the same VirtualService; remove one`);
      }
    }
  }
  if (!list(spec.http).length && !list(spec.tcp).length && !list(spec.tls).length) c.error('/spec', 'has no http, tcp or tls routes; add at least one route');
  const httpRules = list(spec.http);
  for (let i = 0; i < httpRules.length; i++) {
    const http = obj(httpRules[i]);
    if (http) checkHttpRoute(c, at('/spec/http', i), http, delegateVs);
  }
  list(spec.tls).forEach((raw, i) => {
    const tls = obj(raw);
    if (!tls) return;
    const p = at('/spec/tls', i);
    if (!list(tls.match).length) c.error(p, 'has no match; a TLS route needs at least one match with sniHosts');
    list(tls.match).forEach((rawMatch, j) => {
      const m = obj(rawMatch);
      if (!m) return;
      const mp = at(p, 'match', j);
      const sniHosts = list(m.sniHosts).map(str);
      if (!sniHosts.length) c.error(mp, 'has no sniHosts; add the SNI names to match');
      sniHosts.forEach((s, k) => {
        const sp = at(mp, 'sniHosts', k);
        const problem = appliesToGateway ? gatewayBoundDomainProblem(true, s) : wildcardDomainProblem(s);
        if (problem) {
          if (isIpAddress(s)) c.warning(sp, `is the IP address ${s}, which goes against the SNI spec and most clients never send; use a host name`);
          else c.error(sp, `is ${JSON.stringify(s)}, not a valid SNI host (${problem}); use a DNS name`);
          return;
        }
        if (!hosts.some((h) => hostSubsetOf(s, h))) c.error(sp, `is ${JSON.stringify(s)}, which none of the VirtualService's hosts (${hosts.join(', ')}) covers; add it to hosts or fix it`);
      });
      list(m.destinationSubnets).forEach((s, k) => {
        const problem = ipSubnetProblem(str(s));
        if (problem) c.error(at(mp, 'destinationSubnets', k), `is not usable: ${problem}; use an IP or CIDR block`);
      });
      checkMatchCommon(c, mp, m);
    });
    if (!list(tls.route).length) c.error(p, 'has no route; add a route with a destination');
    checkRouteDestinations(c, at(p, 'route'), tls.route, false);
  });
  list(spec.tcp).forEach((raw, i) => {
    const tcp = obj(raw);
    if (!tcp) return;
    const p = at('/spec/tcp', i);
    list(tcp.match).forEach((rawMatch, j) => {
      const m = obj(rawMatch);
      if (!m) return;
      const mp = at(p, 'match', j);
      list(m.destinationSubnets).forEach((s, k) => {
        const problem = ipSubnetProblem(str(s));
        if (problem) c.error(at(mp, 'destinationSubnets', k), `is not usable: ${problem}; use an IP or CIDR block`);
      });
      checkMatchCommon(c, mp, m);
    });
    if (!list(tcp.route).length) c.error(p, 'has no route; add a route with a destination');
    checkRouteDestinations(c, at(p, 'route'), tcp.route, false);
  });
  if (spec.exportTo) checkExportTo(c, '/spec/exportTo', spec.exportTo, false);
};

// ---------------------------------------------------------------------------------------------------------
// DestinationRule

function checkClientTls(c: Check, p: Ptr, tls: unknown): void {
  const t = obj(tls);
  if (!t) return;
  const mode = str(t.mode) || 'DISABLE';
  const insecure = t.insecureSkipVerify === true;
  if (insecure) {
    if (mode === 'SIMPLE' && (str(t.caCertificates) || str(t.credentialName) || has(t, 'subjectAltNames'))) {
      c.error(at(p, 'insecureSkipVerify'), 'is true while caCertificates, credentialName or subjectAltNames are set; drop the verification settings or insecureSkipVerify');
    }
    if (mode === 'MUTUAL' && (str(t.caCertificates) || has(t, 'subjectAltNames'))) {
      c.error(at(p, 'insecureSkipVerify'), 'is true while caCertificates or subjectAltNames are set; drop the verification settings or insecureSkipVerify');
    }
  }
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && str(t.credentialName)) {
    if (str(t.clientCertificate) || str(t.caCertificates) || str(t.privateKey) || str(t.caCrl)) {
      c.error(at(p, 'credentialName'), 'is set together with certificate files (clientCertificate, privateKey, caCertificates or caCrl); use the credential or the files, not both');
    }
    return;
  }
  if (mode === 'MUTUAL') {
    if (!str(t.clientCertificate)) c.error(p, 'uses MUTUAL mode without clientCertificate; add it, or use credentialName');
    if (!str(t.privateKey)) c.error(p, 'uses MUTUAL mode without privateKey; add it, or use credentialName');
  }
}

const EJECTION_PERCENTS = ['maxEjectionPercent', 'minHealthPercent'] as const;

function checkOutlierDetection(c: Check, p: Ptr, outlier: unknown): void {
  const o = obj(outlier);
  if (!o) return;
  if (num(o.consecutiveErrors) !== 0) c.warning(at(p, 'consecutiveErrors'), 'is deprecated; use consecutiveGatewayErrors or consecutive5xxErrors');
  const localOrigin = num(obj(o.consecutiveLocalOriginFailures)?.value ?? o.consecutiveLocalOriginFailures);
  if (o.splitExternalLocalOriginErrors !== true && localOrigin > 0) {
    c.error(at(p, 'consecutiveLocalOriginFailures'), 'is set while splitExternalLocalOriginErrors is false, so it is never used; set splitExternalLocalOriginErrors: true');
  }
  for (const f of EJECTION_PERCENTS) {
    const v = num(o[f]);
    if (v < 0 || v > 100) c.error(at(p, f), `is ${v}; use a percentage from 0 to 100`);
  }
}

const HTTP_POOL_LIMITS = ['http1MaxPendingRequests', 'http2MaxRequests', 'maxRequestsPerConnection', 'maxRetries', 'maxConcurrentStreams'] as const;

function checkConnectionPool(c: Check, p: Ptr, pool: unknown): void {
  const cp = obj(pool);
  if (!cp) return;
  if (!has(cp, 'http') && !has(cp, 'tcp')) {
    c.error(p, 'is empty; set http or tcp settings, or remove it');
    return;
  }
  const http = obj(cp.http);
  if (http) {
    for (const f of HTTP_POOL_LIMITS) {
      if (num(http[f]) < 0) c.error(at(p, 'http', f), `is ${num(http[f])}; it cannot be negative`);
    }
    if (http.h2UpgradePolicy === 'UPGRADE' && http.useClientProtocol === true) c.error(at(p, 'http', 'useClientProtocol'), 'is true while h2UpgradePolicy is UPGRADE; use one of the two');
  }
  const tcp = obj(cp.tcp);
  if (tcp && num(tcp.maxConnections) < 0) c.error(at(p, 'tcp', 'maxConnections'), `is ${num(tcp.maxConnections)}; it cannot be negative`);
}

function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  const limit = Math.floor(Math.sqrt(x));
  for (let f = 3; f <= limit; f += 2) if (x % f === 0) return false;
  return true;
}

function localitiesProblem(localities: string[]): string | undefined {
  const seen = new Map<string, Map<string, Set<string>>>();
  for (const locality of localities) {
    const stars = (locality.match(/\*/g) ?? []).length;
    if (stars > 1 || (stars === 1 && !locality.endsWith('*'))) return `locality ${locality} may hold one * wildcard, at its end`;
    if (seen.has('*')) return `locality ${locality} overlaps an earlier one`;
    const items = locality.split('/', 3);
    if (items.some((x) => x === '')) return `locality ${locality} has an empty region, zone or subzone`;
    const [region, zone, sub] = items as [string, string?, string?];
    const zones = seen.get(region);
    if (items.length === 1) {
      if (zones) return `locality ${locality} overlaps an earlier one`;
      seen.set(region, new Map([['*', new Set(['*'])]]));
    } else if (items.length === 2) {
      if (zones) {
        if (zones.has('*') || zones.has(zone!)) return `locality ${locality} overlaps an earlier one`;
        zones.set(zone!, new Set(['*']));
      } else seen.set(region, new Map([[zone!, new Set(['*'])]]));
    } else if (zones) {
      if (zones.has('*')) return `locality ${locality} overlaps an earlier one`;
      const subs = zones.get(zone!);
      if (subs) {
        if (subs.has('*') || subs.has(sub!)) return `locality ${locality} overlaps an earlier one`;
        subs.add(sub!);
      } else zones.set(zone!, new Set([sub!]));
    } else seen.set(region, new Map([[zone!, new Set([sub!])]]));
  }
  return undefined;
}

const TOPOLOGY_LABELS = new Set(['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone']);

function checkLocalityLb(c: Check, p: Ptr, setting: unknown, hasOutlier: boolean): void {
  const lb = obj(setting);
  if (!lb) return;
  const distribute = list(lb.distribute);
  const failover = list(lb.failover);
  const priority = list(lb.failoverPriority).map(str);
  if (distribute.length && failover.length) {
    c.error(p, 'sets both distribute and failover; use one');
    return;
  }
  if (failover.length && priority.length) {
    const topo = priority.find((l) => TOPOLOGY_LABELS.has(l));
    if (topo) {
      c.error(at(p, 'failoverPriority'), `lists topology label ${topo} while failover is set; use one of the two`);
      return;
    }
  }
  const sources: string[] = [];
  for (const [i, raw] of distribute.entries()) {
    const d = obj(raw) ?? {};
    sources.push(str(d.from));
    let total = 0;
    for (const [loc, w] of entries(d.to)) {
      const weight = num(w);
      if (weight <= 0 || weight > 100) {
        c.error(at(p, 'distribute', i, 'to', loc), `has weight ${weight}; locality weights are 1-100`);
        return;
      }
      total += weight;
    }
    if (total !== 100) {
      c.error(at(p, 'distribute', i, 'to'), `has weights adding up to ${total}; make them add up to 100`);
      return;
    }
    const problem = localitiesProblem(Object.keys(obj(d.to) ?? {}));
    if (problem) c.error(at(p, 'distribute', i, 'to'), `is not usable: ${problem}; fix the localities`);
  }
  const problem = localitiesProblem(sources);
  if (problem) c.error(at(p, 'distribute'), `is not usable: ${problem}; fix the localities`);
  if ((failover.length || priority.length) && !hasOutlier) c.warning(p, 'configures failover without outlierDetection, which failover needs to detect unhealthy endpoints; add an outlierDetection policy');
  failover.forEach((raw, i) => {
    const f = obj(raw) ?? {};
    const fp = at(p, 'failover', i);
    if (str(f.from) === str(f.to)) c.error(fp, 'fails over from a region to itself; name two different regions');
    if (str(f.from).includes('/') || str(f.to).includes('/')) c.error(fp, 'names a zone; failover works between regions only');
    if (str(f.from).includes('*') || str(f.to).includes('*')) c.error(fp, 'uses a * wildcard; name the regions');
  });
}

function checkLoadBalancer(c: Check, p: Ptr, settings: unknown, hasOutlier: boolean): void {
  const lb = obj(settings);
  if (!lb) return;
  const hash = obj(lb.consistentHash);
  if (hash) {
    const hp = at(p, 'consistentHash');
    const cookie = obj(hash.httpCookie);
    if (cookie && !str(cookie.name)) c.error(at(hp, 'httpCookie'), 'has no name; name the cookie');
    if (num(hash.minimumRingSize) !== 0) {
      c.warning(at(hp, 'minimumRingSize'), 'is deprecated; use ringHash.minimumRingSize');
      if (has(hash, 'maglev') || has(hash, 'ringHash')) c.error(at(hp, 'minimumRingSize'), 'is set together with maglev or ringHash; keep one');
    }
    const maglev = obj(hash.maglev);
    if (maglev) {
      const size = num(maglev.tableSize);
      if (size === 0) c.error(at(hp, 'maglev'), 'has no tableSize; set it to a prime number below 5000011');
      else if (size >= 5000011) c.error(at(hp, 'maglev', 'tableSize'), `is ${size}; it must be below 5000011`);
      if (size !== 0 && !isPrime(size)) c.error(at(hp, 'maglev', 'tableSize'), `is ${size}, not a prime number; use a prime such as 65537`);
    }
  }
  checkLocalityLb(c, at(p, 'localityLbSetting'), lb.localityLbSetting, hasOutlier);
}

const TRAFFIC_POLICY_FIELDS = ['outlierDetection', 'connectionPool', 'loadBalancer', 'tls', 'portLevelSettings', 'tunnel', 'proxyProtocol'];

function checkTrafficPolicy(c: Check, p: Ptr, policy: unknown): void {
  const tp = obj(policy);
  if (!tp) return;
  if (!TRAFFIC_POLICY_FIELDS.some((f) => has(tp, f))) {
    c.error(p, 'is empty; set at least one policy or remove it');
    return;
  }
  if (has(tp, 'tunnel') && has(tp, 'proxyProtocol')) {
    c.error(p, 'sets both tunnel and proxyProtocol; use one');
    return;
  }
  // Each check returns at once when its field is not a mapping; skipping it then spares building its pointer.
  if (obj(tp.outlierDetection)) checkOutlierDetection(c, at(p, 'outlierDetection'), tp.outlierDetection);
  if (obj(tp.connectionPool)) checkConnectionPool(c, at(p, 'connectionPool'), tp.connectionPool);
  if (obj(tp.loadBalancer)) checkLoadBalancer(c, at(p, 'loadBalancer'), tp.loadBalancer, has(tp, 'outlierDetection'));
  if (obj(tp.tls)) checkClientTls(c, at(p, 'tls'), tp.tls);
  list(tp.portLevelSettings).forEach((raw, i) => {
    const pl = obj(raw);
    const pp = at(p, 'portLevelSettings', i);
    if (!pl) return;
    if (!has(pl, 'port')) c.error(pp, 'has no port; add port.number');
    if (!['outlierDetection', 'connectionPool', 'loadBalancer', 'tls'].some((f) => has(pl, f))) c.error(pp, 'sets no policy; add one or remove the entry');
    else {
      checkOutlierDetection(c, at(pp, 'outlierDetection'), pl.outlierDetection);
      checkConnectionPool(c, at(pp, 'connectionPool'), pl.connectionPool);
      checkLoadBalancer(c, at(pp, 'loadBalancer'), pl.loadBalancer, has(pl, 'outlierDetection'));
      checkClientTls(c, at(pp, 'tls'), pl.tls);
    }
  });
  const tunnel = obj(tp.tunnel);
  if (tunnel) {
    const tnp = at(p, 'tunnel');
    if (str(tunnel.protocol) && !['CONNECT', 'POST'].includes(str(tunnel.protocol))) c.error(at(tnp, 'protocol'), `is ${JSON.stringify(tunnel.protocol)}; use CONNECT or POST`);
    const host = str(tunnel.targetHost);
    if (fqdnProblem(host) && !isIpAddress(host)) c.error(at(tnp, 'targetHost'), `is ${JSON.stringify(host)}, neither a host name nor an IP; fix it`);
    checkPort(c, at(tnp, 'targetPort'), tunnel.targetPort);
  }
}

const checkDestinationRule: SemanticRule = (r, sink) => {
  const c = new Check(r, sink);
  const spec = obj(r.spec) ?? {};
  const problem = wildcardDomainProblem(str(spec.host));
  if (problem) c.error('/spec/host', `is ${JSON.stringify(str(spec.host))}, not a valid host (${problem}); name the service host`);
  checkTrafficPolicy(c, '/spec/trafficPolicy', spec.trafficPolicy);
  const subsets = list(spec.subsets);
  for (let i = 0; i < subsets.length; i++) {
    const s = obj(subsets[i]);
    if (!s) continue;
    const name = str(s.name);
    if (!name || !isDns1123Label(name)) checkSubsetName(c, at('/spec/subsets', i, 'name'), name);
    if (obj(s.labels)) checkLabels(c, at('/spec/subsets', i, 'labels'), s.labels);
    if (obj(s.trafficPolicy)) checkTrafficPolicy(c, at('/spec/subsets', i, 'trafficPolicy'), s.trafficPolicy);
  }
  checkExportTo(c, '/spec/exportTo', spec.exportTo, false, has(spec, 'workloadSelector'));
  checkWorkloadSelector(c, '/spec/workloadSelector', spec.workloadSelector);
};

// ---------------------------------------------------------------------------------------------------------
// Gateway

function partialWildcard(host: string): boolean {
  return host.includes('*') && host.length !== 1 && !host.startsWith('*.');
}

function checkHostnamePart(c: Check, p: Ptr, hostname: string, gateway: boolean): void {
  if (hostname !== '*' && !hostname.includes('.')) c.error(p, `uses the short name ${JSON.stringify(hostname)}; write the fully qualified name (with its domain)`);
  const problem = wildcardDomainProblem(hostname);
  if (problem && !(gateway && isIpAddress(hostname))) c.error(p, `is not a valid host: ${problem}; fix it`);
  if (partialWildcard(hostname)) c.error(p, `uses a partial wildcard (${hostname}); use * alone or as the first label (*.example.com)`);
}

function checkNamespacedHost(c: Check, p: Ptr, host: string, gateway: boolean): void {
  const slash = host.indexOf('/');
  if (slash === -1) {
    if (gateway) checkHostnamePart(c, p, host, true);
    else c.error(p, `is ${JSON.stringify(host)}; write it as <namespace>/<host> (./ for the same namespace, */ for any)`);
    return;
  }
  const ns = host.slice(0, slash);
  const name = host.slice(slash + 1);
  if (!ns || !name) c.error(p, `is ${JSON.stringify(host)}, with an empty namespace or host; write <namespace>/<host>`);
  const okNs = ns === '*' || ns === '.' || (!gateway && ns === '~') || isDns1123Label(ns);
  if (!okNs) c.error(p, `has ${JSON.stringify(ns)} as its namespace; use *, ., or a namespace name`);
  checkHostnamePart(c, p, name, gateway);
}

function hasCredentials(t: Json): boolean {
  return !!str(t.credentialName) || list(t.credentialNames).length > 0 || list(t.tlsCertificates).length > 0;
}

function checkServerTls(c: Check, p: Ptr, tls: unknown): void {
  const t = obj(tls);
  if (!t) return;
  const mode = str(t.mode) || 'PASSTHROUGH';
  if ((t.minProtocolVersion === 'TLSV1_0' || t.minProtocolVersion === 'TLSV1_1') && !list(t.cipherSuites).length) {
    c.warning(at(p, 'minProtocolVersion'), 'allows TLS below 1.2, whose ciphers are no longer enabled by default; also set compatible cipherSuites');
  }
  const ciphers = list(t.cipherSuites).map(str);
  const dup = ciphers.find((x, i) => ciphers.indexOf(x) !== i);
  if (dup) c.warning(at(p, 'cipherSuites'), `lists ${dup} more than once; the duplicate is ignored`);
  if (mode === 'ISTIO_MUTUAL') {
    for (const f of ['serverCertificate', 'privateKey', 'caCertificates', 'credentialName'] as const) {
      if (str(t[f])) c.error(at(p, f), 'is set with ISTIO_MUTUAL mode, which uses the mesh certificates; remove it');
    }
    return;
  }
  if ((mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') && (str(t.caCrl) || str(t.serverCertificate) || str(t.privateKey) || str(t.caCertificates) || str(t.credentialName))) {
    c.warning(p, `sets certificates, which ${mode} mode does not use; remove them`);
  }
  if ((mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') && hasCredentials(t)) {
    if (str(t.caCrl) && str(t.credentialName)) c.error(at(p, 'caCrl'), 'is set with credentialName; put the CRL in the credential instead');
    return;
  }
  if (mode === 'SIMPLE') {
    if (!str(t.serverCertificate)) c.error(p, 'uses SIMPLE mode without serverCertificate; add it, or use credentialName');
    if (!str(t.privateKey)) c.error(p, 'uses SIMPLE mode without privateKey; add it, or use credentialName');
  } else if (mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') {
    if (!str(t.serverCertificate)) c.error(p, `uses ${mode} mode without serverCertificate; add it, or use credentialName`);
    if (!str(t.privateKey)) c.error(p, `uses ${mode} mode without privateKey; add it, or use credentialName`);
    if (!str(t.caCertificates)) c.error(p, `uses ${mode} mode without caCertificates for client certificates; add it, or use credentialName`);
  }
  if (str(t.caCrl) && mode === 'SIMPLE') c.error(at(p, 'caCrl'), 'is set with SIMPLE mode, which does not verify clients; remove it');
}

const checkGateway: SemanticRule = (r, sink) => {
  const c = new Check(r, sink);
  const spec = obj(r.spec) ?? {};
  if (!isDns1123Label(r.name)) c.error('/metadata/name', `is ${JSON.stringify(r.name)}, but a Gateway name must be a DNS label (no dots); rename it`);
  const servers = list(spec.servers);
  if (!servers.length) c.error('/spec', 'has no servers; add at least one server with a port and hosts');
  const portNames = new Map<string, number>();
  servers.forEach((raw, i) => {
    const s = obj(raw);
    const sp = at('/spec/servers', i);
    if (!s) return;
    const hosts = list(s.hosts).map(str);
    if (!hosts.length) c.error(sp, 'has no hosts; list the hosts it serves (* for any)');
    hosts.forEach((h, j) => checkNamespacedHost(c, at(sp, 'hosts', j), h, true));
    const port = obj(s.port);
    const bind = str(s.bind);
    let portOk = true;
    if (!port) {
      c.error(sp, 'has no port; add port.number, port.name and port.protocol');
      portOk = false;
    } else {
      if (!parseProtocol(port.protocol)) {
        c.error(at(sp, 'port', 'protocol'), `is ${JSON.stringify(port.protocol ?? '')}, not a supported protocol; use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, REDIS or MYSQL`);
        portOk = false;
      }
      if (num(port.number) > 0 || !bind.startsWith('unix://')) {
        const n = num(port.number);
        if (!(n >= 1 && n <= 65535)) {
          c.error(at(sp, 'port', 'number'), `is ${n}, not a port number; use 1-65535`);
          portOk = false;
        }
      }
      if (num(port.targetPort) > 0) {
        c.error(at(sp, 'port', 'targetPort'), 'has no effect on a Gateway; remove it');
        portOk = false;
      }
      if (!str(port.name)) {
        c.error(at(sp, 'port'), 'has no name; name the port');
        portOk = false;
      }
    }
    if (bind.startsWith('unix://')) {
      const path = bind.slice('unix://'.length);
      if (!path || (!path.startsWith('@') && (!path.startsWith('/') || path.endsWith('/')))) c.error(at(sp, 'bind'), `is ${JSON.stringify(bind)}, not an absolute socket path; use unix:///path/to/socket`);
      if (port && num(port.number) !== 0) c.error(at(sp, 'port', 'number'), 'must be 0 when the server binds a unix domain socket; set it to 0');
    } else if (bind && !isIpAddress(bind)) c.error(at(sp, 'bind'), `is ${JSON.stringify(bind)}, not an IP address; bind an IP or unix:// path`);
    checkServerTls(c, at(sp, 'tls'), s.tls);
    if (portOk && port) {
      const proto = parseProtocol(port.protocol);
      const tls = obj(s.tls);
      if (isTlsProtocol(proto) && !tls) c.error(sp, `serves ${proto} without tls settings; add tls (mode and credentialName)`);
      else if (!isTlsProtocol(proto) && tls) {
        if (isHttpProtocol(proto)) {
          const passthrough = !tls.mode || tls.mode === 'PASSTHROUGH' || tls.mode === 'AUTO_PASSTHROUGH';
          if (!passthrough || str(tls.caCertificates) || str(tls.privateKey) || str(tls.serverCertificate)) {
            c.error(at(sp, 'tls'), `configures TLS on a plain-text ${proto} port, where only httpsRedirect is allowed; use protocol HTTPS or keep only httpsRedirect`);
          }
        } else c.error(at(sp, 'tls'), `configures TLS on a ${proto} port; use protocol TLS or HTTPS, or remove tls`);
      }
    }
    if (port) {
      const name = str(port.name);
      if (portNames.has(name)) c.error(at(sp, 'port', 'name'), `repeats port name ${JSON.stringify(name)} of server ${portNames.get(name)}; give each server port its own name`);
      else portNames.set(name, i);
      if (!isHttpProtocol(parseProtocol(port.protocol)) && obj(s.tls)?.httpsRedirect === true) {
        c.warning(at(sp, 'tls', 'httpsRedirect'), 'only works on HTTP servers; remove it');
      }
    }
  });
};

// ---------------------------------------------------------------------------------------------------------
// ServiceEntry and WorkloadEntry

function checkWorkloadEntry(c: Check, p: Ptr, we: Json, servicePorts: Set<string> | undefined, allowFqdn: boolean): void {
  const addr = str(we.address);
  if (!addr) {
    if (!str(we.network)) {
      c.error(p, 'has no address; set address (or network)');
      return;
    }
    c.warning(p, `has no address, only network ${JSON.stringify(we.network)}; add the address if it is reachable`);
  }
  let unix = false;
  if (addr.startsWith('unix://')) {
    unix = true;
    const path = addr.slice('unix://'.length);
    if (!path || (!path.startsWith('@') && (!path.startsWith('/') || path.endsWith('/')))) c.error(at(p, 'address'), `is ${JSON.stringify(addr)}, not an absolute socket path; use unix:///path`);
    if (Object.keys(obj(we.ports) ?? {}).length) c.error(at(p, 'ports'), 'is set for a unix socket endpoint, which has no ports; remove it');
  } else if (addr && !isIpAddress(addr)) {
    if (!allowFqdn) c.error(at(p, 'address'), `is ${JSON.stringify(addr)}, not an IP address; STATIC resolution needs IPs (use resolution DNS for names)`);
    else if (fqdnProblem(addr)) c.error(at(p, 'address'), `is ${JSON.stringify(addr)}, neither a host name nor an IP; fix it`);
  }
  for (const [name, port] of entries(we.ports)) {
    const pp = at(p, 'ports', name);
    if (servicePorts && !servicePorts.has(name)) c.error(pp, `names port ${JSON.stringify(name)}, which the ServiceEntry does not define; use one of its port names`);
    if (!isDns1123Label(name)) c.error(pp, `names port ${JSON.stringify(name)}, not a valid port name; use a DNS label`);
    checkPort(c, pp, port);
  }
  checkLabels(c, at(p, 'labels'), we.labels);
  if (unix && servicePorts && servicePorts.size !== 1) c.error(p, 'is a unix socket endpoint, which needs exactly one service port; define one port');
}

const checkServiceEntry: SemanticRule = (r, sink) => {
  const c = new Check(r, sink);
  const spec = obj(r.spec) ?? {};
  if (!checkAlphaWorkloadSelector(c, '/spec/workloadSelector', spec.workloadSelector, 'all workloads in the namespace')) return;
  const resolution = str(spec.resolution) || 'NONE';
  if (has(spec, 'workloadSelector') && has(spec, 'endpoints')) c.error('/spec', 'sets both workloadSelector and endpoints; keep one');
  const hosts = list(spec.hosts).map(str);
  if (!hosts.length) c.error('/spec', 'has no hosts; list the host names of the service');
  hosts.forEach((h, i) => {
    const hp = at('/spec/hosts', i);
    if (h === '*') {
      c.error(hp, 'is *, which a ServiceEntry cannot use; name the hosts');
      return;
    }
    const problem = wildcardDomainProblem(h);
    if (problem) c.error(hp, `is ${JSON.stringify(h)}, not a valid host (${problem}); fix it`);
    if (partialWildcard(h)) c.warning(hp, `uses a partial wildcard (${h}); use a *. prefix only`);
  });
  let cidr = false;
  list(spec.addresses).forEach((a, i) => {
    cidr ||= str(a).includes('/');
    const problem = ipSubnetProblem(str(a));
    if (problem) c.error(at('/spec/addresses', i), `is not usable: ${problem}; use an IP or CIDR block`);
  });
  if (cidr && resolution !== 'NONE' && resolution !== 'STATIC') c.error('/spec/addresses', `holds a CIDR block, which only resolution NONE or STATIC allows (not ${resolution}); use single IPs or change the resolution`);
  const portNames = new Set<string>();
  const portNumbers = new Set<number>();
  list(spec.ports).forEach((raw, i) => {
    const port = obj(raw);
    const pp = at('/spec/ports', i);
    if (!port) return;
    const name = str(port.name);
    // Duplicate names are reported by the schema (ports is a map keyed by name).
    portNames.add(name);
    if (portNumbers.has(num(port.number))) c.error(at(pp, 'number'), `repeats port ${num(port.number)}; define each port once`);
    portNumbers.add(num(port.number));
    if (num(port.targetPort) !== 0) checkPort(c, at(pp, 'targetPort'), port.targetPort);
    if (!isDns1123Label(name)) c.error(at(pp, 'name'), `is ${JSON.stringify(name)}, not a valid port name; use a DNS label`);
    if (str(port.protocol) && !parseProtocol(port.protocol)) c.error(at(pp, 'protocol'), `is ${JSON.stringify(port.protocol)}, not a supported protocol; use HTTP, HTTPS, HTTP2, GRPC, TCP, TLS, MONGO, REDIS or MYSQL`);
    checkPort(c, at(pp, 'number'), port.number);
  });
  const endpoints = list(spec.endpoints);
  switch (resolution) {
    case 'NONE':
      if (endpoints.length) c.error('/spec/endpoints', 'is set with resolution NONE, which ignores endpoints; remove them or use STATIC or DNS');
      if (has(spec, 'workloadSelector')) c.warning('/spec/workloadSelector', 'is set with resolution NONE, where it has no effect; remove it');
      break;
    case 'STATIC':
      endpoints.forEach((raw, i) => {
        const e = obj(raw);
        if (e) checkWorkloadEntry(c, at('/spec/endpoints', i), e, portNames, false);
      });
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      if (!endpoints.length) {
        hosts.forEach((h, i) => {
          if (h !== '*' && fqdnProblem(h)) c.error(at('/spec/hosts', i), `is ${JSON.stringify(h)}, but resolution ${resolution} without endpoints needs fully qualified host names; name the host or add endpoints`);
        });
      }
      if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) c.error('/spec/endpoints', 'lists more than one endpoint, but DNS_ROUND_ROBIN allows at most one; keep one or use DNS');
      endpoints.forEach((raw, i) => {
        const e = obj(raw);
        if (!e) return;
        const ep = at('/spec/endpoints', i);
        const addr = str(e.address);
        if (!isIpAddress(addr) && fqdnProblem(addr)) c.error(at(ep, 'address'), `is ${JSON.stringify(addr)}, neither a host name nor an IP; fix it`);
        checkLabels(c, at(ep, 'labels'), e.labels);
        for (const [name, port] of entries(e.ports)) {
          const pp = at(ep, 'ports', name);
          if (!portNames.has(name)) c.error(pp, `names port ${JSON.stringify(name)}, which the ServiceEntry does not define; use one of its port names`);
          if (!isDns1123Label(name)) c.error(pp, `names port ${JSON.stringify(name)}, not a valid port name; use a DNS label`);
          checkPort(c, pp, port);
        }
      });
      if (has(spec, 'workloadSelector')) c.warning('/spec/workloadSelector', `is set with resolution ${resolution}, where it has no effect; remove it`);
      if (list(spec.addresses).length && hosts.length > 1 && list(spec.ports).some((pt) => isTcpProtocol(parseProtocol(obj(pt)?.protocol)))) {
        c.warning('/spec/hosts', 'lists several hosts with addresses and a TCP port, which cannot tell the hosts apart; use one host per ServiceEntry');
      }
      break;
    default:
      break;
  }
  if (resolution !== 'NONE' && hosts.length > 1) {
    const i = list(spec.ports).findIndex((pt) => {
      const proto = parseProtocol(obj(pt)?.protocol);
      return !isHttpProtocol(proto) && !isTlsProtocol(proto);
    });
    if (i !== -1) c.error(at('/spec/ports', i), `is not HTTP or TLS, so with several hosts and resolution ${resolution} the proxy cannot tell the hosts apart; use one host per ServiceEntry or an HTTP/TLS protocol`);
  }
  checkExportTo(c, '/spec/exportTo', spec.exportTo, true);
};

const checkWorkloadEntryKind: SemanticRule = (r, sink) => {
  const c = new Check(r, sink);
  checkWorkloadEntry(c, '/spec', obj(r.spec) ?? {}, undefined, true);
};

// ---------------------------------------------------------------------------------------------------------
// Sidecar

function checkSidecarPort(c: Check, p: Ptr, port: Json, allowUds: boolean, bind: string, captureMode: string): void {
  if (str(port.name) && !isDns1123Label(str(port.name))) c.error(at(p, 'name'), `is ${JSON.stringify(port.name)}, not a valid port name; use a DNS label`);
  if (str(port.protocol) && !parseProtocol(port.protocol)) c.error(at(p, 'protocol'), `is ${JSON.stringify(port.protocol)}, not a supported protocol; fix it`);
  if (allowUds && num(port.number) === 0) {
    if (!bind.startsWith('unix://')) c.error(at(p, 'number'), 'is 0, which needs a unix:// bind address; set a port number or bind a unix socket');
    if (captureMode && captureMode !== 'DEFAULT' && captureMode !== 'NONE') c.error(at(p, 'number'), 'is 0 (a unix socket listener), which needs captureMode DEFAULT or NONE; change the capture mode');
    return;
  }
  checkPort(c, at(p, 'number'), port.number);
  if (bind && !bind.startsWith('unix://') && !isIpAddress(bind)) c.error(p, `binds ${JSON.stringify(bind)}, not an IP address; fix the bind`);
}

const checkSidecar: SemanticRule = (r, sink) => {
  const c = new Check(r, sink);
  const spec = obj(r.spec) ?? {};
  if (!checkAlphaWorkloadSelector(c, '/spec/workloadSelector', spec.workloadSelector, 'all workloads in the namespace')) return;
  const ingress = list(spec.ingress);
  const egress = list(spec.egress);
  if (!ingress.length && !egress.length && !has(spec, 'outboundTrafficPolicy') && !has(spec, 'inboundConnectionPool')) {
    c.error('/spec', 'configures nothing; add ingress, egress or outboundTrafficPolicy');
    return;
  }
  const ports = new Set<number>();
  ingress.forEach((raw, i) => {
    const ing = obj(raw);
    const ip = at('/spec/ingress', i);
    if (!ing) return;
    const port = obj(ing.port);
    if (!port) {
      c.error(ip, 'has no port; add port.number and port.protocol');
      return;
    }
    if (num(port.targetPort) > 0) c.error(at(ip, 'port', 'targetPort'), 'has no effect on a Sidecar; remove it');
    checkSidecarPort(c, at(ip, 'port'), port, false, str(ing.bind), '');
    if (ports.has(num(port.number))) c.error(at(ip, 'port', 'number'), `repeats port ${num(port.number)}; each ingress listener needs its own port`);
    ports.add(num(port.number));
    const endpoint = str(ing.defaultEndpoint);
    if (endpoint) {
      const ep = at(ip, 'defaultEndpoint');
      if (endpoint.startsWith('unix://')) {
        const path = endpoint.slice('unix://'.length);
        if (!path || (!path.startsWith('@') && (!path.startsWith('/') || path.endsWith('/')))) c.error(ep, `is ${JSON.stringify(endpoint)}, not an absolute socket path; use unix:///path`);
      } else {
        const m = /^(?:\[([^\]]*)\]|([^:]*)):([^:]*)$/.exec(endpoint);
        if (!m) c.error(ep, `is ${JSON.stringify(endpoint)}; use 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix:///path`);
        else {
          const host = m[1] ?? m[2] ?? '';
          if (host && !['127.0.0.1', '0.0.0.0', '::1', '::'].includes(host)) c.error(ep, `is ${JSON.stringify(endpoint)}; use 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix:///path`);
          if (!/^\d+$/.test(m[3]!)) c.error(ep, `has port ${JSON.stringify(m[3])}, not a number; fix it`);
          else checkPort(c, ep, Number(m[3]));
        }
      }
    }
    const tls = obj(ing.tls);
    if (tls) {
      const tp = at(ip, 'tls');
      if (list(tls.subjectAltNames).length) c.error(at(tp, 'subjectAltNames'), 'is not supported on sidecar ingress; remove it');
      if (tls.httpsRedirect === true) c.error(at(tp, 'httpsRedirect'), 'is not supported on sidecar ingress; remove it');
      if (str(tls.credentialName)) c.error(at(tp, 'credentialName'), 'is not supported on sidecar ingress; use certificate files');
      if (tls.mode === 'ISTIO_MUTUAL' || tls.mode === 'AUTO_PASSTHROUGH') c.error(at(tp, 'mode'), `is ${String(tls.mode)}, which sidecar ingress does not support; use SIMPLE or MUTUAL`);
      checkServerTls(c, tp, tls);
    }
    checkConnectionPool(c, at(ip, 'connectionPool'), ing.connectionPool);
    if (has(obj(ing.connectionPool), 'http') && !isHttpProtocol(parseProtocol(port.protocol))) {
      c.warning(at(ip, 'connectionPool', 'http'), `is set for port ${num(port.number)}, whose protocol is not HTTP, so only the TCP settings apply; remove it`);
    }
  });
  checkConnectionPool(c, '/spec/inboundConnectionPool', spec.inboundConnectionPool);
  const egressPorts = new Set<number>();
  const sockets = new Set<string>();
  let catchAll = false;
  egress.forEach((raw, i) => {
    const eg = obj(raw);
    const ep = at('/spec/egress', i);
    if (!eg) return;
    const port = obj(eg.port);
    if (!port) {
      if (!catchAll) {
        if (i === egress.length - 1) catchAll = true;
        else c.error(ep, 'has no port, which makes it the catch-all listener, and that must be the last egress listener; move it to the end');
      } else {
        c.error(ep, 'is a second egress listener without a port; only one catch-all listener is allowed');
        return;
      }
    } else {
      if (num(port.targetPort) > 0) c.error(at(ep, 'port', 'targetPort'), 'has no effect on a Sidecar; remove it');
      const bind = str(eg.bind);
      checkSidecarPort(c, at(ep, 'port'), port, true, bind, str(eg.captureMode));
      if (num(port.number) === 0) {
        if (sockets.has(bind)) c.error(at(ep, 'bind'), `repeats unix socket ${bind}; each listener needs its own`);
        sockets.add(bind);
      } else {
        if (egressPorts.has(num(port.number))) c.error(at(ep, 'port', 'number'), `repeats port ${num(port.number)}; each egress listener needs its own port`);
        egressPorts.add(num(port.number));
      }
    }
    const hosts = list(eg.hosts).map(str);
    if (!hosts.length) c.error(ep, 'has no hosts; list the hosts it may reach (namespace/host)');
    const byNs = new Map<string, Set<string>>();
    hosts.forEach((h, j) => {
      const hp = at(ep, 'hosts', j);
      const slash = h.indexOf('/');
      if (slash !== -1) {
        let ns = h.slice(0, slash);
        const svc = h.slice(slash + 1);
        if (ns === '.') ns = r.namespace;
        const known = byNs.get(ns) ?? new Set<string>();
        byNs.set(ns, known);
        if (svc !== '*' ? known.has(svc) || known.has('*') : known.size > 0) c.warning(hp, `repeats host ${h}, which an earlier entry already covers; remove it`);
        known.add(svc);
      }
      checkNamespacedHost(c, hp, h, false);
    });
    if (byNs.get('*')?.has('*') && byNs.size !== 1) c.warning(at(ep, 'hosts'), 'lists */* with other hosts; */* already selects everything, so keep it alone');
  });
  const otp = obj(spec.outboundTrafficPolicy);
  const proxy = obj(otp?.egressProxy);
  if (otp && proxy) {
    const pp = '/spec/outboundTrafficPolicy/egressProxy';
    if ((str(otp.mode) || 'REGISTRY_ONLY') !== 'ALLOW_ANY') c.error(pp, 'is set while mode is not ALLOW_ANY; set mode: ALLOW_ANY or remove it');
    else {
      const problem = fqdnProblem(str(proxy.host));
      if (problem) c.error(at(pp, 'host'), `is ${JSON.stringify(str(proxy.host))}, not a valid host (${problem}); fix it`);
      if (!has(proxy, 'port')) c.error(pp, 'has no port; add port.number');
      else checkDestination(c, pp, proxy);
    }
  }
};

// ---------------------------------------------------------------------------------------------------------
// Security

function cidrOrIpProblem(v: string): string | undefined {
  return ipSubnetProblem(v);
}

const checkAuthorizationPolicy: SemanticRule = (r, sink) => {
  const c = new Check(r, sink);
  const spec = obj(r.spec) ?? {};
  checkSelectorOrTargets(c, spec);
  const action = str(spec.action) || 'ALLOW';
  const rules = spec.rules;
  if (action === 'CUSTOM') {
    if (rules === undefined || rules === null) c.error('/spec', 'uses action CUSTOM without rules, so it never applies; add rules (an empty rule {} matches every request)');
    else if (!str(obj(spec.provider)?.name)) c.error('/spec/provider', 'has no name; name the extension provider for the CUSTOM action');
    list(rules).forEach((raw, i) => {
      const rule = obj(raw) ?? {};
      list(rule.from).forEach((f, j) => {
        const src = obj(obj(f)?.source);
        if (!src) return;
        for (const k of ['namespaces', 'notNamespaces', 'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals'] as const) {
          if (list(src[k]).length) c.error(at(at('/spec/rules', i, 'from', j), 'source', k), 'is not supported with the CUSTOM action; remove it');
        }
      });
      list(rule.when).forEach((w, j) => {
        const key = str(obj(w)?.key);
        if (key === 'source.namespace' || key === 'source.principal' || key.startsWith('request.auth.')) c.error(at('/spec/rules', i, 'when', j, 'key'), `is ${key}, which the CUSTOM action does not support; remove the condition`);
      });
    });
  }
  if (has(spec, 'provider') && action !== 'CUSTOM') c.error('/spec/provider', `is set while action is ${action}; a provider needs action CUSTOM, so remove it`);
  if (action === 'DENY' && (rules === undefined || rules === null)) c.error('/spec', 'uses action DENY without rules, so it never applies; add rules (an empty rule {} matches every request)');
  list(rules).forEach((raw, i) => {
    const rp = at('/spec/rules', i);
    const rule = obj(raw);
    if (!rule) {
      if (raw === null) c.error(rp, 'is null; remove it or write {}');
      return;
    }
    if (Array.isArray(rule.from) && rule.from.length === 0) c.error(at(rp, 'from'), 'is an empty list; remove it or add sources');
    let tcpInFrom = false;
    let tcpInTo = false;
    let fromExists = false;
    let toExists = false;
    list(rule.from).forEach((f, j) => {
      const fp = at(rp, 'from', j);
      const src = obj(obj(f)?.source);
      if (!src) {
        c.error(fp, 'has no source; add source');
        return;
      }
      fromExists = true;
      const keys = [
        'principals', 'requestPrincipals', 'namespaces', 'ipBlocks', 'remoteIpBlocks', 'notPrincipals', 'notRequestPrincipals', 'notNamespaces',
        'notIpBlocks', 'notRemoteIpBlocks', 'serviceAccounts', 'notServiceAccounts',
      ];
      if (!keys.some((k) => list(src[k]).length)) c.error(at(fp, 'source'), 'is empty; add principals, namespaces, ipBlocks or their not- forms');
      for (const k of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) {
        list(src[k]).forEach((v, n) => {
          const problem = cidrOrIpProblem(str(v));
          if (problem) c.error(at(fp, 'source', k, n), `is not usable: ${problem}; use an IP or CIDR block`);
        });
      }
      for (const k of keys) {
        list(src[k]).forEach((v, n) => {
          if (str(v) === '') c.error(at(fp, 'source', k, n), 'is an empty string; remove it');
        });
      }
      if ((list(src.serviceAccounts).length || list(src.notServiceAccounts).length) && (list(src.namespaces).length || list(src.notNamespaces).length || list(src.principals).length || list(src.notPrincipals).length)) {
        c.error(at(fp, 'source'), 'sets serviceAccounts together with namespaces or principals; use serviceAccounts alone');
      }
      const tcpKeys = ['notPrincipals', 'principals', 'ipBlocks', 'notIpBlocks', 'namespaces', 'notNamespaces', 'remoteIpBlocks', 'notRemoteIpBlocks', 'serviceAccounts', 'notServiceAccounts'];
      if (tcpKeys.some((k) => src[k] !== undefined)) tcpInFrom = true;
    });
    if (Array.isArray(rule.to) && rule.to.length === 0) c.error(at(rp, 'to'), 'is an empty list; remove it or add operations');
    list(rule.to).forEach((t, j) => {
      const tp = at(rp, 'to', j);
      const op = obj(obj(t)?.operation);
      if (!op) {
        c.error(tp, 'has no operation; add operation');
        return;
      }
      toExists = true;
      const keys = ['ports', 'methods', 'paths', 'hosts', 'notPorts', 'notMethods', 'notPaths', 'notHosts'];
      if (!keys.some((k) => list(op[k]).length)) c.error(at(tp, 'operation'), 'is empty; add hosts, ports, methods, paths or their not- forms');
      for (const k of ['ports', 'notPorts']) {
        list(op[k]).forEach((v, n) => {
          const s = str(v);
          if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 65535) c.error(at(tp, 'operation', k, n), `is ${JSON.stringify(v)}, not a port number; use "1"-"65535"`);
        });
      }
      for (const k of keys) {
        list(op[k]).forEach((v, n) => {
          if (str(v) === '') c.error(at(tp, 'operation', k, n), 'is an empty string; remove it');
        });
      }
      if (op.ports !== undefined || op.notPorts !== undefined) tcpInTo = true;
    });
    list(rule.when).forEach((w, j) => {
      const cond = obj(w) ?? {};
      const wp = at(rp, 'when', j);
      if (!str(cond.key)) c.error(wp, 'has no key; name the attribute to test');
      else if (!list(cond.values).length && !list(cond.notValues).length) c.error(wp, `tests ${str(cond.key)} without values or notValues; add one of them`);
    });
    if (((fromExists && !toExists && !tcpInFrom) || (toExists && !tcpInTo)) && action === 'DENY') {
      c.warning(rp, 'denies with HTTP-only attributes, which denies all traffic to TCP ports in scope; also name the ports');
    }
  });
};

const checkPeerAuthentication: SemanticRule = (r, sink) => {
  const c = new Check(r, sink);
  const spec = obj(r.spec) ?? {};
  const emptySelector = !Object.keys(obj(obj(spec.selector)?.matchLabels) ?? {}).length;
  const portLevel = obj(spec.portLevelMtls);
  if (emptySelector && portLevel && Object.keys(portLevel).length) c.error('/spec/portLevelMtls', 'is set on a mesh- or namespace-wide policy (no selector); add a selector or remove it');
  if (portLevel && !Object.keys(portLevel).length) c.error('/spec/portLevelMtls', 'is empty; remove it or add ports');
  for (const port of Object.keys(portLevel ?? {})) {
    const n = Number(port);
    if (!/^\d+$/.test(port) || n <= 0 || n > 65535) c.error(at('/spec/portLevelMtls', port), `is keyed by ${JSON.stringify(port)}, not a port number; use 1-65535`);
  }
  checkWorkloadSelector(c, '/spec/selector', spec.selector);
};

const checkRequestAuthentication: SemanticRule = (r, sink) => {
  const c = new Check(r, sink);
  const spec = obj(r.spec) ?? {};
  checkSelectorOrTargets(c, spec);
  list(spec.jwtRules).forEach((raw, i) => {
    const rule = obj(raw);
    const rp = at('/spec/jwtRules', i);
    if (!rule) return;
    if (!str(rule.issuer)) c.error(rp, 'has no issuer; add the token issuer');
    list(rule.audiences).forEach((a, j) => {
      if (!str(a)) c.error(at(rp, 'audiences', j), 'is an empty string; remove it');
    });
    if (str(rule.jwksUri)) {
      let ok = false;
      try {
        const u = new URL(str(rule.jwksUri));
        ok = u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        ok = false;
      }
      if (!ok) c.error(at(rp, 'jwksUri'), `is ${JSON.stringify(rule.jwksUri)}, not an http(s) URL; fix it`);
    }
    if (str(rule.jwks)) {
      try {
        JSON.parse(str(rule.jwks));
      } catch {
        c.error(at(rp, 'jwks'), 'is not a JSON Web Key Set; paste valid JWKS JSON');
      }
    }
    list(rule.fromHeaders).forEach((h, j) => {
      if (!str(obj(h)?.name)) c.error(at(rp, 'fromHeaders', j), 'has no name; name the header');
    });
    list(rule.fromParams).forEach((q, j) => {
      if (!str(q)) c.error(at(rp, 'fromParams', j), 'is an empty string; name the query parameter');
    });
    list(rule.fromCookies).forEach((q, j) => {
      if (!str(q)) c.error(at(rp, 'fromCookies', j), 'is an empty string; name the cookie');
    });
    list(rule.outputClaimToHeaders).forEach((h, j) => {
      const o = obj(h) ?? {};
      const hp = at(rp, 'outputClaimToHeaders', j);
      if (!str(o.claim) || !str(o.header)) c.error(hp, 'needs both claim and header; add the missing one');
      else if (!VALID_HEADER.test(str(o.header))) c.error(at(hp, 'header'), `names header ${JSON.stringify(o.header)}, which is not a valid header name; use letters, digits, - and _`);
    });
  });
};

/** Istio's validation per kind id (K in kinds.ts). */
export const SEMANTIC_RULES: Partial<Record<string, SemanticRule>> = {
  [K.VirtualService]: checkVirtualService,
  [K.DestinationRule]: checkDestinationRule,
  [K.Gateway]: checkGateway,
  [K.ServiceEntry]: checkServiceEntry,
  [K.WorkloadEntry]: checkWorkloadEntryKind,
  [K.Sidecar]: checkSidecar,
  [K.AuthorizationPolicy]: checkAuthorizationPolicy,
  [K.PeerAuthentication]: checkPeerAuthentication,
  [K.RequestAuthentication]: checkRequestAuthentication,
};
