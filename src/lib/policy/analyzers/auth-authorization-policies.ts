// auth.AuthorizationPoliciesAnalyzer: an AuthorizationPolicy that selects no workload in the mesh (IST0127),
// and source namespaces (or notNamespaces) that match no namespace (IST0101).
//
// Workloads are meshed Pods (sidecar or ambient), as in Istio, and also what files declare instead of
// running pods: meshed Deployments' pod templates, WorkloadEntries and meshctl Workloads. When the input
// holds no workload of any kind, nothing can be said about selectors and the check is skipped; when it
// holds no Namespace, the same goes for namespace references.
import type { AnalysisContext, Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { selectorMatches } from '../selectors.js';
import { listOf, objectOf, specOf } from '../spec.js';
import {
  ambientRedirected,
  deploymentPodShape,
  localWorkloadLabels,
  podShape,
  selectorString,
  sidecarInjected,
  stringLabels,
} from './util.js';

interface Workload {
  namespace: string;
  labels: Record<string, string>;
}

const DATAPLANE_MODE = 'istio.io/dataplane-mode';

/** Namespaces labelled for ambient mode (and not for sidecar injection). */
function ambientNamespace(ctx: AnalysisContext, namespace: string): boolean {
  const ns = ctx.find(K.Namespace, '', namespace);
  if (!ns) return false;
  if (ns.labels['istio-injection'] === 'enabled' || ns.labels['istio.io/rev']) return false;
  return ns.labels[DATAPLANE_MODE] === 'ambient';
}

/** Every workload in the mesh the input describes, and whether the input describes workloads at all. */
function meshWorkloads(ctx: AnalysisContext): { workloads: Workload[]; known: boolean } {
  const workloads: Workload[] = [];
  const pods = ctx.of(K.Pod);
  const deployments = ctx.of(K.Deployment);
  const entries = ctx.of(K.WorkloadEntry);
  const locals = ctx.of(K.Workload);
  for (const pod of pods) {
    if (sidecarInjected(ctx, podShape(pod)) || ambientRedirected(pod.annotations)) workloads.push({ namespace: pod.namespace, labels: pod.labels });
  }
  for (const d of deployments) {
    const template = deploymentPodShape(d);
    const mode = template.labels[DATAPLANE_MODE];
    const ambient = mode === 'ambient' || (mode !== 'none' && ambientNamespace(ctx, d.namespace)) || ambientRedirected(template.annotations);
    if (ambient || sidecarInjected(ctx, template)) workloads.push({ namespace: d.namespace, labels: template.labels });
  }
  for (const we of entries) workloads.push({ namespace: we.namespace, labels: stringLabels(specOf(we, K.WorkloadEntry).labels) });
  for (const w of locals) workloads.push({ namespace: w.namespace, labels: localWorkloadLabels(w) });
  return { workloads, known: pods.length + deployments.length + entries.length + locals.length > 0 };
}

/** Istio's namespace patterns: `*`, a `*suffix`, a `prefix*`, or an exact name (case-insensitive). */
export function namespacePatternMatches(namespace: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return namespace.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return namespace.startsWith(pattern.slice(0, -1));
  return namespace.toLowerCase() === pattern.toLowerCase();
}

/** Namespaces known to exist: declared ones, those the input puts resources in, Kubernetes' own and the root namespace. */
function knownNamespaces(ctx: AnalysisContext): string[] {
  const names = new Set<string>(['default', 'kube-system', 'kube-public', 'kube-node-lease', ctx.meshConfig.rootNamespace || ctx.istioNamespace]);
  for (const ns of ctx.of(K.Namespace)) names.add(ns.name);
  for (const r of ctx.resources) if (r.namespace) names.add(r.namespace);
  return [...names];
}

function policyName(ap: Resource): string {
  return ap.namespace ? `${ap.namespace}/${ap.name}` : ap.name;
}

function checkWorkloads(ctx: AnalysisContext, ap: Resource, workloads: Workload[]): void {
  const spec = specOf(ap, K.AuthorizationPolicy);
  // Policies bound by targetRef(s) apply to gateways and waypoints, not to workloads picked by labels.
  if (spec.targetRef || listOf(spec.targetRefs).length > 0) return;
  const hasSelector = spec.selector !== undefined && spec.selector !== null;
  const selector = stringLabels(objectOf(spec.selector).matchLabels);
  const selectorPointer = objectOf(spec.selector).matchLabels !== undefined ? '/spec/selector/matchLabels' : '/spec/selector';
  const shown = selectorString(selector) || '(any labels)';
  const root = ctx.meshConfig.rootNamespace || ctx.istioNamespace;
  if (ap.namespace === root) {
    if (hasSelector && !workloads.some((w) => selectorMatches(selector, w.labels))) {
      ctx.report(
        'IST0127',
        ap,
        selectorPointer,
        `AuthorizationPolicy ${policyName(ap)} is mesh-wide but its selector ${shown} matches no workload in the mesh; fix the selector labels or remove the policy.`,
      );
    }
    return;
  }
  const local = workloads.filter((w) => w.namespace === ap.namespace);
  if (!hasSelector) {
    if (local.length === 0) {
      ctx.report(
        'IST0127',
        ap,
        '/metadata/namespace',
        `AuthorizationPolicy ${policyName(ap)} applies to namespace ${ap.namespace || '(none)'}, which has no workload in the mesh; move the policy to the namespace of its workloads or deploy them.`,
      );
    }
    return;
  }
  if (!local.some((w) => selectorMatches(selector, w.labels))) {
    ctx.report(
      'IST0127',
      ap,
      selectorPointer,
      `AuthorizationPolicy ${policyName(ap)} selects ${shown}, which matches no workload in the mesh in namespace ${ap.namespace || '(none)'}; fix the selector labels or deploy a matching workload.`,
    );
  }
}

function checkNamespaces(ctx: AnalysisContext, ap: Resource, known: string[]): void {
  listOf(specOf(ap, K.AuthorizationPolicy).rules).forEach((rule, i) => {
    listOf(objectOf(rule).from).forEach((from, j) => {
      const source = objectOf(objectOf(from).source);
      for (const field of ['namespaces', 'notNamespaces'] as const) {
        listOf(source[field]).forEach((value, k) => {
          const pattern = String(value);
          if (known.some((ns) => namespacePatternMatches(ns, pattern))) return;
          ctx.report(
            'IST0101',
            ap,
            `/spec/rules/${i}/from/${j}/source/${field}/${k}`,
            `AuthorizationPolicy ${policyName(ap)} names namespace '${pattern}' in source.${field}, which matches no namespace; fix the name or add the Namespace.`,
          );
        });
      }
    });
  });
}

export const authorizationPolicies: Analyzer = {
  name: 'auth.AuthorizationPoliciesAnalyzer',
  description: 'Checks that AuthorizationPolicies select workloads in the mesh and name namespaces that exist',
  inputs: [K.AuthorizationPolicy, K.Namespace, K.Pod, K.Deployment, K.WorkloadEntry, K.Workload],
  codes: ['IST0127', 'IST0101'],
  run(ctx) {
    const policies = ctx.of(K.AuthorizationPolicy);
    if (policies.length === 0) return;
    const { workloads, known: workloadsKnown } = meshWorkloads(ctx);
    const namespaces = ctx.of(K.Namespace).length > 0 ? knownNamespaces(ctx) : null;
    for (const ap of policies) {
      if (workloadsKnown) checkWorkloads(ctx, ap, workloads);
      if (namespaces) checkNamespaces(ctx, ap, namespaces);
    }
  },
};
