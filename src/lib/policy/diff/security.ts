// Security impact: the mTLS mode each scope (mesh, namespace, workload) ends up with, the TLS mode of each
// destination, and the authorization rules each scope gains or loses, with the risk of each change.
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { Canonical, canonicalResource, canonicalSpecOf, isMapping, plain, stableKey } from './canonical.js';
import { hostKey, shortHost } from '../hosts.js';
import { idOf, keyOf } from './pairing.js';
import type { ResourceId, Risk, RiskNote, SecurityImpact } from './model.js';
import type { ResourceChangePair } from './traffic.js';
import type { AuthorizationPolicySpec, DestinationRuleSpecTrafficPolicy, DestinationRuleSpecTrafficPolicyTls, Mistyped, SpecByKind } from '../spec.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Canonical);

/** Istio's root namespace: policies there without a selector apply to the whole mesh. */
export const ROOT_NAMESPACE = 'istio-system';

const SECURITY_KINDS = new Set<string>([K.PeerAuthentication, K.DestinationRule, K.AuthorizationPolicy, K.RequestAuthentication]);

/** The policy kinds whose scope is a selector or target references; read alike, as the same fields. */
function policySpecOf(r: Resource | undefined): Obj {
  if (!r) return {};
  const spec = canonicalResource(r).spec;
  return isObj(spec) ? spec : {};
}

function text(v: unknown): string {
  if (v instanceof Canonical) return String(v.raw);
  if (Array.isArray(v)) return v.map(text).join(', ');
  if (isObj(v)) return JSON.stringify(plain(v));
  return String(v);
}

interface Scope {
  key: string;
  text: string;
  level: 'mesh' | 'namespace' | 'workload';
  namespace: string;
}

/** The workloads a policy applies to: its selector's labels (or targetRefs), else its namespace, else the mesh. */
function scopeOf(r: Resource): Scope {
  const spec = policySpecOf(r);
  const labels = isObj(spec.selector) && isObj(spec.selector.matchLabels) ? spec.selector.matchLabels : undefined;
  const targets = spec.targetRefs ?? spec.targetRef;
  if (labels && Object.keys(labels).length) {
    const selector = Object.keys(labels)
      .sort()
      .map((k) => `${k}=${text(labels[k])}`)
      .join(',');
    return { key: `${r.namespace}|${stableKey(labels)}`, text: `workload ${r.namespace} {${selector}}`, level: 'workload', namespace: r.namespace };
  }
  if (targets !== undefined) {
    const list = (Array.isArray(targets) ? targets : [targets]).filter(isObj);
    const names = list.map((t) => `${text(t.kind ?? '')} ${text(t.name ?? '')}`.trim()).join(', ');
    return { key: `${r.namespace}|targets:${stableKey(targets)}`, text: `${names} in ${r.namespace}`, level: 'workload', namespace: r.namespace };
  }
  if (r.namespace === ROOT_NAMESPACE) return { key: 'mesh', text: 'the mesh', level: 'mesh', namespace: r.namespace };
  return { key: `${r.namespace}|`, text: `namespace ${r.namespace}`, level: 'namespace', namespace: r.namespace };
}

export interface SecurityResult {
  impacts: SecurityImpact[];
  notes: RiskNote[];
}

class Collector {
  readonly impacts: SecurityImpact[] = [];
  readonly notes: RiskNote[] = [];

  add(entry: Omit<SecurityImpact, 'resources'>, resources: Resource[]): void {
    const seen = new Set<string>();
    const unique = resources.filter((r) => !seen.has(keyOf(r)) && seen.add(keyOf(r)));
    const ids: ResourceId[] = unique.map(idOf);
    this.impacts.push({ ...entry, resources: ids });
    this.notes.push({ risk: entry.risk, reason: entry.reason, keys: unique.map(keyOf) });
  }
}

// ---- PeerAuthentication ------------------------------------------------------------------------------

const MTLS_RANK: Record<string, number> = { DISABLE: 0, PERMISSIVE: 1, STRICT: 2 };

function mtlsMode(v: unknown): string | undefined {
  const m = isObj(v) ? v.mode : undefined;
  return typeof m === 'string' && m !== 'UNSET' ? m : undefined;
}

class PeerAuthModel {
  private byScope = new Map<string, Resource>();

  constructor(resources: Resource[]) {
    const sorted = resources.filter((r) => r.kindId === K.PeerAuthentication).sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
    for (const r of sorted) {
      const s = scopeOf(r);
      if (!this.byScope.has(s.key)) this.byScope.set(s.key, r);
    }
  }

