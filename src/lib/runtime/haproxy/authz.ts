// AuthorizationPolicy on a sidecar's inbound listener (and an ingress proxy's listeners), compiled to
// ACLs with Istio's semantics:
// AUDIT marks the log, then DENY (any matching rule answers 403), then ALLOW (with ALLOW policies
// present, a request no rule matches is answered 403). CUSTOM needs an external authorizer the local
// mesh does not run (local-enforcement.ts says so). A proxy with no policy gets no rule at all.
//
// The peer's identity is the SPIFFE ID of its verified client certificate (`sess.peer`, read once per
// connection by the inbound listener); a plaintext peer has none, so principal and namespace values
// never match it and their not-forms always do, as with Envoy.
import { isIP } from 'node:net';
import { ruleId, type AuthorizationCondition, type AuthorizationPolicySpec, type AuthorizationRule, type WorkloadAuthorization } from '../../policy/authorization.js';
import { regexLiteral, word } from './config.js';

export const RBAC_DENIED_BODY = 'RBAC: access denied';

/** What the compiled rules read of the workload: Envoy's destination port is the port the workload serves. */
export interface AuthorizationTarget {
  destinationPort: number | null;
  /**
   * Envoy's remote address: on a sidecar's inbound (use_remote_address off) the last X-Forwarded-For
   * address, on a gateway (use_remote_address on, no trusted hops) the peer's own address.
   */
  remoteAddress: 'forwarded-for' | 'peer';
}

export interface CompiledAuthorization {
  /** Inbound frontend lines, after the peer identity is known (none without policies). */
  lines: string[];
  /** The rules normalize the path first, as Envoy does, with a directive HAProxy 2.6 calls experimental. */
  normalizesPath: boolean;
}

/** One value test: a sample fetch and how it matches, or a constant. */
type Test = { fetch: string; match: string; pattern: string | null; ignoreCase?: boolean } | boolean;

class InvalidValue extends Error {}

const PEER = 'var(sess.peer)';

function quoted(parts: string[]): string {
  return parts.map(regexLiteral).join('.*');
}

/** Istio's string match: `*` alone, a leading `*` (suffix), a trailing `*` (prefix), else exact. */
function starMatch(fetch: string, value: string, star: Test, ignoreCase = false): Test {
  if (value === '*') return star;
  if (value.startsWith('*')) return { fetch, match: 'end', pattern: value.slice(1), ignoreCase };
  if (value.endsWith('*')) return { fetch, match: 'beg', pattern: value.slice(0, -1), ignoreCase };
  return { fetch, match: 'str', pattern: value, ignoreCase };
}

function cidr(value: string): string {
  const [address, bits, extra] = value.split('/');
  const family = isIP(address ?? '');
  const max = family === 4 ? 32 : 128;
  if (!family || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max))) throw new InvalidValue(`${JSON.stringify(value)} is not an IP address or CIDR range`);
  return value;
}

function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidValue(`${JSON.stringify(value)} is not a port`);
  return Number(value);
}

