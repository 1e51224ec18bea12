// A traffic shift's plan: the new subset's weight at each step (never past the maximum), the optional
// header-canary and mirror first steps, the interval between analyses and the gates each analysis applies.
import { usageError } from '../errors.js';
import { formatDuration } from '../policy/duration.js';
import type { Weights } from '../target/target.js';

export type StepKind = 'header' | 'mirror' | 'weight';

export interface PlanStep {
  kind: StepKind;
  /** The new subset's weight on the shifted route (0 for header and mirror steps: the split is unchanged). */
  weight: number;
  /** Header steps: requests carrying this header (exact value) go to the new subset. */
  header?: { name: string; value: string };
}

export type NoTrafficAction = 'hold' | 'continue' | 'rollback';

export interface GateSettings {
  /** Non-5xx / total × 100 of the new subset's requests must be at least this. */
  minSuccessRate: number;
  /** The new subset's p99 latency must be at most this (null: no latency gate). */
  maxLatencyP99Ms: number | null;
  /** Fewer requests to the new subset in an interval is "not enough traffic", never a failure. */
  minRequests: number;
  /** Failed checks before the shift rolls back. */
  failureThreshold: number;
  onNoTraffic: NoTrafficAction;
  /** --gate: PromQL gates beside the built-in ones (they need Prometheus). */
  custom?: CustomGate[];
}

/** A PromQL gate: the query's value must stand `op` to `threshold` to pass. */
export interface CustomGate {
  name: string;
  query: string;
  op: '<' | '<=' | '>' | '>=';
  threshold: number;
}

export interface ShiftPlan {
  steps: PlanStep[];
  intervalMs: number;
  gates: GateSettings;
}

export const DEFAULT_GATES: GateSettings = {
  minSuccessRate: 99,
  maxLatencyP99Ms: 500,
  minRequests: 20,
  failureThreshold: 1,
  onNoTraffic: 'hold',
};

export const DEFAULT_STEP_WEIGHT = 20;
export const DEFAULT_INTERVAL_MS = 30_000;

/** `5,10,25,50,100` → [5, 10, 25, 50, 100]: whole percentages from 1 to 100, each above the one before. */
export function parseStepList(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (!parts.length) throw usageError(`--steps ${JSON.stringify(text)} names no weight; write the new subset's weights in order, e.g. --steps 5,10,25,50,100.`);
  const steps = parts.map((p) => {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 100) throw usageError(`--steps: ${JSON.stringify(p)} is not a whole percentage from 1 to 100; write e.g. --steps 5,10,25,50,100.`);
    return Number(p);
  });
  steps.forEach((w, i) => {
    if (i > 0 && w <= steps[i - 1]) throw usageError(`--steps must rise at every step, but ${w} follows ${steps[i - 1]}; write e.g. --steps 5,10,25,50,100.`);
  });
  return steps;
}

/** `x-canary=yes` → { name: 'x-canary', value: 'yes' }; header names are lower-cased as HTTP/2 sends them. */
export function parseHeaderMatch(text: string): { name: string; value: string } {
  const eq = text.indexOf('=');
  const name = eq > 0 ? text.slice(0, eq).trim().toLowerCase() : '';
  const value = eq > 0 ? text.slice(eq + 1) : '';
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name) || value === '') throw usageError(`--header ${JSON.stringify(text)} is not NAME=VALUE; write e.g. --header x-canary=yes.`);
  return { name, value };
}

/**
 * The new subset's weight at each step. `steps` as given; else `stepWeight` added until `maxWeight`,
 * whose value is always the last step exactly (20 with a maximum of 50 gives 20, 40, 50: never 60).
 */
export function weightSteps(options: { steps?: number[]; stepWeight?: number; maxWeight?: number }): number[] {
  if (options.steps) {
    if (options.stepWeight !== undefined || options.maxWeight !== undefined) throw usageError('--steps lists every weight itself; leave out --step-weight and --max-weight, or drop --steps.');
    return [...options.steps];
  }
  const step = options.stepWeight ?? DEFAULT_STEP_WEIGHT;
  const max = options.maxWeight ?? 100;
  if (!Number.isInteger(step) || step < 1 || step > 100) throw usageError(`--step-weight ${step} is not a whole percentage from 1 to 100.`);
  if (!Number.isInteger(max) || max < 1 || max > 100) throw usageError(`--max-weight ${max} is not a whole percentage from 1 to 100.`);
  const out: number[] = [];
  for (let w = step; w < max; w += step) out.push(w);
  out.push(max);
  return out;
}