  /** The mode in force for a scope: its own policy's, else its namespace's, else the mesh's, else PERMISSIVE. */
  effective(scope: Scope): string {
    const own = this.byScope.get(scope.key);
    const ownMode = own ? mtlsMode(canonicalSpecOf(own, K.PeerAuthentication).mtls) : undefined;
    if (ownMode) return ownMode;
    if (scope.level === 'workload') return this.effective({ key: `${scope.namespace}|`, text: '', level: scope.namespace === ROOT_NAMESPACE ? 'mesh' : 'namespace', namespace: scope.namespace });
    if (scope.level === 'namespace') return this.effective({ key: 'mesh', text: '', level: 'mesh', namespace: ROOT_NAMESPACE });
    if (scope.key !== 'mesh') return this.effective({ key: 'mesh', text: '', level: 'mesh', namespace: ROOT_NAMESPACE });
    return 'PERMISSIVE';
  }

  portModes(scope: Scope): Map<string, string> {
    const own = this.byScope.get(scope.key);
    const out = new Map<string, string>();
    const ports = own ? canonicalSpecOf(own, K.PeerAuthentication).portLevelMtls : undefined;
    if (isObj(ports)) for (const [port, v] of Object.entries(ports)) out.set(port, mtlsMode(v) ?? this.effective(scope));
    return out;
  }
}

function peerAuthentication(before: Resource[], after: Resource[], changes: ResourceChangePair[], out: Collector): void {
  const touched = changes.filter((c) => (c.after ?? c.before)!.kindId === K.PeerAuthentication);
  if (!touched.length) return;
  const oldModel = new PeerAuthModel(before);
  const newModel = new PeerAuthModel(after);
  const scopes = new Map<string, { scope: Scope; resources: Resource[] }>();
  for (const c of touched) {
    for (const r of [c.before, c.after]) {
      if (!r) continue;
      const s = scopeOf(r);
      const known = scopes.get(s.key) ?? { scope: s, resources: [] };
      known.resources.push(r);
      scopes.set(s.key, known);
    }
  }
  for (const { scope, resources } of scopes.values()) {
    const b = oldModel.effective(scope);
    const a = newModel.effective(scope);
    if (b !== a) out.add(mtlsEntry(scope, 'mtls.mode', b, a), resources);
    const pb = oldModel.portModes(scope);
    const pa = newModel.portModes(scope);
    for (const port of new Set([...pb.keys(), ...pa.keys()])) {
      const before = pb.get(port) ?? b;
      const afterMode = pa.get(port) ?? a;
      if (before !== afterMode) out.add(mtlsEntry(scope, `portLevelMtls.${port}.mode`, before, afterMode, port), resources);
    }
  }
}

function mtlsEntry(scope: Scope, setting: string, before: string, after: string, port?: string): Omit<SecurityImpact, 'resources'> {
  const where = `${scope.text}${port ? ` port ${port}` : ''}`;
  const relaxed = (MTLS_RANK[after] ?? 1) < (MTLS_RANK[before] ?? 1);
  const consequence =
    after === 'DISABLE' ? 'mutual TLS is off and requests arrive in plain text' : after === 'PERMISSIVE' ? 'plain-text requests are accepted beside mutual TLS' : 'clients without a mesh certificate are refused';
  return {
    kind: 'PeerAuthentication',
    scope: where,
    namespace: scope.namespace,
    setting,
    before,
    after,
    risk: relaxed ? 'high' : 'low',
    reason: relaxed ? `mTLS is relaxed for ${where}: ${before} → ${after}, so ${consequence}.` : `mTLS for ${where} changes ${before} → ${after}: ${consequence}.`,
  };
}

// ---- DestinationRule TLS -----------------------------------------------------------------------------

/** Client TLS strength: mutual (3) > Istio's automatic mTLS when unset (2) > server-only (1) > none (0). */
function tlsRank(mode: string | null): number {
  if (mode === null) return 2;
  return mode === 'ISTIO_MUTUAL' || mode === 'MUTUAL' ? 3 : mode === 'SIMPLE' ? 1 : 0;
}

interface TlsSetting {
  mode: string | null;
  skipVerify: boolean;
  key: string;
}

function tlsOf(v: DestinationRuleSpecTrafficPolicyTls | Mistyped | undefined): TlsSetting | undefined {
  if (!isObj(v)) return undefined;
  return { mode: typeof v.mode === 'string' ? v.mode : 'DISABLE', skipVerify: v.insecureSkipVerify === true, key: stableKey(v) };
}

