// Text renderings shared by the local-mesh commands (apply, delete, get, status): kubectl-like lines
// and tables.
import type { ResourceChange } from './state.js';
import type { ApplyResult, PodStatus } from './agent/protocol.js';
import { splitApiVersion } from '../policy/kinds.js';

/** `virtualservice.networking.istio.io/reviews`, as kubectl names a resource. */
export function resourceName(r: { apiVersion: string; kind: string; name: string; namespace?: string }): string {
  const { group } = splitApiVersion(r.apiVersion);
  return `${r.kind.toLowerCase()}${group ? `.${group}` : ''}/${r.name}`;
}

export function changeLine(c: ResourceChange): string {
  const ns = c.namespace && c.namespace !== 'default' ? ` -n ${c.namespace}` : '';
  return `${resourceName(c)}${ns} ${c.action}`;
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** kubectl's AGE: 45s, 12m, 3h, 2d. */
export function age(since: string | null | undefined, now = Date.now()): string {
  if (!since) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** The pod's STATUS column: Running when ready, else what keeps it from being ready. */
export function podPhase(p: PodStatus): string {
  if (p.ready) return 'Running';
  const states = p.containers.map((c) => c.process?.phase ?? 'Stopped');
  // A container that died and is not ready again: waiting for its restart, or failing right after it.
  if (states.includes('BackOff') || p.containers.some((c) => !c.ready && (c.process?.restarts ?? 0) > 0 && c.process?.lastExit)) return 'CrashLoopBackOff';
  if (states.every((s) => s === 'Running')) return 'NotReady';
  return 'ContainerCreating';
}

export function applySummary(r: ApplyResult, verb: 'applied' | 'deleted'): string {
  const lines = r.changes.map(changeLine);
  for (const p of r.pods) lines.push(`pod/${p.name} ${p.action}`);
  if (!r.committed) {
    lines.push(`No change: the mesh stays at revision ${r.revision}.`);
    return `${lines.join('\n')}\n`;
  }
  // "Revision 12 deleted" would read as if the revision itself was removed: say what went, then where the mesh is.
  const deleted = r.changes.filter((c) => c.action === 'deleted').length;
  const head = verb === 'applied' ? `Revision ${r.revision} applied` : `Deleted ${deleted} resource${deleted === 1 ? '' : 's'}; the mesh is now at revision ${r.revision}`;
  lines.push(r.synced ? `${head}: every pod is ready and every proxy serves it (${seconds(r.elapsedMs)}).` : `${head} (${seconds(r.elapsedMs)}).`);
  return `${lines.join('\n')}\n`;
}
