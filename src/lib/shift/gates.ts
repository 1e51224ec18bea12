// The analysis at the end of each interval: the new subset's figures against the gates. Too few requests
// is "not enough traffic", an outcome of its own that never counts as a failed check.
import { NOT_ENOUGH_TRAFFIC, figuresPart, noRequests, type TrafficFigures, type UpstreamFigures } from '../runtime/figures.js';
import type { GateSettings } from './plan.js';

/** What an analysis saw of one subset in its window: the figures `top` shows for the same window. */
export interface SubsetFigures extends TrafficFigures {
  subset: string;
}

export type AnalysisOutcome = 'passed' | 'failed' | 'no_traffic';

export type GateName = 'requests' | 'success-rate' | 'latency-p99' | `custom:${string}`;

export interface GateCheck {
  gate: GateName;
  passed: boolean;
  value: number | null;
  limit: number;
  /** `success rate 71.4% < 99%`, `p99 812 ms ≤ 500 ms`… */
  text: string;
}

export interface GateVerdict {
  outcome: AnalysisOutcome;
  checks: GateCheck[];
  /** The failed gates (or the missing traffic) in one clause; null when every gate passed. */
  reason: string | null;
}

/** One subset's figures out of the per-upstream figures of a window (no request when absent). */
export function subsetFigures(figures: UpstreamFigures[], host: string, subset: string): SubsetFigures {
  const f = figures.find((x) => x.host === host && x.subset === subset);
  return { subset, ...(f ? figuresPart(f) : noRequests()) };
}

/** A percentage as people write it: 99, 99.5, 71.4 (rounded down, so a failing rate never prints as the limit). */
export function percentText(n: number): string {
  const down = Math.floor(n * 10 + 1e-9) / 10;
  return Number.isInteger(down) ? String(down) : down.toFixed(1);
}

export function msText(n: number): string {
  return `${Math.round(n)} ms`;
}

/** Judges the new subset's figures of one interval. */
export function evaluateGates(canary: SubsetFigures, gates: GateSettings, windowMs: number): GateVerdict {
  const checks: GateCheck[] = [];
  const enough = canary.requests >= gates.minRequests;
  checks.push({
    gate: 'requests',
    passed: enough,
    value: canary.requests,
    limit: gates.minRequests,
    text: `${canary.requests} request${canary.requests === 1 ? '' : 's'} ${enough ? '≥' : '<'} ${gates.minRequests}`,
  });
  if (!enough) {
    const seconds = windowMs >= 1000 ? `${(windowMs / 1000).toFixed(windowMs % 1000 ? 1 : 0)}s` : `${Math.round(windowMs)}ms`;
    return {
      outcome: 'no_traffic',
      checks,
      reason: `${NOT_ENOUGH_TRAFFIC}: ${canary.requests} request${canary.requests === 1 ? '' : 's'} to ${canary.subset} in ${seconds}, fewer than the ${gates.minRequests} --min-requests asks for`,
    };
  }
  const rate = canary.successRate ?? 0;
  const rateOk = rate >= gates.minSuccessRate;
  checks.push({ gate: 'success-rate', passed: rateOk, value: rate, limit: gates.minSuccessRate, text: `success rate ${percentText(rate)}% ${rateOk ? '≥' : '<'} ${percentText(gates.minSuccessRate)}%` });
  if (gates.maxLatencyP99Ms !== null) {
    const p99 = canary.latencyMs.p99 ?? 0;
    const ok = p99 <= gates.maxLatencyP99Ms;
    checks.push({ gate: 'latency-p99', passed: ok, value: p99, limit: gates.maxLatencyP99Ms, text: `p99 ${msText(p99)} ${ok ? '≤' : '>'} ${msText(gates.maxLatencyP99Ms)}` });
  }
  const failed = checks.filter((c) => !c.passed);
  return { outcome: failed.length ? 'failed' : 'passed', checks, reason: failed.length ? failed.map((c) => c.text).join(', ') : null };
}
