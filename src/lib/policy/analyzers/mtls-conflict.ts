// A server that requires mutual TLS (PeerAuthentication STRICT) refuses plaintext, and a DestinationRule
// with tls.mode DISABLE makes its clients send exactly that: every such request fails. PeerAuthentication
// resolves workload over namespace over mesh (root namespace), with UNSET inheriting from the level above
// and port-level settings of a workload policy overriding its own mode.
import type { AnalysisContext, Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { DEFAULT_CLUSTER_DOMAIN, resolveShortName, serviceOfFqdn } from '../hosts.js';
import { selectorMatches } from '../selectors.js';
import { asArray, asObject } from './util.js';
import {
  listOf,
  objectOf,
  specOf,
  type DestinationRuleSpecSubsetsTrafficPolicy,
  type DestinationRuleSpecSubsetsTrafficPolicyPortLevelSettings,
  type DestinationRuleSpecTrafficPolicy,
  type DestinationRuleSpecTrafficPolicyPortLevelSettings,
  type Mistyped,
} from '../spec.js';

type Labels = Record<string, string>;

interface Decision {
  mode: string;
  policy?: Resource;
  port?: number;
}

/** A PeerAuthentication mode that decides something (not absent, not UNSET). */
function decisive(mode: unknown): string | undefined {
  return typeof mode === 'string' && mode !== '' && mode !== 'UNSET' ? mode : undefined;
}

function matchLabelsOf(pa: Resource): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(objectOf(objectOf(specOf(pa, K.PeerAuthentication).selector).matchLabels))) out[k] = String(v);
  return out;
}

class PeerAuthentications {
  private readonly all: Resource[];
  constructor(private readonly ctx: AnalysisContext) {
    this.all = ctx.of(K.PeerAuthentication);
  }

  private get root(): string {
    return this.ctx.meshConfig.rootNamespace || this.ctx.istioNamespace;
  }

  private namespaceWide(namespace: string): Resource | undefined {
    return this.all.find((pa) => pa.namespace === namespace && Object.keys(matchLabelsOf(pa)).length === 0);
  }

  /** Workload-level policies of a namespace (those with a selector). */
  workloadPolicies(namespace: string): Resource[] {
    return this.all.filter((pa) => pa.namespace === namespace && Object.keys(matchLabelsOf(pa)).length > 0);
  }

  /** The mode a namespace's workloads get when no workload policy decides. */
  namespaceMode(namespace: string): Decision {
    for (const pa of [this.namespaceWide(namespace), this.namespaceWide(this.root)]) {
      const mode = pa && decisive(objectOf(specOf(pa, K.PeerAuthentication).mtls).mode);
      if (pa && mode) return { mode, policy: pa };
    }
    return { mode: 'PERMISSIVE' };
  }

  /** The mode a workload (by its labels) accepts on `port` (a workload port; undefined for the workload as a whole). */
  workloadMode(namespace: string, labels: Labels, port: number | undefined): Decision {
    const pa = this.workloadPolicies(namespace).find((p) => selectorMatches(matchLabelsOf(p), labels));
    if (pa) {
      const spec = specOf(pa, K.PeerAuthentication);
      if (port !== undefined) {
        const portMode = decisive(objectOf(objectOf(spec.portLevelMtls)[String(port)]).mode);
        if (portMode) return { mode: portMode, policy: pa, port };
      }
      const mode = decisive(objectOf(spec.mtls).mode);
      if (mode) return { mode, policy: pa };
    }
    return this.namespaceMode(namespace);
  }
}

/** What a DestinationRule host covers: one Service, one namespace, or the whole mesh; undefined for hosts outside the cluster. */
type Scope = { service: string; namespace: string } | { namespace: string } | { mesh: true };

