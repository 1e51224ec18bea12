// What `route status` reports as the truth: the weights every proxy actually serves, each matched to
// the plan (which step, or before the shift, or rolled back), reconciled with what the record says.
import { planWeights } from './machine.js';
import { endWeights, type ShiftRecord } from './record.js';
import { sameWeights, stepLabel, weightsText, type Weights } from './plan.js';
import type { ServedWeights } from './target.js';

export interface ProxyServing {
  proxy: string;
  kind: 'sidecar' | 'gateway';
  weights: Weights | null;
  /** 1-based plan step these weights are (0: before the shift); null when they are no weights of the plan. */
  step: number | null;
  /** `step 2 (10%)`, `before the shift`, `rolled back`, `not a weight of the plan`, `not answering`. */
  label: string;
  error: string | null;
}

export interface Reconciled {
  proxies: ProxyServing[];
  /** Every answering proxy serves the same weights. */
  consistent: boolean;
  /** Every answering proxy serves weights of the plan. */
  planWeights: boolean;
  /** The weights all proxies serve (null when they differ or none answers). */
  weights: Weights | null;
  /** The 1-based step they serve (0 before the shift), when consistent. */
  step: number | null;
  /** True when the proxies serve the stable weights after a rollback or abort. */
  rolledBack: boolean;
  /** One sentence on what the proxies serve against what the record says. */
  summary: string;
}

function match(record: ShiftRecord, weights: Weights): { cursor: number | 'rollback'; label: string } | null {
  const candidates = planWeights(record).filter((c) => sameWeights(c.weights, weights));
  if (!candidates.length) return null;
  // Several steps may share weights (a header step keeps the split): prefer what the record says.
  const prefer = [record.pending?.cursor, record.cursor];
  const end = record.phase === 'rolled_back' ? 'rollback' : record.phase === 'aborted' ? -1 : undefined;
  const chosen = (end !== undefined ? candidates.find((c) => c.cursor === end) : undefined)
    ?? candidates.find((c) => prefer.includes(c.cursor as number))
    ?? candidates.find((c) => c.cursor !== 'rollback')
    ?? candidates[0];
  if (chosen.cursor === 'rollback') return { cursor: 'rollback', label: 'rolled back' };
  if (chosen.cursor === -1) return { cursor: -1, label: 'before the shift' };
  return { cursor: chosen.cursor, label: `step ${chosen.cursor + 1} (${stepLabel(record.plan.steps[chosen.cursor])})` };
}

export function reconcile(record: ShiftRecord, served: ServedWeights[]): Reconciled {
  const proxies: ProxyServing[] = served.map((s) => {
    if (!s.weights) return { proxy: s.proxy, kind: s.kind, weights: null, step: null, label: 'not answering', error: s.error };
    const m = match(record, s.weights);
    const step = m ? (m.cursor === 'rollback' ? 0 : m.cursor + 1) : null;
    return { proxy: s.proxy, kind: s.kind, weights: s.weights, step, label: m ? m.label : 'not a weight of the plan', error: null };
  });
  const answering = proxies.filter((p) => p.weights);
  const first = answering[0]?.weights ?? null;
  const consistent = answering.length > 0 && answering.every((p) => sameWeights(p.weights, first));
  const inPlan = answering.every((p) => p.step !== null);
  const order = record.route.destinations;
  const labels = [...new Set(answering.map((p) => p.label))];
  let summary: string;
  const n = answering.length;
  const silent = proxies.length - n;
  const silentText = silent ? `; ${silent} proxy${silent === 1 ? ' does' : 'ies do'} not answer` : '';
  if (!n) summary = 'No proxy that carries the route answers.';
  else if (consistent) summary = `${n === 1 ? 'The proxy serves' : `All ${n} proxies serve`} ${weightsText(first!, order)}: ${labels[0]}${silentText}.`;
  else {
    const groups = labels.map((l) => `${answering.filter((p) => p.label === l).length} at ${l}`).join(', ');
    summary = `The proxies disagree (${groups})${record.pending ? ': a change of weights was interrupted; --resume finishes it' : ''}${silentText}.`;
  }
  const ended = record.phase === 'rolled_back' || record.phase === 'aborted';
  const rolledBack = consistent && ended && sameWeights(first, endWeights(record, record.phase as 'rolled_back' | 'aborted'));
  return {
    proxies,
    consistent,
    planWeights: inPlan,
    weights: consistent ? first : null,
    step: consistent ? answering[0].step : null,
    rolledBack,
    summary,
  };
}
