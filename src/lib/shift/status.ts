// `route status`: the recorded shift (plan, step, analyses, history with reasons) beside the weights every
// proxy actually serves, reconciled (the contract of -o json is schemas/output/route-status.json).
import { usageError } from '../errors.js';
import type { MeshTarget } from '../target/target.js';
import { isTerminal, type AnalysisRecord, type HistoryEntry, type PendingChange, type ShiftRecord } from './record.js';
import { stepLabel, type GateSettings, type PlanStep, type Weights } from './plan.js';
import { reconcile, type Reconciled } from './reconcile.js';
import { hostOf } from './shift.js';
import { ownerAlive, shiftRecords } from './store.js';
import { shiftTarget } from './target.js';

/** running: a meshctl process drives it; interrupted: its process is gone mid-shift (--resume continues). */
export type ShiftState = 'running' | 'interrupted' | 'held' | 'promoted' | 'rolled_back' | 'aborted';

export interface RouteStatus {
  host: string;
  shift: {
    id: string;
    state: ShiftState;
    reason: string | null;
    owner: { pid: number; alive: boolean } | null;
    virtualService: string;
    /** For an HTTPRoute shift: `namespace/name rule N`. */
    httpRoute?: string;
    route: string;
    from: string;
    to: string;
    /** 1-based step the record is at (0 before the first step). */
    step: number;
    steps: number;
    stepLabel: string;
    plan: { kind: PlanStep['kind']; weight: number; header?: { name: string; value: string }; weights: Weights }[];
    intervalMs: number;
    gates: GateSettings;
    /** When the running shift analyses next. */
    nextAnalysisAt: string | null;
    failedChecks: number;
    pending: PendingChange | null;
    createdAt: string;
    updatedAt: string;
  };
  /** What every proxy serves now, matched to the plan. */
  served: Reconciled;
  /** The route's weights in the applied VirtualService. */
  stored: Weights | null;
  /** The latest analyses, oldest first. */
  analyses: AnalysisRecord[];
  history: HistoryEntry[];
}

export function stateOf(record: ShiftRecord): ShiftState {
  if (isTerminal(record)) return record.phase as ShiftState;
  if (ownerAlive(record.owner)) return 'running';
  return record.phase === 'held' ? 'held' : 'interrupted';
}

export async function routeStatus(mesh: MeshTarget, options: { host: string; namespace: string; analyses?: number }): Promise<RouteStatus> {
  const host = await hostOf(mesh, options.host, options.namespace);
  const record = await shiftRecords(mesh, host).read();
  if (!record) throw usageError(`No shift of ${options.host} (${host}) is recorded in this mesh; start one with meshctl route shift ${options.host} --to SUBSET.`);
  return statusOf(mesh, record, options.analyses ?? 5);
}

/**
 * route status --watch started before the shift: waits for its record to appear, at most `timeoutMs`
 * (an unknown host is refused at once).
 */
export async function awaitRouteStatus(mesh: MeshTarget, options: { host: string; namespace: string; analyses?: number; timeoutMs: number; timeoutText: string }): Promise<RouteStatus> {
  const host = await hostOf(mesh, options.host, options.namespace);
  const store = shiftRecords(mesh, host);
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const record = await store.read();
    if (record) return statusOf(mesh, record, options.analyses ?? 5);
    if (Date.now() >= deadline) {
      throw usageError(`No shift of ${options.host} (${host}) started within ${options.timeoutText}; start one with meshctl route shift ${options.host} --to SUBSET, or wait longer with --timeout.`);
    }
    await new Promise((r) => setTimeout(r, Math.min(250, Math.max(1, deadline - Date.now()))));
  }
}

export async function statusOf(mesh: MeshTarget, record: ShiftRecord, analyses = 5): Promise<RouteStatus> {
  const target = shiftTarget(mesh, record.route);
  const [served, stored] = await Promise.all([target.readWeights(), target.storedWeights().catch(() => null)]);
  const r = record.route;
  const state = stateOf(record);
  const step = record.plan.steps[record.cursor];
  return {
    host: r.host,
    shift: {
      id: record.id,
      state,
      reason: record.reason,
      owner: record.owner ? { pid: record.owner.pid, alive: ownerAlive(record.owner) } : null,
      virtualService: `${r.virtualService.namespace}/${r.virtualService.name}`,
      ...(r.httpRoute ? { httpRoute: `${r.httpRoute.namespace}/${r.httpRoute.name} rule ${r.httpRoute.rule}` } : {}),
      route: r.name ? `http[${r.index}] (${r.name})` : `http[${r.index}]`,
      from: r.from,
      to: r.to,
      step: record.cursor + 1,
      steps: record.plan.steps.length,
      stepLabel: step ? stepLabel(step) : 'before the first step',
      plan: record.plan.steps.map((s, i) => ({ kind: s.kind, weight: s.weight, ...(s.header ? { header: s.header } : {}), weights: record.weights.steps[i] })),
      intervalMs: record.plan.intervalMs,
      gates: record.plan.gates,
      nextAnalysisAt: state === 'running' && record.windowStartedAt ? new Date(Date.parse(record.windowStartedAt) + record.plan.intervalMs).toISOString() : null,
      failedChecks: record.failedChecks,
      pending: record.pending,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    },
    served: reconcile(record, served),
    stored,
    analyses: record.analyses.slice(-analyses),
    history: record.history,
  };
}