const AUTO: TlsSetting = { mode: null, skipVerify: false, key: '' };

/** Effective client TLS per (subset, port) a DestinationRule names. */
function tlsSettings(r: Resource | undefined): Map<string, { subset: string | null; port: string | null; tls: TlsSetting }> {
  const out = new Map<string, { subset: string | null; port: string | null; tls: TlsSetting }>();
  if (!r) return out;
  const spec = canonicalSpecOf(r, K.DestinationRule);
  const top: DestinationRuleSpecTrafficPolicy = isMapping(spec.trafficPolicy) ? spec.trafficPolicy : {};
  // A subset's trafficPolicy has the same port-level and TLS fields as the rule's own.
  const portTls = (policy: DestinationRuleSpecTrafficPolicy) => {
    const m = new Map<string, TlsSetting>();
    for (const p of Array.isArray(policy.portLevelSettings) ? policy.portLevelSettings : []) {
      if (!isMapping(p)) continue;
      const n = isMapping(p.port) ? p.port.number : undefined;
      const t = tlsOf(p.tls);
      if (n !== undefined && t) m.set(String(n), t);
    }
    return m;
  };
  const hostTls = tlsOf(top.tls) ?? AUTO;
  const hostPorts = portTls(top);
  out.set('|', { subset: null, port: null, tls: hostTls });
  for (const [port, t] of hostPorts) out.set(`|${port}`, { subset: null, port, tls: t });
  for (const s of Array.isArray(spec.subsets) ? spec.subsets : []) {
    if (!isMapping(s) || typeof s.name !== 'string') continue;
    const policy: DestinationRuleSpecTrafficPolicy = isMapping(s.trafficPolicy) ? s.trafficPolicy : {};
    const own = tlsOf(policy.tls);
    if (own) out.set(`${s.name}|`, { subset: s.name, port: null, tls: own });
    for (const [port, t] of portTls(policy)) out.set(`${s.name}|${port}`, { subset: s.name, port, tls: t });
  }
  return out;
}

function destinationTls(changes: ResourceChangePair[], out: Collector): void {
  for (const c of changes) {
    const r = (c.after ?? c.before)!;
    if (r.kindId !== K.DestinationRule) continue;
    const hostRaw = (r.spec as SpecByKind[typeof K.DestinationRule] | undefined)?.host;
    const host = shortHost(hostKey(r.namespace, typeof hostRaw === 'string' ? hostRaw : r.name));
    const b = tlsSettings(c.before);
    const a = tlsSettings(c.after);
    const resources = [c.before, c.after].filter((x): x is Resource => !!x);
    for (const k of new Set([...b.keys(), ...a.keys()])) {
      const where = (a.get(k) ?? b.get(k))!;
      // Unnamed subset or port entries inherit the host's setting.
      const tb = b.get(k)?.tls ?? b.get(`${where.subset ?? ''}|`)?.tls ?? b.get('|')?.tls ?? AUTO;
      const ta = a.get(k)?.tls ?? a.get(`${where.subset ?? ''}|`)?.tls ?? a.get('|')?.tls ?? AUTO;
      if (tb.key === ta.key) continue;
      const scope = `host ${host}${where.subset ? `/${where.subset}` : ''}${where.port ? ` port ${where.port}` : ''}`;
      const base = { kind: 'DestinationRule' as const, scope, namespace: r.namespace };
      const shown = (t: TlsSetting) => t.mode ?? null;
      if (tb.mode !== ta.mode) {
        const relaxed = tlsRank(tb.mode) >= 2 && tlsRank(ta.mode) <= 1;
        const name = (m: string | null) => m ?? 'unset (automatic mTLS)';
        out.add(
          {
            ...base,
            setting: 'tls.mode',
            before: shown(tb),
            after: shown(ta),
            risk: relaxed ? 'high' : 'low',
            reason: relaxed
              ? `TLS to ${scope} is relaxed: ${name(tb.mode)} → ${name(ta.mode)}, so ${ta.mode === 'SIMPLE' ? 'clients no longer present a certificate' : 'requests leave in plain text'}.`
              : `TLS to ${scope} changes: ${name(tb.mode)} → ${name(ta.mode)}.`,
          },
          resources,
        );
      }
      if (tb.skipVerify !== ta.skipVerify) {
        out.add(
          {
            ...base,
            setting: 'tls.insecureSkipVerify',
            before: tb.skipVerify,
            after: ta.skipVerify,
            risk: ta.skipVerify ? 'high' : 'low',
            reason: ta.skipVerify ? `TLS to ${scope} no longer verifies the server's certificate (insecureSkipVerify).` : `TLS to ${scope} verifies the server's certificate again.`,
          },
          resources,
        );
      }
      if (tb.mode === ta.mode && tb.skipVerify === ta.skipVerify) {
        out.add({ ...base, setting: 'tls', before: null, after: null, risk: 'low', reason: `TLS settings to ${scope} change (certificates, SNI or names), with the same mode.` }, resources);
      }
    }
  }
}