export interface PlanInput {
  steps?: number[];
  stepWeight?: number;
  maxWeight?: number;
  header?: { name: string; value: string };
  mirror?: boolean;
  intervalMs?: number;
  gates?: Partial<GateSettings>;
}

export function checkGates(gates: GateSettings): GateSettings {
  if (!(gates.minSuccessRate >= 0 && gates.minSuccessRate <= 100)) throw usageError(`--min-success-rate ${gates.minSuccessRate} is not a percentage from 0 to 100.`);
  if (gates.maxLatencyP99Ms !== null && !(gates.maxLatencyP99Ms > 0)) throw usageError('--max-latency-p99 must be a positive duration, e.g. 500ms.');
  if (!Number.isInteger(gates.minRequests) || gates.minRequests < 1) throw usageError(`--min-requests ${gates.minRequests} must be a whole number of at least 1.`);
  if (!Number.isInteger(gates.failureThreshold) || gates.failureThreshold < 1) throw usageError(`--failure-threshold ${gates.failureThreshold} must be a whole number of at least 1.`);
  if (!['hold', 'continue', 'rollback'].includes(gates.onNoTraffic)) throw usageError(`--on-no-traffic ${String(gates.onNoTraffic)} must be hold, continue or rollback.`);
  return gates;
}

/** The whole plan: first steps (mirror, then header canary), then the weight steps. */
export function buildPlan(input: PlanInput): ShiftPlan {
  const intervalMs = input.intervalMs ?? DEFAULT_INTERVAL_MS;
  if (!(intervalMs >= 100)) throw usageError('--interval must be at least 100ms; write it as 30s, 2m or 1m30s.');
  const gates = checkGates({ ...DEFAULT_GATES, ...input.gates });
  const steps: PlanStep[] = [];
  if (input.mirror) steps.push({ kind: 'mirror', weight: 0 });
  if (input.header) steps.push({ kind: 'header', weight: 0, header: input.header });
  for (const w of weightSteps(input)) steps.push({ kind: 'weight', weight: w });
  return { steps, intervalMs, gates };
}

/** The shortest time to promotion (an analysis after every step) and the time to roll back a failing version. */
export function planDurations(plan: ShiftPlan): { promoteMs: number; rollbackMs: number } {
  return { promoteMs: plan.intervalMs * plan.steps.length, rollbackMs: plan.intervalMs * plan.gates.failureThreshold };
}

/** Weights by subset for the route's destinations. */
export type { Weights };

/**
 * The route's weights with the new subset at `weight`: the stable subset takes the rest of what the two
 * of them hold, other destinations keep theirs. `available` is 100 minus what the others hold.
 */
export function splitWeights(base: Weights, from: string, to: string, weight: number): Weights {
  const out: Weights = { ...base };
  const available = 100 - Object.entries(base).filter(([s]) => s !== from && s !== to).reduce((n, [, w]) => n + w, 0);
  out[to] = weight;
  out[from] = available - weight;
  return out;
}

/** The largest weight the new subset can get on a route whose other destinations keep theirs. */
export function availableWeight(base: Weights, from: string, to: string): number {
  return 100 - Object.entries(base).filter(([s]) => s !== from && s !== to).reduce((n, [, w]) => n + w, 0);
}

export function sameWeights(a: Weights | null | undefined, b: Weights | null | undefined): boolean {
  if (!a || !b) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

/** `v1 75 / v2 25`, in the route's destination order. */
export function weightsText(w: Weights, order?: string[]): string {
  const keys = order ?? Object.keys(w);
  return keys.map((k) => `${k} ${w[k] ?? 0}`).join(' / ');
}

/** How a step reads in plans and progress: `25%`, `header x-canary=yes`, `mirror`. */
export function stepLabel(step: PlanStep): string {
  if (step.kind === 'header') return `header ${step.header?.name}=${step.header?.value}`;
  if (step.kind === 'mirror') return 'mirror';
  return `${step.weight}%`;
}

/** A span as a plan prints it, in duration syntax: whole ms below a second, tenths of a second below a minute, whole seconds above. */
export function durationText(ms: number): string {
  const step = ms < 1000 ? 1 : ms < 60_000 ? 100 : 1000;
  return formatDuration(Math.round(ms / step) * step);
}