function scopeOf(dr: Resource, host: string): Scope | undefined {
  const full = resolveShortName(dr.namespace, host).toLowerCase();
  if (full === '*' || full === `*.svc.${DEFAULT_CLUSTER_DOMAIN}` || full === `*.${DEFAULT_CLUSTER_DOMAIN}`) return { mesh: true };
  const service = serviceOfFqdn(full);
  if (!service || service.name.includes('.') || service.namespace.includes('*')) return undefined;
  return service.name === '*' ? { namespace: service.namespace } : { service: service.name, namespace: service.namespace };
}

/** Label sets of the workloads behind a Service (narrowed to a subset's labels); the selector itself when none is in the inputs. */
function workloadsOf(ctx: AnalysisContext, namespace: string, selector: Labels, subset: Labels): Labels[] {
  const wanted = { ...selector, ...subset };
  const found: Labels[] = [];
  for (const d of ctx.of(K.Deployment)) {
    if (d.namespace !== namespace) continue;
    const labels = asObject(asObject(asObject(asObject(d.spec).template).metadata).labels) as Labels;
    if (selectorMatches(wanted, labels)) found.push(labels);
  }
  for (const r of [...ctx.of(K.Pod), ...ctx.of(K.Workload)]) {
    if (r.namespace === namespace && r.doc && selectorMatches(wanted, r.labels)) found.push(r.labels);
  }
  return found.length ? found : [wanted];
}

interface Port {
  port: number;
  target: number;
}

function servicePorts(service: Resource | undefined): Port[] {
  if (!service) return [];
  return asArray(asObject(service.spec).ports)
    .map(asObject)
    .filter((p) => typeof p.port === 'number')
    .map((p) => ({ port: p.port as number, target: typeof p.targetPort === 'number' ? p.targetPort : (p.port as number) }));
}

function describe(decision: Decision): string {
  const pa = decision.policy!;
  const port = decision.port !== undefined ? ` on port ${decision.port}` : '';
  return `PeerAuthentication ${pa.namespace}/${pa.name} requires mutual TLS (STRICT)${port}`;
}

/** The first STRICT decision a DISABLE setting runs into, if any. */
function strictFor(
  ctx: AnalysisContext,
  peers: PeerAuthentications,
  scope: Scope,
  subsetLabels: Labels,
  /** Service ports this setting covers; undefined for all of them. */
  onlyPort: number | undefined,
  overriddenPorts: Set<number>,
): Decision | undefined {
  if ('service' in scope) {
    const service = ctx.find(K.Service, scope.namespace, scope.service);
    const selector = asObject(service ? asObject(service.spec).selector : undefined) as Labels;
    const ports = servicePorts(service);
    let targets: (number | undefined)[];
    if (onlyPort !== undefined) targets = [ports.find((p) => p.port === onlyPort)?.target ?? onlyPort];
    else targets = ports.length ? ports.filter((p) => !overriddenPorts.has(p.port)).map((p) => p.target) : [undefined];
    for (const labels of workloadsOf(ctx, scope.namespace, selector, subsetLabels)) {
      for (const target of targets) {
        const decision = peers.workloadMode(scope.namespace, labels, target);
        if (decision.mode === 'STRICT') return decision;
      }
    }
    return undefined;
  }
  const namespaces = 'mesh' in scope ? [...new Set(ctx.resources.map((r) => r.namespace).filter(Boolean))] : [scope.namespace];
  for (const namespace of namespaces) {
    const decision = peers.namespaceMode(namespace);
    if (decision.mode === 'STRICT') return decision;
    for (const pa of peers.workloadPolicies(namespace)) {
      const spec = specOf(pa, K.PeerAuthentication);
      if (decisive(objectOf(spec.mtls).mode) === 'STRICT') return { mode: 'STRICT', policy: pa };
      for (const [port, setting] of Object.entries(objectOf(spec.portLevelMtls))) {
        if (decisive(objectOf(setting).mode) === 'STRICT') return { mode: 'STRICT', policy: pa, port: Number(port) };
      }
    }
  }
  return undefined;
}

