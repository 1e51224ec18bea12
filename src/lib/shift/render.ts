// How a shift reads for people: one line per event, the countdown line, the plan of a dry run, and
// route status.
import { NOT_ENOUGH_TRAFFIC } from '../runtime/figures.js';
import type { ShiftEvent, PlannedEvent } from './events.js';
import { msText, percentText, type SubsetFigures } from './gates.js';
import type { Progress } from './machine.js';
import { durationText, stepLabel, weightsText, type GateSettings, type Weights } from './plan.js';
import type { RouteStatus } from './status.js';

/** The shifted route as sentences name it: the HTTPRoute rule, or the VirtualService's http route. */
function routeText(e: { virtualService: string; route: string; httpRoute?: string }): string {
  return e.httpRoute ? `HTTPRoute ${e.httpRoute}` : `VirtualService ${e.virtualService} ${e.route}`;
}

function figures(f: SubsetFigures): string {
  if (f.successRate === null) return `${f.subset} ${f.requests} req, ${NOT_ENOUGH_TRAFFIC}`;
  return `${f.subset} ${f.requests} req, ${percentText(f.successRate)}% ok, p99 ${f.latencyMs.p99 === null ? '-' : msText(f.latencyMs.p99)}`;
}

export function gatesText(g: GateSettings): string {
  const parts = [`success rate ≥ ${percentText(g.minSuccessRate)}%`];
  if (g.maxLatencyP99Ms !== null) parts.push(`p99 ≤ ${msText(g.maxLatencyP99Ms)}`);
  parts.push(`at least ${g.minRequests} requests per interval (fewer: ${g.onNoTraffic})`);
  parts.push(`roll back after ${g.failureThreshold} failed check${g.failureThreshold === 1 ? '' : 's'}`);
  return parts.join(', ');
}

function order(e: { weights: Weights }): string[] {
  return Object.keys(e.weights);
}

/** One line per event (text progress). */
export function eventLine(e: ShiftEvent): string {
  const at = `step ${e.step}/${e.steps}`;
  switch (e.type) {
    case 'planned': {
      const steps = e.plan.map((s) => stepLabel(s)).join(' → ');
      if (e.resumed) return `Resuming the shift of ${e.host} from ${e.from} to ${e.to} at step ${e.step} of ${e.steps} (${weightsText(e.weights, order(e))}), ${e.proxies.length} prox${e.proxies.length === 1 ? 'y' : 'ies'}.`;
      return `Shifting ${e.host} from ${e.from} to ${e.to} (${routeText(e)}, ${e.proxies.length} prox${e.proxies.length === 1 ? 'y' : 'ies'}): ${steps}, an analysis every ${durationText(e.intervalMs)}; at least ${durationText(e.minPromoteMs)} to promote.${e.warnings.map((w) => ` Warning: ${w}`).join('')}`;
    }
    case 'step':
      return `Step ${e.step}/${e.steps} (${e.label}): ${weightsText(e.weights, order(e))}, served by every proxy (${e.proxies}) ${Math.round(e.servedMs)} ms after the decision${e.by ? `, by ${e.by}` : ''}.`;
    case 'analysis': {
      const figs = `${figures(e.canary)}; ${figures(e.stable)}`;
      if (e.outcome === 'passed') return `Analysis at ${at}: passed (${figs}).`;
      if (e.outcome === 'no_traffic') return `Analysis at ${at}: ${e.reason} (${figs}).`;
      if (e.outcome === 'weights_changed' || e.outcome === 'metrics_unavailable') return `Analysis at ${at}: ${e.reason}.`;
      return `Analysis at ${at}: failed check ${e.failedChecks} of ${e.failureThreshold}: ${e.reason} (${figs}).`;
    }
    case 'hold':
      return `Held at ${at}: ${e.reason}. Resume with: ${e.resume}`;
    case 'promoted':
      return `Promoted${e.by ? ` by ${e.by}` : ''}: ${weightsText(e.weights, order(e))} after ${durationText(e.durationMs)}.`;
    case 'rolled_back':
      return `Rolled back: ${e.reason}. Every proxy serves ${weightsText(e.weights, order(e))} (${Math.round(e.servedMs)} ms after the decision).`;
    case 'aborted':
      return `Aborted (${e.reason}): every proxy serves ${weightsText(e.weights, order(e))} (${Math.round(e.servedMs)} ms after the decision).`;
  }
}

/** The countdown line while a step waits for its analysis. */
export function progressLine(p: Progress): string {
  const r = p.record;
  const step = r.plan.steps[r.cursor];
  return `step ${r.cursor + 1}/${r.plan.steps.length} ${step ? stepLabel(step) : ''} · analysis in ${Math.ceil(p.remainingMs / 1000)}s · ${figures(p.canary)} · ${figures(p.stable)}`;
}