// ---- AuthorizationPolicy -----------------------------------------------------------------------------

type Action = 'ALLOW' | 'DENY' | 'CUSTOM' | 'AUDIT';

interface ActionRules {
  policies: Resource[];
  /** Rule key → the rule as written, and the policies that hold it. */
  rules: Map<string, { rule: unknown; holders: Resource[] }>;
}

function actionOf(spec: AuthorizationPolicySpec): Action {
  const a = spec.action;
  return a === 'DENY' || a === 'CUSTOM' || a === 'AUDIT' ? a : 'ALLOW';
}

class AuthorizationModel {
  readonly byScope = new Map<string, Map<Action, ActionRules>>();

  constructor(resources: Resource[]) {
    for (const r of resources) {
      if (r.kindId !== K.AuthorizationPolicy) continue;
      const spec = canonicalSpecOf(r, K.AuthorizationPolicy);
      const action = actionOf(spec);
      const scope = scopeOf(r).key;
      let byAction = this.byScope.get(scope);
      if (!byAction) this.byScope.set(scope, (byAction = new Map()));
      let entry = byAction.get(action);
      if (!entry) byAction.set(action, (entry = { policies: [], rules: new Map() }));
      entry.policies.push(r);
      const provider = action === 'CUSTOM' && isObj(spec.provider) ? `${text(spec.provider.name ?? '')}|` : '';
      const rules = Array.isArray(spec.rules) ? spec.rules : [];
      for (const rule of rules) {
        const key = provider + stableKey(rule);
        const known = entry.rules.get(key);
        if (known) known.holders.push(r);
        else entry.rules.set(key, { rule: plain(rule), holders: [r] });
      }
    }
  }

  get(scope: string, action: Action): ActionRules {
    return this.byScope.get(scope)?.get(action) ?? { policies: [], rules: new Map() };
  }
}

function listText(v: unknown): string {
  return Array.isArray(v) ? v.map((x) => String(x)).join(', ') : String(v);
}

function fieldsText(o: unknown): string {
  if (!isObj(o)) return '';
  return Object.entries(o)
    .map(([k, v]) => `${k} [${listText(v)}]`)
    .join(' and ');
}

/** A rule in words: `from principals [a] to methods [GET] when request.auth.claims[iss] in [x]`, or `every request`. */
export function ruleText(rule: unknown): string {
  if (!isObj(rule) || Object.keys(rule).length === 0) return 'every request';
  const parts: string[] = [];
  const from = Array.isArray(rule.from) ? rule.from.filter(isObj).map((f) => fieldsText(f.source)).filter(Boolean) : [];
  const to = Array.isArray(rule.to) ? rule.to.filter(isObj).map((t) => fieldsText(t.operation)).filter(Boolean) : [];
  const when = Array.isArray(rule.when)
    ? rule.when.filter(isObj).map((w) => [w.values !== undefined ? `${String(w.key)} in [${listText(w.values)}]` : '', w.notValues !== undefined ? `${String(w.key)} not in [${listText(w.notValues)}]` : ''].filter(Boolean).join(' and '))
    : [];
  if (from.length) parts.push(`from ${from.join(' or ')}`);
  if (to.length) parts.push(`to ${to.join(' or ')}`);
  if (when.length) parts.push(`when ${when.join(' and ')}`);
  return parts.length ? `requests ${parts.join(' ')}` : 'every request';
}

