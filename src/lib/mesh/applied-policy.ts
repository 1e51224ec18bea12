// The policy a local mesh has applied, as the OLD side of `diff --live`: read from the mesh home's state
// store (the applied resources of the current revision), not from the proxies. What meshctl records for
// itself (a Workload's working directory) is left out of the comparison; a change of it restarts pods,
// which the report then lists with the other pod restarts.
import type { SourceFile } from '../policy/source.js';
import type { StoredResource } from './state.js';
import type { Resource } from '../policy/load.js';
import { keyOf } from '../policy/diff/pairing.js';
import { RISK_RANK, maxRisk, resourceKey, type DiffReport, type Risk } from '../policy/diff/model.js';

export interface LiveSource {
  source: SourceFile;
  revision: number;
  /** How the report names this side: `mesh revision N`, or a cluster's context. */
  label: string;
  /** Each applied Workload's working directory, by resource key. */
  workingDirs: Map<string, string>;
  /** The report with the pod restarts the change would cause added. */
  adjust(report: DiffReport, before: Resource[], after: Resource[]): Promise<DiffReport>;
}

/** Annotations meshctl writes on stored resources for its own bookkeeping, never a user's change. */
export const BOOKKEEPING_ANNOTATIONS = ['meshctl.dev/working-dir'];

/** Workload fields whose change gives every pod a new app process (command line, environment, identity). */
const RESTARTING_FIELDS = /^\/spec\/(command|env|port|serviceAccount)(\/|$)/;

/** `mesh`: the mesh target of --live (how it holds its policy is its own business). */
export async function readLive(mesh: { applied(): Promise<{ revision: number; label?: string; resources: StoredResource[] }> }): Promise<LiveSource> {
  const applied = await mesh.applied();
  const workingDirs = new Map<string, string>();
  const items = applied.resources.map((stored) => {
    const annotations = stored.metadata.annotations;
    if (!annotations || !BOOKKEEPING_ANNOTATIONS.some((a) => a in annotations)) return stored;
    const dir = annotations[BOOKKEEPING_ANNOTATIONS[0]];
    if (dir) {
      const [group] = stored.apiVersion.includes('/') ? stored.apiVersion.split('/') : [''];
      workingDirs.set(resourceKey({ group, kind: stored.kind, namespace: stored.metadata.namespace ?? '', name: stored.metadata.name }), dir);
    }
    const kept = Object.fromEntries(Object.entries(annotations).filter(([k]) => !BOOKKEEPING_ANNOTATIONS.includes(k)));
    const metadata = { ...stored.metadata, annotations: kept };
    if (!Object.keys(kept).length) delete (metadata as { annotations?: unknown }).annotations;
    return { ...stored, metadata };
  });
  const text = `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, 2)}\n`;
  const label = applied.label ?? `mesh revision ${applied.revision}`;
  const live: LiveSource = {
    source: { path: `<${label}>`, format: 'json', text, size: Buffer.byteLength(text) },
    revision: applied.revision,
    label,
    workingDirs,
    adjust: (report, before, after) => withPodRestarts(report, before, after, live),
  };
  return live;
}

function replicasOf(r: Resource): number {
  const n = r.spec?.replicas;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : 1;
}

/**
 * Adds what apply would do to running pods: a Workload whose app command, environment or working directory
 * changes has its pods replaced one at a time, each new pod ready before the old one stops. That is a change
 * of medium risk (a replacement that never becomes ready stops the rollout), even when the policy text is
 * the same and only the directory it is applied from moved.
 */
export async function withPodRestarts(report: DiffReport, before: Resource[], after: Resource[], live: LiveSource): Promise<DiffReport> {
  const { workingDirOf } = await import('./apply.js');
  const { K } = await import('../policy/kinds.js');
  const old = new Map(before.filter((r) => r.kindId === K.Workload).map((r) => [keyOf(r), r]));
  const changes = [...report.changes];
  let added = 0;
  for (const next of after) {
    if (next.kindId !== K.Workload) continue;
    const key = keyOf(next);
    const previous = old.get(key);
    if (!previous) continue;
    const fromDir = live.workingDirs.get(key) ?? null;
    // A Workload the files do not name keeps the directory it runs in.
    const toDir = next.doc?.file.path === live.source.path ? fromDir : workingDirOf(next);
    const index = changes.findIndex((c) => resourceKey(c.resource) === key);
    const change = index >= 0 ? changes[index] : undefined;
    const fields = change?.fields.filter((f) => RESTARTING_FIELDS.test(f.path)) ?? [];
    const moved = fromDir !== null && toDir !== null && fromDir !== toDir;
    if (!fields.length && !moved) continue;
    const pods = Math.min(replicasOf(previous), replicasOf(next));
    if (!pods) continue;
    const why = [
      ...(fields.length ? [`its ${[...new Set(fields.map((f) => f.path.split('/')[2]))].join(', ')} change${fields.length === 1 ? 's' : ''}`] : []),
      ...(moved ? [`its working directory moves from ${fromDir} to ${toDir} (the directory of the file applied)`] : []),
    ].join(' and ');
    const reason = `Restarts ${pods === 1 ? 'the pod' : `the ${pods} pods`} of Workload ${next.namespace}/${next.name} one at a time, each replacement ready before the old pod stops (${why}); a replacement that never becomes ready stops the rollout.`;
    const risk: Risk = 'medium';
    const dirField = moved ? [{ path: '/metadata/annotations/meshctl.dev~1working-dir', from: fromDir, to: toDir }] : [];
    if (change) {
      changes[index] = { ...change, risk: maxRisk(change.risk, risk), reasons: [reason, ...change.reasons], fields: [...change.fields, ...dirField] };
    } else {
      added++;
      const { resourceLocation } = await import('../policy/diff/location.js');
      const o = resourceLocation(previous);
      const n = resourceLocation(next);
      changes.push({
        op: 'changed',
        resource: { group: next.group, kind: next.kind, namespace: next.namespace, name: next.name, apiVersion: next.apiVersion, ...(o ? { old: o } : {}), ...(n ? { new: n } : {}) },
        risk,
        reasons: [reason],
        fields: dirField,
        hosts: [],
      });
    }
  }
  if (changes.every((c, i) => c === report.changes[i]) && changes.length === report.changes.length) return report;
  changes.sort((a, b) => (resourceKey(a.resource) < resourceKey(b.resource) ? -1 : 1));
  const risk: Record<Risk, number> = { high: 0, medium: 0, low: 0 };
  let highest: Risk | null = null;
  for (const c of changes) {
    risk[c.risk]++;
    if (highest === null || RISK_RANK[c.risk] > RISK_RANK[highest]) highest = c.risk;
  }
  return {
    ...report,
    changes,
    summary: { ...report.summary, changed: report.summary.changed + added, unchanged: report.summary.unchanged - added, risk, highest },
  };
}
