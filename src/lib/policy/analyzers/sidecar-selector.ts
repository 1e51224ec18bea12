// sidecar.SelectorAnalyzer: per namespace, a Sidecar's workloadSelector selects some workload, no workload is
// selected by two Sidecars, at most one Sidecar has no selector, and no Sidecar applies to ambient workloads.
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import type { RawGroup } from '../findings.js';
import { objectOf, specOf } from '../spec.js';
import { fewOf, NAMED_MEMBERS, othersOf, UnionFind } from './groups.js';
import {
  describeSelector,
  describeWorkload,
  labelMap,
  namespaceHasWorkloads,
  namespaceInAmbientMode,
  qualifiedName,
  selectWorkloads,
  selectorEntryPointer,
  workloadInAmbientMode,
  type Workload,
} from './workloads.js';

const SELECTOR_BASE = '/spec/workloadSelector/labels';

function nsLabel(ns: string): string {
  return ns ? `namespace ${ns}` : 'the same namespace';
}

function run(ctx: AnalysisContext): void {
  const byWorkload = new Map<Workload, Resource[]>();
  const namespaceWide = new Map<string, Resource[]>();
  for (const sc of ctx.of(K.Sidecar)) {
    const selector = labelMap(objectOf(specOf(sc, K.Sidecar).workloadSelector).labels);
    if (Object.keys(selector).length === 0) {
      const list = namespaceWide.get(sc.namespace) ?? [];
      list.push(sc);
      namespaceWide.set(sc.namespace, list);
      continue;
    }
    const selected = selectWorkloads(ctx, selector, sc.namespace);
    for (const w of selected) {
      const list = byWorkload.get(w) ?? [];
      list.push(sc);
      byWorkload.set(w, list);
    }
    if (selected.length === 0 && namespaceHasWorkloads(ctx, sc.namespace)) {
      ctx.report(
        'IST0101',
        sc,
        selectorEntryPointer(SELECTOR_BASE, selector, selectWorkloads(ctx, {}, sc.namespace)),
        `Sidecar ${qualifiedName(sc)} selects no workload with ${describeSelector(selector)} in ${nsLabel(sc.namespace)}; fix the workloadSelector or deploy the workload.`,
      );
    }
  }

  const ineffective = new Set<Resource>();
  const conflicting: { workload: Workload; sidecars: Resource[] }[] = [];
  for (const [w, sidecars] of byWorkload) {
    const ambient = workloadInAmbientMode(w);
    if (sidecars.length === 1 && !ambient) continue;
    if (!ambient) {
      conflicting.push({ workload: w, sidecars });
      continue;
    }
    for (const sc of sidecars) {
      if (ineffective.has(sc)) continue;
      ineffective.add(sc);
      ctx.report(
        'IST0167',
        sc,
        SELECTOR_BASE,
        `Sidecar ${qualifiedName(sc)} selects ${describeWorkload(w)}, which runs in ambient mode without a sidecar, so it has no effect; remove the Sidecar or take the workload out of ambient mode.`,
      );
    }
  }
  reportConflictingSelectors(ctx, conflicting);

  for (const [ns, sidecars] of namespaceWide) {
    const nsResource = ctx.find(K.Namespace, '', ns);
    if (namespaceInAmbientMode(nsResource)) {
      for (const sc of sidecars) {
        if (ineffective.has(sc)) continue;
        ineffective.add(sc);
        ctx.report(
          'IST0167',
          sc,
          '/spec/workloadSelector',
          `Sidecar ${qualifiedName(sc)} applies to namespace ${ns}, which runs in ambient mode without sidecars, so it has no effect; remove the Sidecar or take the namespace out of ambient mode.`,
        );
      }
      continue;
    }
    if (sidecars.length < 2) continue;
    const sorted = sidecars.map((s) => s.name).sort().slice(0, NAMED_MEMBERS + 1);
    const group = ctx.group('IST0111', sidecars.map((resource) => ({ resource, pointer: '/spec/workloadSelector' })));
    for (const sc of sidecars) {
      ctx.report(
        'IST0111',
        sc,
        '/spec/workloadSelector',
        `Sidecar ${sc.name} and ${fewOf(othersOf(sorted, sc.name), sidecars.length - 1, 'Sidecar')} in ${nsLabel(ns)} have no workloadSelector, so which one applies is undefined; keep one namespace-wide Sidecar and give the others a workloadSelector.`,
        group,
      );
    }
  }
}

/**
 * IST0110, once per Sidecar, at the first workload it shares: the Sidecars linked through shared workloads,
 * directly or through others, form one group.
 */
function reportConflictingSelectors(ctx: AnalysisContext, conflicting: { workload: Workload; sidecars: Resource[] }[]): void {
  const position = new Map<Resource, number>();
  for (const { sidecars } of conflicting) for (const sc of sidecars) if (!position.has(sc)) position.set(sc, position.size);
  const sets = new UnionFind(position.size);
  for (const { sidecars } of conflicting) for (const sc of sidecars) sets.union(position.get(sidecars[0]!)!, position.get(sc)!);
  const members = new Map<number, Resource[]>();
  for (const sc of ctx.of(K.Sidecar)) {
    const i = position.get(sc);
    if (i === undefined) continue;
    const root = sets.find(i);
    const list = members.get(root);
    if (list) list.push(sc);
    else members.set(root, [sc]);
  }
  const groups = new Map<number, RawGroup>();
  const reported = new Set<Resource>();
  for (const { workload, sidecars } of conflicting) {
    const sorted = sidecars.map((s) => s.name).sort().slice(0, NAMED_MEMBERS + 1);
    for (const sc of sidecars) {
      if (reported.has(sc)) continue;
      reported.add(sc);
      const root = sets.find(position.get(sc)!);
      let group = groups.get(root);
      if (!group) groups.set(root, (group = ctx.group('IST0110', members.get(root)!.map((resource) => ({ resource, pointer: SELECTOR_BASE })))));
      ctx.report(
        'IST0110',
        sc,
        SELECTOR_BASE,
        `Sidecar ${sc.name} in ${nsLabel(sc.namespace)} selects ${describeWorkload(workload)}, as ${sidecars.length > 2 ? 'do' : 'does'} ${fewOf(othersOf(sorted, sc.name), sidecars.length - 1, 'Sidecar')}, so which one applies is undefined; narrow their workloadSelectors so each workload has one Sidecar.`,
        group,
      );
    }
  }
}

export const sidecarSelector: Analyzer = {
  name: 'sidecar.SelectorAnalyzer',
  description: 'Checks that Sidecar workloadSelectors select a workload, that no workload has two Sidecars, and that Sidecars do not target ambient workloads',
  inputs: [K.Sidecar, K.Pod, K.Deployment, K.WorkloadEntry, K.Namespace],
  codes: ['IST0101', 'IST0110', 'IST0111', 'IST0167'],
  run,
};
