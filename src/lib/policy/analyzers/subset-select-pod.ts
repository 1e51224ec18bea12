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
import { resolveShortName } from '../hosts.js';
import { selectorMatches } from '../selectors.js';
import { asArray, asObject, deploymentPodShape, stringLabels } from './util.js';

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

/** A service as host resolution sees it: its workloadSelector labels (none for Kubernetes Services). */
interface HostEntry {
  selector: Record<string, string>;
}

const scoped = (scope: string, namespace: string, host: string) => `${scope}/${resolveShortName(namespace, host)}`;

/** Istio's host map: `scope/fqdn` → entry, for ServiceEntries (by exportTo) and Services (by the exportTo annotation). */
function hostMap(ctx: AnalysisContext): Map<string, HostEntry> {
  const map = new Map<string, HostEntry>();
  for (const se of ctx.of(K.ServiceEntry)) {
    const spec = asObject(se.spec);
    const entry: HostEntry = { selector: stringLabels(asObject(spec.workloadSelector).labels) };
    const exportTo = asArray(spec.exportTo).map(String);
    let toAll = exportTo.length === 0;
    for (const h of asArray(spec.hosts)) {
      const host = String(h);
      if (toAll) {
        map.set(scoped('*', se.namespace, host), entry);
        continue;
      }
      for (const e of exportTo) {
        if (e === '*') {
          map.set(scoped('*', se.namespace, host), entry);
          toAll = true;
          break;
        }
        map.set(scoped(e === '.' ? se.namespace : e, se.namespace, host), entry);
      }
    }
  }
  for (const svc of ctx.of(K.Service)) {
    const annotation = svc.annotations['networking.istio.io/exportTo'] ?? '';
    const scopes = annotation === '' ? ['*'] : annotation.split(',').map((s) => (s === '.' ? svc.namespace : s));
    for (const scope of scopes) map.set(scoped(scope, svc.namespace, svc.name), { selector: {} });
  }
  return map;
}

/** Istio's lookup of a DestinationRule host: exported to all, then to the rule's scopes, then wildcard hosts. */
function resolveHost(map: Map<string, HostEntry>, namespace: string, exportTo: string[], host: string): HostEntry | undefined {
  const all = map.get(scoped('*', namespace, host));
  if (all) return all;
  const scopes = exportTo.length === 0 ? [namespace] : exportTo.map((e) => (e === '.' ? namespace : e));
  for (const scope of scopes) {
    const found = map.get(scoped(scope, namespace, host));
    if (found) return found;
  }
  const bare = host.startsWith('*') ? host.slice(1) : host;
  for (const [key, entry] of map) {
    const slash = key.indexOf('/');
    const scope = key.slice(0, slash);
    const seHost = key.slice(slash + 1);
    if (!seHost.startsWith('*')) continue;
    if (scope !== '*' && scope !== namespace) continue;
    if (bare.endsWith(seHost.slice(1))) return entry;
  }
  return undefined;
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
    const spec = asObject(we.spec);
    list.push({ labels: withLocality(stringLabels(spec.labels), spec.locality), unscheduled: false });
  }
  let endpoints = 0;
  for (const se of ctx.of(K.ServiceEntry)) {
    for (const ep of asArray(asObject(se.spec).endpoints)) {
      const e = asObject(ep);
      endpoints++;
      list.push({ labels: withLocality(stringLabels(e.labels), e.locality), unscheduled: false });
    }
  }
  for (const w of ctx.of(K.Workload)) list.push({ labels: { ...w.labels, ...stringLabels(asObject(w.spec).labels) }, unscheduled: true });
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
    const hosts = hostMap(ctx);
    const workloads = candidates(ctx);
    for (const dr of rules) {
      const spec = asObject(dr.spec);
      const host = typeof spec.host === 'string' ? spec.host : '';
      let entry: HostEntry | undefined = { selector: {} };
      if (hostsKnown) {
        entry = resolveHost(hosts, dr.namespace, asArray(spec.exportTo).map(String), host);
        if (!entry) {
          ctx.report(
            'IST0174',
            dr,
            '/spec/host',
            `DestinationRule ${ruleName(dr)} host ${host} matches no Service or ServiceEntry in the mesh; fix the host or define the service.`,
          );
          continue;
        }
      }
      if (!workloads.known) continue;
      // Subsets by name (a later subset of the same name replaces an earlier one, as in Istio).
      const byName = new Map<string, number>();
      asArray(spec.subsets).forEach((s, i) => byName.set(String(asObject(s).name ?? ''), i));
      for (const [name, i] of byName) {
        const subset = asObject(asArray(spec.subsets)[i]);
        const selector = { ...entry.selector, ...stringLabels(subset.labels) };
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
