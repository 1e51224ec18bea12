// sidecar.SelectorAnalyzer: per namespace, a Sidecar's workloadSelector selects some workload, no workload is
// selected by two Sidecars, at most one Sidecar has no selector, and no Sidecar applies to ambient workloads.
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { asObject } from './util.js';
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
    const selector = labelMap(asObject(asObject(sc.spec).workloadSelector).labels);
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
  for (const [w, sidecars] of byWorkload) {
    const ambient = workloadInAmbientMode(w);
    if (sidecars.length === 1 && !ambient) continue;
    const names = sidecars.map((s) => s.name).join(', ');
    for (const sc of sidecars) {
      if (ambient) {
        if (ineffective.has(sc)) continue;
        ineffective.add(sc);
        ctx.report(
          'IST0167',
          sc,
          SELECTOR_BASE,
          `Sidecar ${qualifiedName(sc)} selects ${describeWorkload(w)}, which runs in ambient mode without a sidecar, so it has no effect; remove the Sidecar or take the workload out of ambient mode.`,
        );
        continue;
      }
      ctx.report(
        'IST0110',
        sc,
        SELECTOR_BASE,
        `Sidecars ${names} in ${nsLabel(sc.namespace)} all select ${describeWorkload(w)}, so which one applies is undefined; narrow their workloadSelectors so each workload has one Sidecar.`,
      );
    }
  }

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
    const names = sidecars.map((s) => s.name).join(', ');
    for (const sc of sidecars) {
      ctx.report(
        'IST0111',
        sc,
        '/spec/workloadSelector',
        `Sidecars ${names} in ${nsLabel(ns)} have no workloadSelector, so which one applies is undefined; keep one namespace-wide Sidecar and give the others a workloadSelector.`,
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
