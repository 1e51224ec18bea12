// What a shift records in the mesh home (state/shifts/<host>.json): the plan, where it is, the change
// of weights in flight, the analyses and the history. The state machine writes it; the store keeps it;
// status, reconcile and control read it.
import type { ProcessIdentity } from '../system/processes.js';
import type { AnalysisFigures, EventType } from './events.js';
import type { ShiftPlan, Weights } from './plan.js';
import type { ShiftRoute } from './route.js';

export const SHIFT_API_VERSION = 'meshctl.dev/v1alpha1';

export type Phase = 'planned' | 'progressing' | 'held' | 'promoted' | 'rolled_back' | 'aborted';

export const TERMINAL_PHASES: readonly Phase[] = ['promoted', 'rolled_back', 'aborted'];

export interface ShiftOwner extends ProcessIdentity {
  since: string;
}

export interface AnalysisRecord extends AnalysisFigures {
  at: string;
  /** Plan step index (0-based). */
  cursor: number;
}

export interface HistoryEntry {
  at: string;
  event: EventType;
  /** Plan step index (0-based; -1 before the first step). */
  cursor: number;
  weights: Weights;
  reason?: string;
  by?: string;
}

/** A change of weights written down before it is made. */
export interface PendingChange {
  event: 'step' | 'rolled_back' | 'aborted';
  cursor: number;
  weights: Weights;
  decidedAt: string;
  reason?: string;
  by?: string;
}

export interface ShiftRecord {
  apiVersion: typeof SHIFT_API_VERSION;
  kind: 'RouteShift';
  id: string;
  createdAt: string;
  updatedAt: string;
  route: ShiftRoute;
  plan: ShiftPlan;
  /** The route's weights before the shift, at each step, and after a rollback. */
  weights: { baseline: Weights; steps: Weights[]; rollback: Weights };
  phase: Phase;
  /** Plan step the route is at (0-based); -1 before the first step. */
  cursor: number;
  /** The weights the shift last set (what every proxy serves once no change is pending). */
  served: Weights;
  /** When the current analysis window started (the step's weights were in place, or the last analysis). */
  windowStartedAt: string | null;
  failedChecks: number;
  pending: PendingChange | null;
  /** The meshctl process running the shift; null while held or ended. */
  owner: ShiftOwner | null;
  /** Why the shift is held, rolled back or aborted. */
  reason: string | null;
  manual: boolean;
  /** Set when `meshctl apply --force` changed the shifted route: --resume then wants the shift's own weights back first. */
  routeChanged?: { revision: number; change: string; at: string };
  /** The most recent analyses, oldest first. */
  analyses: AnalysisRecord[];
  history: HistoryEntry[];
}

export function isTerminal(record: Pick<ShiftRecord, 'phase'>): boolean {
  return TERMINAL_PHASES.includes(record.phase);
}

/**
 * Where a shift that does not promote leaves the route: a rollback (failed gates, or chosen) sends the new
 * subset nothing, as it just failed; an abort puts back the weights the shift started from (a new subset
 * that held 20% before keeps its 20%).
 */
export function endWeights(record: Pick<ShiftRecord, 'weights'>, event: 'rolled_back' | 'aborted'): Weights {
  return event === 'aborted' ? record.weights.baseline : record.weights.rollback;
}
