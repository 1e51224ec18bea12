// destinationrule.SubsetSelectPodAnalyzer: a DestinationRule whose host is no known service (IST0174), and
// subsets whose labels (with the ServiceEntry's workloadSelector) select no workload (IST0173).
//
// As in Istio, a subset may be satisfied by any Pod, its labels augmented with its Node's topology labels.
// Files describe workloads by more than Pods, so Deployments' pod templates, WorkloadEntries, ServiceEntry
// endpoints and meshctl Workloads count too (topology labels an unscheduled template can't know are
// left unchecked). With no workload of any kind in the input, subsets are not checked; with no Service
// or ServiceEntry, hosts are not checked.
import type { AnalysisContext, Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { EXPORT_LOCAL, exportToList } from '../hosts.js';
import { selectorMatches } from '../selectors.js';
import { ServiceHostIndex, type ServiceHost } from './hosts.js';
import { listOf, objectOf, specOf } from '../spec.js';
import { asObject, deploymentPodShape, localWorkloadLabels, stringLabels } from './util.js';

const REGION = 'topology.kubernetes.io/region';
const ZONE = 'topology.kubernetes.io/zone';
const SUBZONE = 'topology.istio.io/subzone';
const HOSTNAME = 'kubernetes.io/hostname';
const TOPOLOGY_KEYS = [REGION, ZONE, SUBZONE, HOSTNAME];

interface Candidate {
  labels: Record<string, string>;
  /** True when topology labels are not known yet (a template, not a scheduled pod). */
  unscheduled: boolean;
}

/** The workloadSelector labels a host adds to its DestinationRule's subsets (a ServiceEntry's; none for a Kubernetes Service). */
function hostSelector(host: ServiceHost): Record<string, string> {
  return host.kind === 'ServiceEntry' ? stringLabels(objectOf(specOf(host.resource, K.ServiceEntry).workloadSelector).labels) : {};
}

/** Labels plus those a locality (`region/zone/subzone`) gives, as the registry adds them to endpoints. */
function withLocality(labels: Record<string, string>, locality: unknown): Record<string, string> {
  if (typeof locality !== 'string' || locality === '') return labels;
  const [region, zone, subzone] = locality.split('/');
  const out = { ...labels };
  if (region) out[REGION] = region;
  if (zone) out[ZONE] = zone;
  if (subzone) out[SUBZONE] = subzone;
  return out;
}

/** Every workload subsets may select, and whether the input describes any. */
function candidates(ctx: AnalysisContext): { list: Candidate[]; known: boolean } {
  const nodes = new Map<string, Record<string, string>>();
  for (const node of ctx.of(K.Node)) nodes.set(node.name, node.labels);
  const list: Candidate[] = [];
  for (const pod of ctx.of(K.Pod)) {
    const labels = { ...pod.labels };
    const nodeName = asObject(pod.spec).nodeName;
    const node = typeof nodeName === 'string' && nodeName !== '' ? nodes.get(nodeName) : undefined;
    if (node) {
      for (const key of [REGION, ZONE, SUBZONE]) if (node[key]) labels[key] = node[key]!;
      labels[HOSTNAME] = nodeName as string;
    }
    list.push({ labels, unscheduled: false });
  }
  for (const d of ctx.of(K.Deployment)) list.push({ labels: deploymentPodShape(d).labels, unscheduled: true });
  for (const we of ctx.of(K.WorkloadEntry)) {
    const spec = specOf(we, K.WorkloadEntry);
    list.push({ labels: withLocality(stringLabels(spec.labels), spec.locality), unscheduled: false });
  }
  let endpoints = 0;
  for (const se of ctx.of(K.ServiceEntry)) {
    for (const ep of listOf(specOf(se, K.ServiceEntry).endpoints)) {
      const e = objectOf(ep);
      endpoints++;
      list.push({ labels: withLocality(stringLabels(e.labels), e.locality), unscheduled: false });
    }
  }
  for (const w of ctx.of(K.Workload)) list.push({ labels: localWorkloadLabels(w), unscheduled: true });
  const known = ctx.of(K.Pod).length + ctx.of(K.Deployment).length + ctx.of(K.WorkloadEntry).length + ctx.of(K.Workload).length + endpoints > 0;
  return { list, known };
}

/** matchLabels semantics: every key present with the same value; topology keys an unscheduled workload lacks are not held against it. */
function selects(selector: Record<string, string>, c: Candidate): boolean {
  if (!c.unscheduled) return selectorMatches(selector, c.labels);
  const asked = Object.fromEntries(Object.entries(selector).filter(([key]) => Object.hasOwn(c.labels, key) || !TOPOLOGY_KEYS.includes(key)));
  return selectorMatches(asked, c.labels);
}

function ruleName(dr: Resource): string {
  return dr.namespace ? `${dr.namespace}/${dr.name}` : dr.name;
}

export const subsetSelectPod: Analyzer = {
  name: 'destinationrule.SubsetSelectPodAnalyzer',
  description: 'Checks that DestinationRule hosts are known services and that every subset selects at least one workload',
  inputs: [K.DestinationRule, K.Service, K.ServiceEntry, K.Pod, K.Node, K.Deployment, K.WorkloadEntry, K.Workload],
  codes: ['IST0173', 'IST0174'],
  run(ctx) {
    const rules = ctx.of(K.DestinationRule);
    if (rules.length === 0) return;
    const hostsKnown = ctx.of(K.Service).length + ctx.of(K.ServiceEntry).length > 0;
    const hosts = ServiceHostIndex.of(ctx);
    const workloads = candidates(ctx);
    for (const dr of rules) {
      const spec = specOf(dr, K.DestinationRule);
      const host = typeof spec.host === 'string' ? spec.host : '';
      let hostLabels: Record<string, string> = {};
      if (hostsKnown) {
        // Looked up from where the rule is visible: its own namespace unless exportTo says otherwise.
        const exportTo = exportToList(spec.exportTo);
        const entry = hosts.resolve(dr.namespace, host, exportTo.length === 0 ? [dr.namespace] : exportTo.map((e) => (e === EXPORT_LOCAL ? dr.namespace : e)));
        if (!entry) {
          ctx.report(
            'IST0174',
            dr,
            '/spec/host',
            `DestinationRule ${ruleName(dr)} host ${host} matches no Service or ServiceEntry in the mesh; fix the host or define the service.`,
          );
          continue;
        }
        hostLabels = hostSelector(entry);
      }
      if (!workloads.known) continue;
      // Subsets by name (a later subset of the same name replaces an earlier one, as in Istio).
      const byName = new Map<string, number>();
      const subsets = listOf(spec.subsets);
      subsets.forEach((s, i) => byName.set(String(objectOf(s).name ?? ''), i));
      for (const [name, i] of byName) {
        const subset = objectOf(subsets[i]);
        const selector = { ...hostLabels, ...stringLabels(subset.labels) };
        if (workloads.list.some((c) => selects(selector, c))) continue;
        ctx.report(
          'IST0173',
          dr,
          subset.labels !== undefined ? `/spec/subsets/${i}/labels` : `/spec/subsets/${i}`,
          `Subset ${name} of DestinationRule ${ruleName(dr)} selects no workload (labels ${Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',') || 'none'}), so traffic routed to it fails with 503 no healthy upstream; fix the subset labels or deploy matching workloads.`,
        );
      }
    }
  },
};
