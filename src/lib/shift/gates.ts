// The analysis at the end of each interval: the new subset's figures against the gates. Too few requests
// is "not enough traffic", an outcome of its own that never counts as a failed check.
import type { UpstreamFigures } from '../runtime/haproxy/access-log.js';
import type { GateSettings } from './plan.js';

/** What an analysis saw of one subset in its window (per-request data: the p99 is a real percentile). */
export interface SubsetFigures {
  subset: string;
  requests: number;
  /** Non-5xx / total × 100; null without requests. */
  successRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  statusClasses: { '2xx': number; '3xx': number; '4xx': number; '5xx': number; other: number };
}

export type AnalysisOutcome = 'passed' | 'failed' | 'no_traffic';

export type GateName = 'requests' | 'success-rate' | 'latency-p99';

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

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

/** One subset's figures out of the per-upstream figures of every proxy (zero requests when absent). */
export function subsetFigures(figures: UpstreamFigures[], host: string, subset: string): SubsetFigures {
  // upstreamFigures gives one row per (host, subset).
  const f = figures.find((x) => x.destinationHost === host && x.destinationSubset === subset);
  if (!f || !f.requests) return { subset, requests: 0, successRate: null, p50Ms: null, p99Ms: null, statusClasses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 } };
  const c = f.statusClasses;
  return {
    subset,
    requests: f.requests,
    successRate: finite(f.successRate),
    p50Ms: finite(f.latencyMs.p50),
    p99Ms: finite(f.latencyMs.p99),
    statusClasses: { '2xx': c['2xx'], '3xx': c['3xx'], '4xx': c['4xx'], '5xx': c['5xx'], other: c.other + c['1xx'] },
  };
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
      reason: `not enough traffic: ${canary.requests} request${canary.requests === 1 ? '' : 's'} to ${canary.subset} in ${seconds}, fewer than the ${gates.minRequests} --min-requests asks for`,
    };
  }
  const rate = canary.successRate ?? 0;
  const rateOk = rate >= gates.minSuccessRate;
  checks.push({ gate: 'success-rate', passed: rateOk, value: rate, limit: gates.minSuccessRate, text: `success rate ${percentText(rate)}% ${rateOk ? '≥' : '<'} ${percentText(gates.minSuccessRate)}%` });
  if (gates.maxLatencyP99Ms !== null) {
    const p99 = canary.p99Ms ?? 0;
    const ok = p99 <= gates.maxLatencyP99Ms;
    checks.push({ gate: 'latency-p99', passed: ok, value: p99, limit: gates.maxLatencyP99Ms, text: `p99 ${msText(p99)} ${ok ? '≤' : '>'} ${msText(gates.maxLatencyP99Ms)}` });
  }
  const failed = checks.filter((c) => !c.passed);
  return { outcome: failed.length ? 'failed' : 'passed', checks, reason: failed.length ? failed.map((c) => c.text).join(', ') : null };
}
