// Workloads and label selectors, as far as files can tell them: Pods, the pod templates of Deployments,
// StatefulSets and DaemonSets, WorkloadEntries and meshctl Workloads. Istio's analyzers match selectors
// against live Pods only; files rarely hold Pods, so meshctl lets a pod template or a WorkloadEntry
// satisfy a selector too, and stays silent where the files model no workload a selector could mean.
import type { AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { joinPointer } from '../locate.js';
import { selectorMatches } from '../selectors.js';
import { objectOf, specOf } from '../spec.js';
import { asArray, asObject } from './util.js';

export type WorkloadSource = 'Pod' | 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'WorkloadEntry' | 'Workload';

export interface Workload {
  source: WorkloadSource;
  resource: Resource;
  namespace: string;
  name: string;
  /** The pod's labels (a template's for controllers, `spec.labels` for a WorkloadEntry, `metadata.labels` for a Workload). */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Containers of the pod or pod template (empty for WorkloadEntries and meshctl Workloads). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  containers: any[];
}

export type Labels = Record<string, string>;

/** Label on the pods Istio deploys for a Kubernetes Gateway (and on the Gateway's waypoints). */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** Annotation the ambient data plane puts on pods whose traffic it redirects. */
export const AMBIENT_REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';
export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';
export const INJECTION_LABEL = 'istio-injection';
export const REVISION_LABEL = 'istio.io/rev';

const CONTROLLER_KINDS: { kindId: string; source: WorkloadSource }[] = [
  { kindId: K.Deployment, source: 'Deployment' },
  { kindId: 'apps/StatefulSet', source: 'StatefulSet' },
  { kindId: 'apps/DaemonSet', source: 'DaemonSet' },
];

/** A label map from user input: values as strings (null as ''), non-maps as empty. */
export function labelMap(value: unknown): Labels {
  const out: Labels = {};
  for (const [key, v] of Object.entries(asObject(value))) out[key] = v === null || v === undefined ? '' : String(v);
  return out;
}

/** True when every pair of `a` is in `b` (so whatever `b` selects, `a` selects too). */
export function selectorSubset(a: Labels, b: Labels): boolean {
  return selectorMatches(a, b);
}

/** Kubernetes' canonical form, keys sorted: `app=reviews,version=v1` ('' for an empty selector). */
export function selectorString(selector: Labels): string {
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(',');
}

/** How a selector reads in a message, in file order: `istio: ingressgateway, app: x`. */
export function describeSelector(selector: Labels): string {
  const pairs = Object.entries(selector).map(([k, v]) => `${k}: ${v}`);
  return pairs.length ? pairs.join(', ') : '{} (everything)';
}

/** `ns/name`, or `name` for a resource read without a namespace. */
export function qualifiedName(r: { namespace: string; name: string }): string {
  return r.namespace ? `${r.namespace}/${r.name}` : r.name;
}

const cache = new WeakMap<AnalysisContext, Workload[]>();

/**
 * Every workload in the inputs, Pods first, then controllers, WorkloadEntries and meshctl Workloads, each in
 * input order. A controller whose Pods are also in the inputs is left out, so one workload counts once.
 */
export function workloadsOf(ctx: AnalysisContext): Workload[] {
  const known = cache.get(ctx);
  if (known) return known;
  const out: Workload[] = [];
  const pods = ctx.of(K.Pod);
  for (const r of pods) {
    out.push({ source: 'Pod', resource: r, namespace: r.namespace, name: r.name, labels: r.labels, annotations: r.annotations, containers: podContainers(r.spec) });
  }
  for (const { kindId, source } of CONTROLLER_KINDS) {
    for (const r of ctx.of(kindId)) {
      const template = asObject(asObject(r.spec).template);
      const meta = asObject(template.metadata);
      const labels = labelMap(meta.labels);
      const ownPodPresent = Object.keys(labels).length > 0 && pods.some((p) => p.namespace === r.namespace && selectorMatches(labels, p.labels));
      if (ownPodPresent) continue;
      out.push({ source, resource: r, namespace: r.namespace, name: r.name, labels, annotations: labelMap(meta.annotations), containers: podContainers(template.spec) });
    }
  }
  for (const r of ctx.of(K.WorkloadEntry)) {
    out.push({ source: 'WorkloadEntry', resource: r, namespace: r.namespace, name: r.name, labels: labelMap(specOf(r, K.WorkloadEntry).labels), annotations: r.annotations, containers: [] });
  }
  for (const r of ctx.of(K.Workload)) {
    out.push({ source: 'Workload', resource: r, namespace: r.namespace, name: r.name, labels: r.labels, annotations: r.annotations, containers: [] });
  }
  cache.set(ctx, out);
  return out;
}

function podContainers(spec: unknown): unknown[] {
  const s = asObject(spec);
  return [...asArray(s.containers), ...asArray(s.initContainers)];
}

/** Workloads a selector picks, optionally only in one namespace. */
export function selectWorkloads(ctx: AnalysisContext, selector: Labels, namespace?: string): Workload[] {
  return workloadsOf(ctx).filter((w) => (namespace === undefined || w.namespace === namespace) && selectorMatches(selector, w.labels));
}

/** `Pod default/reviews-1`, `Deployment default/reviews`. */
export function describeWorkload(w: Workload): string {
  return `${w.source} ${qualifiedName(w)}`;
}

/**
 * Whether the inputs say enough to call a cluster-wide selector (an Istio Gateway's) unsatisfied: some
 * workload carries one of its label keys. Application manifests next to a Gateway for an ingress gateway
 * installed elsewhere then stay quiet, while a typo in a value of a modelled gateway's label is caught.
 */
export function clusterSelectorCheckable(ctx: AnalysisContext, selector: Labels): boolean {
  const keys = Object.keys(selector);
  return workloadsOf(ctx).some((w) => keys.length === 0 || keys.some((k) => Object.hasOwn(w.labels, k)));
}

/** Whether the inputs model any workload in a namespace, so a namespace-local selector can be judged. */
export function namespaceHasWorkloads(ctx: AnalysisContext, namespace: string): boolean {
  return workloadsOf(ctx).some((w) => w.namespace === namespace);
}

/**
 * Pointer to the selector entry most likely at fault: the first (in file order) whose key/value no candidate
 * workload carries, else the first entry; the selector itself when it is empty.
 */
export function selectorEntryPointer(base: string, selector: Labels, candidates: Workload[]): string {
  const keys = Object.keys(selector);
  if (keys.length === 0) return base;
  const missing = keys.find((k) => !candidates.some((w) => w.labels[k] === selector[k]));
  return joinPointer(base, missing ?? keys[0]!);
}

/** A named port of a workload: a container port, or a WorkloadEntry's `ports` entry. */
export function namedPort(w: Workload, name: string): number | undefined {
  for (const c of w.containers) {
    for (const p of asArray<Record<string, unknown>>(asObject(c).ports)) {
      if (asObject(p).name === name && Number.isInteger(Number(asObject(p).containerPort))) return Number(asObject(p).containerPort);
    }
  }
  if (w.source === 'WorkloadEntry') {
    const n = objectOf(specOf(w.resource, K.WorkloadEntry).ports)[name];
    if (Number.isInteger(Number(n))) return Number(n);
  }
  return undefined;
}

/** Services (from the inputs) that select a workload: same namespace, a non-empty selector it satisfies. */
export function servicesOf(ctx: AnalysisContext, w: Workload): Resource[] {
  return ctx.of(K.Service).filter((s) => {
    if (s.namespace !== w.namespace) return false;
    const sel = labelMap(asObject(s.spec).selector);
    return Object.keys(sel).length > 0 && selectorMatches(sel, w.labels);
  });
}

/** Istio's ambient test for a pod: the data plane annotated it for redirection. */
export function workloadInAmbientMode(w: Workload): boolean {
  return w.annotations[AMBIENT_REDIRECTION_ANNOTATION] === 'enabled';
}

/** Istio's ambient test for a namespace: labelled ambient, with no sidecar injection or revision label. */
export function namespaceInAmbientMode(ns: Resource | undefined): boolean {
  if (!ns) return false;
  if (ns.labels[INJECTION_LABEL] === 'enabled') return false;
  if (ns.labels[REVISION_LABEL]) return false;
  return ns.labels[DATAPLANE_MODE_LABEL] === 'ambient';
}

/**
 * The Istio Gateway selector finding, shared by the gateway analyzers so a full run reports it once: IST0101 at
 * the selector entry at fault. Returns false (and reports nothing) when the inputs can't tell.
 */
export function reportUnmatchedGatewaySelector(ctx: AnalysisContext, gateway: Resource, selector: Labels): boolean {
  if (!clusterSelectorCheckable(ctx, selector)) return false;
  const pointer = selectorEntryPointer('/spec/selector', selector, workloadsOf(ctx));
  ctx.report(
    'IST0101',
    gateway,
    pointer,
    `Gateway ${qualifiedName(gateway)} selects no workload with ${describeSelector(selector)}; fix the selector or deploy the gateway.`,
  );
  return true;
}
