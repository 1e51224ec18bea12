// k8sgateway.SelectorAnalyzer: a policy that reaches the pods of a Kubernetes Gateway through a workload selector
// has no effect there; Istio attaches policies to Kubernetes Gateways through targetRefs only.
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { specOf } from '../spec.js';
import { asArray, asObject } from './util.js';
import { selectorMatches } from '../selectors.js';
import { GATEWAY_NAME_LABEL, labelMap, qualifiedName, workloadsOf, type Labels } from './workloads.js';

const POLICY_KINDS = [K.AuthorizationPolicy, K.RequestAuthentication, K.Telemetry, K.WasmPlugin];

/** Labels of the pods of Kubernetes Gateways, by namespace: modelled workloads, and those Istio deploys for a Gateway. */
function gatewayPodLabels(ctx: AnalysisContext): Map<string, Labels[]> {
  const byNs = new Map<string, Labels[]>();
  const add = (ns: string, labels: Labels) => {
    const list = byNs.get(ns) ?? [];
    list.push(labels);
    byNs.set(ns, list);
  };
  for (const w of workloadsOf(ctx)) {
    if (Object.hasOwn(w.labels, GATEWAY_NAME_LABEL)) add(w.namespace, w.labels);
  }
  // Istio deploys the pods of an Istio-class Gateway itself, labelled with the Gateway's name.
  for (const gw of ctx.of(K.KubernetesGateway)) {
    const className = String(specOf(gw, K.KubernetesGateway).gatewayClassName ?? '');
    if (className.startsWith('istio')) add(gw.namespace, { [GATEWAY_NAME_LABEL]: gw.name });
  }
  return byNs;
}

function usesTargetRef(spec: Record<string, unknown>): boolean {
  return (spec.targetRef !== undefined && spec.targetRef !== null) || asArray(spec.targetRefs).length > 0;
}

export const kubernetesGatewaySelector: Analyzer = {
  name: 'k8sgateway.SelectorAnalyzer',
  description: 'Checks that policies do not select the pods of a Kubernetes Gateway through a workload selector',
  inputs: [...POLICY_KINDS, K.Pod, K.Deployment, K.KubernetesGateway],
  codes: ['IST0166'],
  run(ctx) {
    const pods = gatewayPodLabels(ctx);
    for (const kind of POLICY_KINDS) {
      for (const policy of ctx.of(kind)) check(ctx, policy, pods);
    }
  },
};

function check(ctx: AnalysisContext, policy: Resource, pods: Map<string, Labels[]>): void {
  // Telemetry and WasmPlugin have no schema here; the fields read are the ones all four kinds share.
  const spec = asObject(policy.spec);
  if (usesTargetRef(spec)) return;
  if (spec.selector === undefined || spec.selector === null) return;
  const matchLabels = labelMap(asObject(spec.selector).matchLabels);
  const gateways = new Set<string>();
  for (const labels of pods.get(policy.namespace) ?? []) {
    if (selectorMatches(matchLabels, labels)) gateways.add(labels[GATEWAY_NAME_LABEL]!);
  }
  for (const gw of gateways) {
    ctx.report(
      'IST0166',
      policy,
      '/spec/selector',
      `${policy.kind} ${qualifiedName(policy)} selects the pods of Kubernetes Gateway ${gw} with a workload selector, which has no effect on them; attach it to the Gateway with targetRefs instead.`,
    );
  }
}