function valueTest(c: AuthorizationCondition, value: string, target: AuthorizationTarget, policyNamespace: string): Test {
  switch (c.attribute) {
    case 'source.principal':
      // Envoy matches the whole URI SAN, with the scheme before the policy's value.
      if (value === '*') return { fetch: PEER, match: 'found', pattern: null };
      if (value.startsWith('*')) return { fetch: PEER, match: 'reg', pattern: `^spiffe://.*${regexLiteral(value.slice(1))}$` };
      return starMatch(PEER, `spiffe://${value}`, true);
    case 'source.namespace':
      return value.includes('*')
        ? { fetch: PEER, match: 'reg', pattern: `^.*/ns/${quoted(value.split('*'))}/.*$` }
        : { fetch: PEER, match: 'sub', pattern: `/ns/${value}/` };
    case 'source.serviceAccount': {
      // `name` is a service account of the policy's own namespace, `namespace/name` of any.
      const [ns, sa] = value.includes('/') ? value.split('/', 2) as [string, string] : [policyNamespace, value];
      return { fetch: PEER, match: 'reg', pattern: `^spiffe://.+/ns/${regexLiteral(ns)}/(.+/|)sa/${regexLiteral(sa)}(/.+)?$` };
    }
    case 'source.trustDomain':
      if (value === '*') return { fetch: PEER, match: 'beg', pattern: 'spiffe://' };
      if (!value.includes('*')) return { fetch: PEER, match: 'beg', pattern: `spiffe://${value}/` };
      return { fetch: PEER, match: 'reg', pattern: `^spiffe://${value.split('*', 2).map(regexLiteral).join('[^/]*')}/.*$` };
    case 'source.ip':
      return { fetch: 'src', match: 'ip', pattern: cidr(value) };
    case 'remote.ip':
      return target.remoteAddress === 'peer' ? { fetch: 'src', match: 'ip', pattern: cidr(value) } : { fetch: 'var(txn.authz_remote_ip)', match: 'ip', pattern: cidr(value) };
    case 'destination.ip':
      return { fetch: 'dst', match: 'ip', pattern: cidr(value) };
    case 'destination.port':
      // One inbound listener per pod: the port is known when compiling.
      return target.destinationPort === port(value);
    case 'request.headers':
      // Other token characters would be read by the configuration parser (`#`, quotes) before the fetch.
      if (!/^[A-Za-z0-9_.-]+$/.test(c.header!)) throw new InvalidValue(`${JSON.stringify(c.header)} is not a header name the sidecar can read`);
      return starMatch(`req.fhdr(${c.header!.toLowerCase()})`, value, { fetch: `req.fhdr(${c.header!.toLowerCase()})`, match: 'found', pattern: null });
    case 'host':
      return starMatch('req.hdr(host)', value, { fetch: 'req.hdr(host)', match: 'found', pattern: null }, true);
    case 'method':
      return starMatch('method', value, true);
    case 'path':
      return starMatch('path', value, { fetch: 'path', match: 'found', pattern: null });
    case 'connection.sni':
      return starMatch('ssl_fc_sni', value, { fetch: 'ssl_fc_sni', match: 'found', pattern: null });
    case 'request.auth':
    case 'envoy.metadata':
      // No JWT is ever validated and no Envoy filter writes metadata: nothing there to match.
      return false;
  }
}

interface Term {
  /** A named ACL (`!name` when negated). */
  ref: string;
}

/** Named ACLs shared by every rule of the listener, one per distinct set of value tests. */
class AclTable {
  readonly lines: string[] = [];
  private readonly names = new Map<string, string>();
  usesRemoteIp = false;
  usesPath = false;

  aclFor(tests: Exclude<Test, boolean>[]): string {
    const body = tests.map((t) => `${t.fetch}${t.ignoreCase ? ' -i' : ''} -m ${t.match}${t.pattern === null ? '' : ` -- ${word(t.pattern)}`}`);
    const key = body.join('\n');
    let name = this.names.get(key);
    if (!name) {
      name = `authz_${this.names.size}`;
      this.names.set(key, name);
      for (const b of body) this.lines.push(`acl ${name} ${b}`);
      if (tests.some((t) => t.fetch.includes('authz_remote_ip'))) this.usesRemoteIp = true;
      if (tests.some((t) => t.fetch === 'path')) this.usesPath = true;
    }
    return name;
  }
}

/**
 * The terms of one condition (all must hold), or null when it can never hold. Values Istio cannot
 * turn into a matcher skip the whole rule of an ALLOW policy, and only themselves in a DENY or AUDIT
 * policy (Istio errs toward denying).
 */
function conditionTerms(c: AuthorizationCondition, policy: AuthorizationPolicySpec, target: AuthorizationTarget, acls: AclTable): Term[] | null {
  const terms: Term[] = [];
  const testsOf = (values: string[]): Test[] => values.flatMap((v) => {
    try {
      return [valueTest(c, v, target, policy.namespace)];
    } catch (err) {
      if (err instanceof InvalidValue && policy.action !== 'ALLOW') return [];
      throw err;
    }
  });
  const any = (tests: Test[]): boolean | string => {
    if (tests.some((t) => t === true)) return true;
    const real = tests.filter((t): t is Exclude<Test, boolean> => typeof t !== 'boolean');
    return real.length ? acls.aclFor(real) : false;
  };
  if (c.values.length) {
    const tests = testsOf(c.values);
    if (tests.length || policy.action === 'ALLOW') {
      const m = any(tests);
      if (m === false) return null;
      if (m !== true) terms.push({ ref: m });
    }
  }
  if (c.notValues.length) {
    const tests = testsOf(c.notValues);
    if (tests.length) {
      const m = any(tests);
      if (m === true) return null;
      if (m !== false) terms.push({ ref: `!${m}` });
    }
  }
  return terms;
}

