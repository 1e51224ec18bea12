// The events a shift emits at each transition: one NDJSON line each with -o json (the contract in
// schemas/output/route-shift-event.json), and the lines of its text progress.
import type { GateCheck, AnalysisOutcome, SubsetFigures } from './gates.js';
import type { GateSettings, PlanStep, Weights } from './plan.js';

export const EVENT_TYPES = ['planned', 'step', 'analysis', 'hold', 'promoted', 'rolled_back', 'aborted'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

interface EventBase {
  type: EventType;
  /** When it happened (ISO-8601). */
  time: string;
  /** The shift's id (the same across --resume). */
  shift: string;
  /** The shifted host, fully qualified. */
  host: string;
  /** 1-based step the route is at (0: before the first step). */
  step: number;
  steps: number;
  /** The route's weights by subset once the event took effect. */
  weights: Weights;
}

export interface PlannedEvent extends EventBase {
  type: 'planned';
  virtualService: string;
  /** For an HTTPRoute shift: `namespace/name rule N`. */
  httpRoute?: string;
  route: string;
  from: string;
  to: string;
  plan: { kind: PlanStep['kind']; weight: number; header?: { name: string; value: string }; weights: Weights }[];
  intervalMs: number;
  gates: GateSettings;
  /** Shortest time to promotion (interval × steps) and time to roll back a failing version (interval × threshold). */
  minPromoteMs: number;
  rollbackMs: number;
  /** The route's weights after a rollback (the new subset at 0) and after an abort (as before the shift). */
  rollbackWeights: Weights;
  abortWeights: Weights;
  /** Sentences on what in the plan may surprise (a first step below the new subset's current share). */
  warnings: string[];
  /** Proxies that carry the route and whose weights the shift sets. */
  proxies: string[];
  dryRun: boolean;
  resumed: boolean;
}

export interface StepEvent extends EventBase {
  type: 'step';
  kind: PlanStep['kind'];
  /** `25%`, `header x-canary=yes`. */
  label: string;
  /** Time from the decision until every proxy served the new weights. */
  servedMs: number;
  proxies: number;
  /** Who moved the shift on, when not the analysis (`route promote`, --resume). */
  by?: string;
}

/** What one analysis found: the figures of both subsets over its window and the gates' verdicts. */
export interface AnalysisFigures {
  outcome: AnalysisOutcome | 'weights_changed' | 'metrics_unavailable';
  windowMs: number;
  canary: SubsetFigures;
  stable: SubsetFigures;
  checks: GateCheck[];
  failedChecks: number;
  reason: string | null;
}

export interface AnalysisEvent extends EventBase, AnalysisFigures {
  type: 'analysis';
  failureThreshold: number;
}

export interface HoldEvent extends EventBase {
  type: 'hold';
  reason: string;
  /** The command that continues the shift. */
  resume: string;
}

export interface PromotedEvent extends EventBase {
  type: 'promoted';
  durationMs: number;
  by?: string;
}

export interface RolledBackEvent extends EventBase {
  type: 'rolled_back';
  reason: string;
  /** When the decision was taken (ISO-8601) and how long until every proxy served the stable weights. */
  decidedAt: string;
  servedMs: number;
}

export interface AbortedEvent extends EventBase {
  type: 'aborted';
  reason: string;
  decidedAt: string;
  servedMs: number;
  by?: string;
}

export type ShiftEvent = PlannedEvent | StepEvent | AnalysisEvent | HoldEvent | PromotedEvent | RolledBackEvent | AbortedEvent;