/** --dry-run: the plan, the shortest time to promote and the time to roll back. */
export function planText(e: PlannedEvent): string {
  const lines = [`Plan for ${e.host} (dry run: nothing was changed)`];
  const order = e.plan[0] ? Object.keys(e.plan[0].weights) : Object.keys(e.weights);
  lines.push(`  route        ${routeText(e)}, carried by ${e.proxies.length} prox${e.proxies.length === 1 ? 'y' : 'ies'}`);
  lines.push(`  shift        from ${e.from} to ${e.to}; now ${weightsText(e.weights, order)}`);
  e.plan.forEach((s, i) => {
    const what = s.kind === 'header' ? `requests with ${s.header?.name}: ${s.header?.value} go to ${e.to}; the split stays ${weightsText(s.weights, order)}` : s.kind === 'mirror' ? `a copy of every request goes to ${e.to}` : weightsText(s.weights, order);
    lines.push(`  step ${String(i + 1).padEnd(8)}${stepLabel(s).padEnd(6)} ${what}`);
  });
  lines.push(`  interval     ${durationText(e.intervalMs)} between a step and its analysis`);
  lines.push(`  gates        ${gatesText(e.gates)}`);
  lines.push(`  promote      at least ${durationText(e.minPromoteMs)} (${durationText(e.intervalMs)} × ${e.steps} step${e.steps === 1 ? '' : 's'})`);
  lines.push(`  roll back    ${durationText(e.rollbackMs)} after a failure starts (${durationText(e.intervalMs)} × ${e.gates.failureThreshold} failed check${e.gates.failureThreshold === 1 ? '' : 's'}), to ${weightsText(e.rollbackWeights, order)}`);
  lines.push(`  abort        meshctl route abort puts back ${weightsText(e.abortWeights, order)}, the weights before the shift`);
  for (const w of e.warnings) lines.push(`  warning      ${w}`);
  return `${lines.join('\n')}\n`;
}

const clock = (at: string) => at.slice(11, 19);

/** route status as text. */
export async function statusText(s: RouteStatus): Promise<string> {
  const { table } = await import('../output/table.js');
  const sh = s.shift;
  const order = sh.plan[0] ? Object.keys(sh.plan[0].weights) : [];
  const stateText: Record<string, string> = {
    running: `running (meshctl pid ${sh.owner?.pid})`,
    interrupted: 'interrupted (its meshctl process is gone)',
    held: `held: ${sh.reason}`,
    promoted: 'promoted',
    rolled_back: `rolled back: ${sh.reason}`,
    aborted: `aborted: ${sh.reason}`,
  };
  const next = sh.nextAnalysisAt ? `, next analysis in ${Math.max(0, Math.ceil((Date.parse(sh.nextAnalysisAt) - Date.now()) / 1000))}s` : '';
  const lines = [
    `Shift      ${s.host}: ${sh.from} → ${sh.to}, ${routeText(sh)}`,
    sh.pending && sh.pending.event === 'step'
      ? `State      ${stateText[sh.state]} while moving from step ${sh.step} to step ${sh.pending.cursor + 1} of ${sh.steps} (${stepLabel(sh.plan[sh.pending.cursor])})`
      : sh.pending
      ? `State      ${stateText[sh.state]} while rolling back from step ${sh.step} of ${sh.steps} (${sh.pending.reason ?? sh.pending.event})`
      : `State      ${stateText[sh.state]}; step ${sh.step} of ${sh.steps} (${sh.stepLabel})${next}`,
    `Plan       ${sh.plan.map((p) => stepLabel(p)).join(' → ')}, every ${durationText(sh.intervalMs)}; ${gatesText(sh.gates)}`,
    `Served     ${s.served.summary}`,
    `Applied    ${s.stored ? weightsText(s.stored, order) : 'the VirtualService is not applied'}`,
  ];
  let text = `${lines.join('\n')}\n`;
  if (s.served.proxies.length) {
    text += `\n${table(['PROXY', 'KIND', ...order.map((o) => o.toUpperCase()), 'SERVES'], s.served.proxies.map((p) => [
      p.proxy,
      p.kind,
      ...order.map((o) => (p.weights ? String(p.weights[o] ?? 0) : '-')),
      p.error ? `${p.label}: ${p.error}` : p.label,
    ]))}\n`;
  }
  if (s.analyses.length) {
    text += `\n${table(['ANALYSIS', 'STEP', 'OUTCOME', `${sh.to.toUpperCase()} REQ`, 'SUCCESS', 'P99', `${sh.from.toUpperCase()} REQ`, 'REASON'], s.analyses.map((a) => [
      clock(a.at),
      a.cursor + 1,
      a.outcome,
      a.canary.requests,
      a.canary.successRate === null ? NOT_ENOUGH_TRAFFIC : `${percentText(a.canary.successRate)}%`,
      a.canary.latencyMs.p99 === null ? '-' : msText(a.canary.latencyMs.p99),
      a.stable.requests,
      a.reason ?? '',
    ]))}\n`;
  }
  text += `\n${table(['TIME', 'EVENT', 'STEP', 'WEIGHTS', 'REASON'], s.history.map((h) => [
    clock(h.at),
    h.event,
    h.cursor + 1,
    weightsText(h.weights, order),
    [h.reason, h.by ? `by ${h.by}` : ''].filter(Boolean).join('; '),
  ]))}\n`;
  return text;
}