/** Whether a traffic policy sets tls.mode DISABLE, for all ports or in a port-level setting. */
function disablesTls(policy: DestinationRuleSpecTrafficPolicy | DestinationRuleSpecSubsetsTrafficPolicy): boolean {
  if (objectOf(policy.tls).mode === 'DISABLE') return true;
  const levels = listOf<DestinationRuleSpecTrafficPolicyPortLevelSettings | DestinationRuleSpecSubsetsTrafficPolicyPortLevelSettings | Mistyped>(policy.portLevelSettings);
  return levels.some((level) => objectOf(objectOf(level).tls).mode === 'DISABLE');
}

export const mtlsConflict: Analyzer = {
  name: 'meshctl.MtlsConflict',
  description: 'Finds DestinationRules that disable TLS toward workloads whose PeerAuthentication requires mutual TLS.',
  inputs: [K.DestinationRule, K.PeerAuthentication, K.Service, K.Deployment, K.Pod, K.Workload],
  codes: ['MSH2007'],
  run(ctx) {
    if (ctx.of(K.PeerAuthentication).length === 0) return;
    const peers = new PeerAuthentications(ctx);
    for (const dr of ctx.of(K.DestinationRule)) {
      const spec = specOf(dr, K.DestinationRule);
      if (typeof spec.host !== 'string') continue;
      // Most DestinationRules disable TLS nowhere: they are passed over before anything is resolved or spelled.
      if (!disablesTls(objectOf(spec.trafficPolicy)) && !listOf(spec.subsets).some((s) => disablesTls(objectOf(objectOf(s).trafficPolicy)))) continue;
      const host = spec.host;
      const scope = scopeOf(dr, host);
      if (!scope) continue;
      const policies: { policy: DestinationRuleSpecTrafficPolicy | DestinationRuleSpecSubsetsTrafficPolicy; pointer: string; labels: Labels; what: string }[] = [
        { policy: objectOf(spec.trafficPolicy), pointer: '/spec/trafficPolicy', labels: {}, what: host },
      ];
      listOf(spec.subsets).forEach((s, i) => {
        const subset = objectOf(s);
        // Label values are compared as strings (selectorMatches), whatever the input holds.
        const labels = objectOf(subset.labels) as Labels;
        policies.push({ policy: objectOf(subset.trafficPolicy), pointer: `/spec/subsets/${i}/trafficPolicy`, labels, what: `subset ${String(subset.name)} of ${host}` });
      });
      for (const { policy, pointer, labels, what } of policies) {
        const levels = listOf<DestinationRuleSpecTrafficPolicyPortLevelSettings | DestinationRuleSpecSubsetsTrafficPolicyPortLevelSettings | Mistyped>(policy.portLevelSettings).map((l) => objectOf(l));
        const overridden = new Set(levels.filter((l) => l.tls).map((l) => objectOf(l.port).number).filter((n): n is number => typeof n === 'number'));
        if (objectOf(policy.tls).mode === 'DISABLE') {
          const strict = strictFor(ctx, peers, scope, labels, undefined, overridden);
          if (strict) report(ctx, dr, `${pointer}/tls/mode`, what, strict);
        }
        levels.forEach((level, k) => {
          const port = objectOf(level.port).number;
          if (objectOf(level.tls).mode !== 'DISABLE' || typeof port !== 'number') return;
          const strict = strictFor(ctx, peers, scope, labels, port, overridden);
          if (strict) report(ctx, dr, `${pointer}/portLevelSettings/${k}/tls/mode`, `port ${port} of ${what}`, strict);
        });
      }
    }
  },
};

function report(ctx: AnalysisContext, dr: Resource, pointer: string, what: string, strict: Decision): void {
  ctx.report(
    'MSH2007',
    dr,
    pointer,
    `DestinationRule ${dr.name} disables TLS for ${what}, but ${describe(strict)} there, so requests from clients will fail; remove the DISABLE or use ISTIO_MUTUAL.`,
  );
}