/** A rule as HAProxy's condition: AND-groups joined by `||`; null when it never matches. */
function ruleCondition(rule: AuthorizationRule, policy: AuthorizationPolicySpec, target: AuthorizationTarget, acls: AclTable, guard: string | null): string | null {
  if (rule.skipped) return null;
  const groups = (sets: AuthorizationCondition[][]): string[][] | null => {
    const out: string[][] = [];
    for (const set of sets) {
      const terms: string[] = [];
      let possible = true;
      for (const c of set) {
        const t = conditionTerms(c, policy, target, acls);
        if (t === null) { possible = false; break; }
        terms.push(...t.map((x) => x.ref));
      }
      if (possible) out.push(terms);
    }
    return out.length ? out : null;
  };
  let sources: string[][] | null;
  let operations: string[][] | null;
  try {
    sources = groups(rule.sources);
    operations = groups(rule.operations);
  } catch (err) {
    if (err instanceof InvalidValue) return null;
    throw err;
  }
  if (!sources || !operations) return null;
  const disjuncts: string[] = [];
  for (const s of sources) {
    for (const o of operations) {
      const terms = [...(guard ? [guard] : []), ...s, ...o];
      disjuncts.push(terms.length ? terms.join(' ') : 'TRUE');
    }
  }
  return [...new Set(disjuncts)].join(' || ');
}

const deny = `http-request return status 403 content-type text/plain string ${word(RBAC_DENIED_BODY)}`;

/**
 * The inbound rules for the policies of one workload. The access log's `authz` field says what
 * decided: Envoy's `rbac_access_denied_matched_policy[...]` for a denial, and for a request an ALLOW
 * rule let through, the rule in the same form; `authz_audit` names the AUDIT rule that matched.
 */
export function authorizationLines(auth: WorkloadAuthorization, target: AuthorizationTarget): CompiledAuthorization {
  if (!auth.audit.length && !auth.deny.length && !auth.allow.length) return { lines: [], normalizesPath: false };
  const acls = new AclTable();
  const rules: string[] = [];
  const each = (policies: AuthorizationPolicySpec[], emit: (id: string, cond: string) => void, guard: string | null) => {
    for (const p of policies) {
      for (const r of p.rules) {
        const cond = ruleCondition(r, p, target, acls, guard);
        // Kubernetes names never carry these, but a file's may: they would end the sample's argument.
        if (cond !== null) emit(ruleId(p, r.index).replace(/[^A-Za-z0-9._\-[\]]/g, '_'), cond);
      }
    }
  };
  each(auth.audit, (id, cond) => rules.push(`http-request set-var(txn.authz_audit) str(${word(id)}) if ${cond}`), '!authz_audited');
  each(auth.deny, (id, cond) => {
    rules.push(`http-request set-var(txn.authz) str(${word(`rbac_access_denied_matched_policy[${id}]`)}) if ${cond}`);
    rules.push(`${deny} if authz_decided`);
  }, null);
  if (auth.allow.length) {
    each(auth.allow, (id, cond) => rules.push(`http-request set-var(txn.authz) str(${word(`rbac_allowed_matched_policy[${id}]`)}) if ${cond}`), '!authz_decided');
    rules.push(`http-request set-var(txn.authz) str(${word('rbac_access_denied_matched_policy[none]')}) unless authz_decided`);
    rules.push(`${deny} if { var(txn.authz) -m beg rbac_access_denied }`);
  }
  const lines: string[] = [];
  // Envoy resolves dot segments before any filter reads the path, so `/a/../admin` is `/admin` to a rule.
  if (acls.usesPath) lines.push('http-request normalize-uri path-strip-dotdot');
  if (acls.usesRemoteIp) {
    lines.push('http-request set-var(txn.authz_remote_ip) req.hdr_ip(x-forwarded-for,-1) if { req.hdr(x-forwarded-for) -m found }');
    lines.push('http-request set-var(txn.authz_remote_ip) src unless { var(txn.authz_remote_ip) -m found }');
  }
  lines.push('acl authz_decided var(txn.authz) -m found');
  if (auth.audit.length) lines.push('acl authz_audited var(txn.authz_audit) -m found');
  return { lines: [...lines, ...acls.lines, ...rules], normalizesPath: acls.usesPath };
}