function authorization(before: Resource[], after: Resource[], changes: ResourceChangePair[], out: Collector): void {
  const touched = changes.filter((c) => (c.after ?? c.before)!.kindId === K.AuthorizationPolicy);
  if (!touched.length) return;
  const oldModel = new AuthorizationModel(before);
  const newModel = new AuthorizationModel(after);
  const scopes = new Map<string, Scope>();
  for (const c of touched) for (const r of [c.before, c.after]) if (r) scopes.set(scopeOf(r).key, scopeOf(r));
  for (const scope of scopes.values()) {
    for (const action of ['ALLOW', 'DENY', 'CUSTOM', 'AUDIT'] as const) {
      const b = oldModel.get(scope.key, action);
      const a = newModel.get(scope.key, action);
      const base = { kind: 'AuthorizationPolicy' as const, scope: scope.text, namespace: scope.namespace, setting: `${action} rule` };
      const added = [...a.rules].filter(([k]) => !b.rules.has(k));
      const removed = [...b.rules].filter(([k]) => !a.rules.has(k));
      if (action === 'ALLOW' && b.policies.length > 0 && a.policies.length === 0) {
        out.add(
          { ...base, setting: 'ALLOW policies', before: b.policies.length, after: 0, risk: 'high', reason: `ALLOW is widened: ${scope.text} has no ALLOW policy left, so every request that no DENY policy stops is allowed.` },
          b.policies,
        );
      } else if (action === 'ALLOW' && b.policies.length === 0 && a.policies.length > 0) {
        out.add(
          { ...base, setting: 'ALLOW policies', before: 0, after: a.policies.length, risk: 'low', reason: `${scope.text} gets its first ALLOW policy: requests that match none of its rules are now denied.` },
          a.policies,
        );
      }
      for (const [, { rule, holders }] of added) {
        const what = ruleText(rule);
        let risk: Risk = 'low';
        let reason = `${scope.text} now ${action === 'ALLOW' ? 'allows' : action === 'DENY' ? 'denies' : action === 'CUSTOM' ? 'sends to external authorization' : 'audits'} ${what}.`;
        if (action === 'ALLOW' && b.policies.length > 0) {
          risk = 'high';
          reason = `ALLOW is widened: ${scope.text} now also allows ${what}.`;
        }
        out.add({ ...base, before: null, after: rule, risk, reason }, holders);
      }
      for (const [, { rule, holders }] of removed) {
        const what = ruleText(rule);
        let risk: Risk = 'low';
        let reason = `${scope.text} no longer ${action === 'ALLOW' ? 'allows' : 'audits'} ${what} (unless another rule does).`;
        if (action === 'DENY') {
          risk = 'high';
          reason = `A DENY is removed: ${scope.text} no longer denies ${what}.`;
        } else if (action === 'CUSTOM') {
          risk = 'high';
          reason = `An external authorization check is removed: ${scope.text} no longer checks ${what} with its CUSTOM provider.`;
        } else if (action === 'ALLOW' && a.policies.length === 0) {
          continue;
        }
        out.add({ ...base, before: rule, after: null, risk, reason }, holders);
      }
    }
  }
}

// ---- RequestAuthentication ---------------------------------------------------------------------------

function requestAuthentication(changes: ResourceChangePair[], out: Collector): void {
  for (const c of changes) {
    const r = (c.after ?? c.before)!;
    if (r.kindId !== K.RequestAuthentication) continue;
    const issuers = (x: Resource | undefined) =>
      (Array.isArray(canonicalSpecOf(x, K.RequestAuthentication).jwtRules) ? (canonicalSpecOf(x, K.RequestAuthentication).jwtRules as unknown[]) : []).filter(isObj).map((j) => text(j.issuer ?? '')).sort();
    const b = c.before ? issuers(c.before) : [];
    const a = c.after ? issuers(c.after) : [];
    const scope = scopeOf(r);
    const same = b.join('\n') === a.join('\n');
    out.add(
      {
        kind: 'RequestAuthentication',
        scope: scope.text,
        namespace: scope.namespace,
        setting: 'jwtRules',
        before: b,
        after: a,
        risk: 'low',
        reason: same ? `JWT validation settings for ${scope.text} change, with the same issuers.` : `Accepted JWT issuers for ${scope.text}: [${b.join(', ')}] → [${a.join(', ')}].`,
      },
      [c.before, c.after].filter((x): x is Resource => !!x),
    );
  }
}

/** Security impact of the changed resources; only the scopes they touch are evaluated. */
export function securityImpact(before: Resource[], after: Resource[], changes: ResourceChangePair[]): SecurityResult {
  const relevant = changes.filter((c) => SECURITY_KINDS.has((c.after ?? c.before)!.kindId));
  const out = new Collector();
  if (!relevant.length) return out;
  peerAuthentication(before, after, relevant, out);
  destinationTls(relevant, out);
  authorization(before, after, relevant, out);
  requestAuthentication(relevant, out);
  return out;
}
