// Custom gates on a command line (`--gate 'NAME=PROMQL<THRESHOLD'`), Argo Rollouts' AnalysisTemplate
// idea without the YAML: any PromQL, judged against a threshold at every analysis, beside the success
// rate and p99 gates. In the query, {{interval}}, {{namespace}} and {{target}} are the window, the
// new subset's namespace and its workloads (as Flagger's metric templates name them).
import { usageError } from '../errors.js';
import { type GateCheck, type GateVerdict } from './gates.js';
import type { CustomGate } from './plan.js';
import type { PromqlScope } from './promql.js';

export type { CustomGate };

/** `error-rate=sum(rate(…))<0.05` → the gate; the last comparison with a number at the end splits query and threshold. */
export function parseGateFlag(text: string): CustomGate {
  const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.+?)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/s.exec(text);
  if (!m) throw usageError(`--gate ${JSON.stringify(text)} is not NAME=PROMQL<THRESHOLD (or >, <=, >=), e.g. --gate 'p95=histogram_quantile(0.95, sum(rate(istio_request_duration_milliseconds_bucket{destination_workload=~"{{target}}"}[{{interval}}])) by (le))<300'.`);
  return { name: m[1]!, query: m[2]!, op: m[3] as CustomGate['op'], threshold: Number(m[4]) };
}

export function customGateText(g: CustomGate): string {
  return `${g.name}=${g.query}${g.op}${g.threshold}`;
}

/** The query of a gate for one window and subset. */
export function fillGateQuery(query: string, scope: PromqlScope, range: string): string {
  const target = scope.workloads.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|');
  return query.replace(/\{\{\s*interval\s*\}\}/g, range).replace(/\{\{\s*namespace\s*\}\}/g, scope.namespace).replace(/\{\{\s*target\s*\}\}/g, target);
}

function passes(value: number, g: CustomGate): boolean {
  switch (g.op) {
    case '<': return value < g.threshold;
    case '<=': return value <= g.threshold;
    case '>': return value > g.threshold;
    default: return value >= g.threshold;
  }
}

/**
 * The verdict with the custom gates' checks added (each value from Prometheus; null: no series). A
 * gate without a series makes the analysis "not enough traffic", as the built-in gates do.
 */
export function withCustomGates(verdict: GateVerdict, gates: readonly CustomGate[], values: readonly (number | null)[]): GateVerdict {
  if (verdict.outcome === 'no_traffic' || !gates.length) return verdict;
  const missing = gates.filter((_, i) => values[i] === null);
  if (missing.length) return { outcome: 'no_traffic', checks: verdict.checks, reason: `not enough traffic: no series for the gate${missing.length > 1 ? 's' : ''} ${missing.map((g) => g.name).join(', ')}` };
  const checks: GateCheck[] = [...verdict.checks, ...gates.map((g, i) => {
    const value = values[i]!;
    const ok = passes(value, g);
    return { gate: `custom:${g.name}` as const, passed: ok, value, limit: g.threshold, text: `${g.name} ${Math.round(value * 1000) / 1000} ${ok ? g.op : `not ${g.op}`} ${g.threshold}` };
  })];
  const failed = checks.filter((c) => !c.passed);
  return { outcome: failed.length ? 'failed' : 'passed', checks, reason: failed.length ? failed.map((c) => c.text).join(', ') : null };
}
