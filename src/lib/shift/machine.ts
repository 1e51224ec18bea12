// The shift's state machine. Phases: planned → progressing (a step's weights served, its analysis
// pending) → progressing at the next step, held (waiting for a person), promoted, rolled_back or aborted.
// Every change of weights is bracketed by two writes of the record: the change as pending, then as done;
// so after a crash at any moment every proxy serves either the previous weights or the new ones, both
// weights of the plan, and --resume finishes the pending change.
import { randomUUID } from 'node:crypto';
import type { UpstreamFigures } from '../runtime/figures.js';
import { MetricsUnavailable } from './promql.js';
import { withCustomGates } from './custom-gates.js';
import { evaluateGates, subsetFigures, type GateCheck, type AnalysisOutcome, type SubsetFigures } from './gates.js';
import type { AnalysisEvent, EventType, ShiftEvent } from './events.js';
import { sameWeights, splitWeights, stepLabel, weightsText, type ShiftPlan, type Weights } from './plan.js';
import { endWeights, isTerminal, SHIFT_API_VERSION, type AnalysisRecord, type PendingChange, type Phase, type ShiftOwner, type ShiftRecord } from './record.js';
import type { ShiftRoute } from './route.js';
import { sameOwner, type ControlRequest, type ShiftRecords } from './store.js';
import { WeightWriteError, type ShiftTarget, type WriteReport } from './target.js';

const MAX_ANALYSES = 50;

/** A new record: nothing changed yet. */
export function newRecord(route: ShiftRoute, plan: ShiftPlan, baseline: Weights, options: { manual: boolean; owner: ShiftOwner | null }): ShiftRecord {
  const now = new Date().toISOString();
  const steps = plan.steps.map((s) => (s.kind === 'weight' ? splitWeights(baseline, route.from, route.to, s.weight) : { ...baseline }));
  const rollback = splitWeights(baseline, route.from, route.to, 0);
  return {
    apiVersion: SHIFT_API_VERSION,
    kind: 'RouteShift',
    id: randomUUID(),
    createdAt: now,
    updatedAt: now,
    route,
    plan,
    weights: { baseline: { ...baseline }, steps, rollback },
    phase: 'planned',
    cursor: -1,
    served: { ...baseline },
    windowStartedAt: null,
    failedChecks: 0,
    pending: null,
    owner: options.owner,
    reason: null,
    manual: options.manual,
    analyses: [],
    history: [{ at: now, event: 'planned', cursor: -1, weights: { ...baseline } }],
  };
}

/** Every set of weights the plan may leave the proxies serving (before, each step, after a rollback). */
export function planWeights(record: ShiftRecord): { cursor: number | 'rollback'; weights: Weights }[] {
  return [
    { cursor: -1, weights: record.weights.baseline },
    ...record.weights.steps.map((weights, cursor) => ({ cursor, weights })),
    { cursor: 'rollback' as const, weights: record.weights.rollback },
  ];
}

/** The header-canary route is in place while the shift is at a header step. */
export function headerOf(record: ShiftRecord, cursor = record.cursor): { name: string; value: string } | null {
  if (isTerminal(record) && cursor === record.cursor) return null;
  const step = record.plan.steps[cursor];
  return step?.kind === 'header' && step.header ? step.header : null;
}

/** The shifted route mirrors every request to the new subset while the shift is at a mirror step. */
export function mirrorOf(record: ShiftRecord, cursor = record.cursor): boolean {
  if (isTerminal(record) && cursor === record.cursor) return false;
  return record.plan.steps[cursor]?.kind === 'mirror';
}

/** True when the plan has a mirror step (only then does the shift put a mirror on, or take it off). */
function plansMirror(record: ShiftRecord): boolean {
  return record.plan.steps.some((s) => s.kind === 'mirror');
}

export type Decision =
  | { kind: 'next' }
  | { kind: 'promote' }
  | { kind: 'retry'; reason: string }
  | { kind: 'hold'; reason: string }
  | { kind: 'rollback'; reason: string };

/**
 * What follows an analysis. `failedChecks` already counts this analysis. A failed check keeps the
 * step and analyses again until the threshold; no traffic is its own outcome (--on-no-traffic).
 */
export function decide(record: Pick<ShiftRecord, 'plan' | 'cursor' | 'failedChecks'>, outcome: AnalysisOutcome | 'weights_changed' | 'metrics_unavailable', reason: string | null): Decision {
  const last = record.cursor >= record.plan.steps.length - 1;
  const at = record.plan.steps[record.cursor] ? stepLabel(record.plan.steps[record.cursor]) : 'the start';
  const gates = record.plan.gates;
  if (outcome === 'weights_changed') return { kind: 'hold', reason: reason ?? 'the weights changed outside the shift' };
  // Metrics nobody could read judge nothing: the step is held, never rolled back.
  if (outcome === 'metrics_unavailable') return { kind: 'hold', reason: `${reason ?? 'metrics unavailable'} at ${at}` };
  if (outcome === 'no_traffic') {
    if (gates.onNoTraffic === 'hold') return { kind: 'hold', reason: `${reason} at ${at}` };
    if (gates.onNoTraffic === 'rollback') return { kind: 'rollback', reason: `${reason} at ${at}` };
    return last ? { kind: 'promote' } : { kind: 'next' };
  }
  if (outcome === 'failed') {
    const n = record.failedChecks;
    const text = `${reason} at ${at} for ${n} check${n === 1 ? '' : 's'}`;
    return n >= gates.failureThreshold ? { kind: 'rollback', reason: text } : { kind: 'retry', reason: text };
  }
  return last ? { kind: 'promote' } : { kind: 'next' };
}

export type InterruptChoice = 'hold' | 'rollback';
export type ManualChoice = 'continue' | 'hold' | 'rollback';

export interface Progress {
  record: ShiftRecord;
  remainingMs: number;
  canary: SubsetFigures;
  stable: SubsetFigures;
}

export interface RunnerIo {
  target: ShiftTarget;
  store: ShiftRecords;
  emit(event: ShiftEvent): void;
  /** About once a second while waiting for an analysis. */
  tick?(progress: Progress): void;
  /** --manual: asked before each step, with the last analysis; `signal` withdraws the question. */
  ask?(record: ShiftRecord, next: number, signal: AbortSignal): Promise<ManualChoice>;
  /** After Ctrl-C: hold or roll back. */
  onInterrupt(): Promise<InterruptChoice>;
  /** A line for the person watching (warnings). */
  note?(line: string): void;
  /** How a person continues a held shift. */
  resumeCommand: string;
  tickMs?: number;
}

export interface RunResult {
  phase: Phase;
  reason: string | null;
  interrupted: boolean;
}

export class ShiftTakenOver extends Error {
  override name = 'ShiftTakenOver';
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Runs a shift from its record to an end: promoted, rolled back, aborted, held, or interrupted. */
export class ShiftRunner {
  private interrupted = false;
  private wake: (() => void) | null = null;
  private lastTick = 0;
  private lastOwnerCheck = 0;

  constructor(public record: ShiftRecord, private readonly io: RunnerIo) {}

  /** Ctrl-C: the runner stops at the next safe point (never in the middle of a change of weights). */
  interrupt(): void {
    this.interrupted = true;
    this.wake?.();
  }

  private get steps(): number {
    return this.record.plan.steps.length;
  }

  private base(type: EventType, weights = this.record.served, cursor = this.record.cursor): { type: EventType; time: string; shift: string; host: string; step: number; steps: number; weights: Weights } {
    return { type, time: new Date().toISOString(), shift: this.record.id, host: this.record.route.host, step: cursor + 1, steps: this.steps, weights: { ...weights } };
  }

  /** Writes the record under the home's lock, after checking that this process still runs the shift. */
  private async persist(mutate?: (r: ShiftRecord) => void): Promise<void> {
    await this.io.store.locked(async () => {
      await this.checkOwner();
      mutate?.(this.record);
      await this.io.store.write(this.record);
    });
  }

  private async checkOwner(): Promise<void> {
    const disk = await this.io.store.read();
    if (!disk || disk.id !== this.record.id || (this.record.owner && !sameOwner(disk.owner, this.record.owner))) {
      throw new ShiftTakenOver(`The shift of ${this.record.route.host} was taken over by another meshctl process; this one stops.`);
    }
  }

  /**
   * One change of weights: the record says what is about to change, every proxy gets the weights, the
   * record says it changed; then the applied VirtualService records them (outside the lock, through the agent).
   */
  private async change(
    change: Omit<PendingChange, 'decidedAt'>,
    decidedAtMs: number,
    after: (r: ShiftRecord) => void,
    served: (servedMs: number, proxies: number) => void,
  ): Promise<void> {
    const headerBefore = headerOf(this.record);
    const headerAfter = change.event === 'step' ? headerOf(this.record, change.cursor) : null;
    const mirrorBefore = mirrorOf(this.record);
    const mirrorAfter = change.event === 'step' ? mirrorOf(this.record, change.cursor) : false;
    // Adding or removing a header route or a mirror takes the proxies' reload: it is in place once stored.
    let structural = Boolean(headerBefore) !== Boolean(headerAfter) || mirrorBefore !== mirrorAfter;
    let proxies = 0;
    let servedMs = 0;
    const done = (r: ShiftRecord) => {
      r.pending = null;
      r.cursor = change.cursor;
      r.history.push({ at: iso(Date.now()), event: change.event, cursor: change.cursor, weights: { ...change.weights }, ...(change.reason ? { reason: change.reason } : {}), ...(change.by ? { by: change.by } : {}) });
      after(r);
    };
    await this.io.store.locked(async () => {
      await this.checkOwner();
      this.record.pending = { ...change, decidedAt: iso(decidedAtMs) };
      await this.io.store.write(this.record);
      let report: WriteReport = { served: [], notRunning: [] };
      try {
        report = await this.io.target.writeWeights(change.weights);
      } catch (err) {
        // An apply --force may have taken a subset of the abort's weights off the proxies' route: the
        // VirtualService restored below brings it back with a reload instead.
        if (change.event !== 'aborted' || !(err instanceof WeightWriteError)) throw err;
        structural = true;
      }
      servedMs = Date.now() - decidedAtMs;
      proxies = report.served.length + report.notRunning.length;
      if (report.notRunning.length) this.io.note?.(`${report.notRunning.join(', ')} ${report.notRunning.length === 1 ? 'does' : 'do'} not run: ${report.notRunning.length === 1 ? 'it serves' : 'they serve'} the new weights once started.`);
      this.record.served = { ...change.weights };
      this.record.windowStartedAt = iso(Date.now());
      // A change that adds or removes the header route stays pending until that is done too.
      if (!structural) done(this.record);
      await this.io.store.write(this.record);
    });
    // Announced once recorded, so that whoever reads the event finds it in route status too.
    if (!structural) served(servedMs, proxies);
    try {
      await this.io.target.storeWeights(change.weights, headerAfter, plansMirror(this.record) ? mirrorAfter : undefined);
    } catch (err) {
      // An abort always ends the shift, also when its route is gone from the applied VirtualService.
      if (structural && change.event !== 'aborted') throw err;
      // The proxies serve the weights; the applied route catches up at the next change.
      this.io.note?.(`The applied route (VirtualService or HTTPRoute) could not be updated (${(err as Error).message.replace(/\.$/, '')}); the proxies serve the new weights.`);
    }
    if (structural) {
      await this.persist(done);
      served(Date.now() - decidedAtMs, proxies);
    }
    if (change.event === 'step') {
      // The window starts once everything is in place.
      await this.persist((r) => { r.windowStartedAt = iso(Date.now()); });
    }
  }

  private async toStep(cursor: number, by?: string): Promise<void> {
    const weights = this.record.weights.steps[cursor];
    const step = this.record.plan.steps[cursor];
    await this.change({ event: 'step', cursor, weights, ...(by ? { by } : {}) }, Date.now(), (r) => {
      r.phase = 'progressing';
      r.reason = null;
    }, (servedMs, proxies) => {
      this.io.emit({ ...this.base('step'), type: 'step', kind: step.kind, label: stepLabel(step), servedMs, proxies, ...(by ? { by } : {}) });
    });
  }

  private async rollBack(reason: string, event: 'rolled_back' | 'aborted', by?: string, decidedAtMs = Date.now()): Promise<RunResult> {
    const decidedAt = iso(decidedAtMs);
    await this.change({ event, cursor: this.record.cursor, weights: endWeights(this.record, event), reason, ...(by ? { by } : {}) }, decidedAtMs, (r) => {
      r.phase = event;
      r.reason = reason;
      r.owner = null;
    }, (servedMs) => {
      if (event === 'rolled_back') this.io.emit({ ...this.base('rolled_back'), type: 'rolled_back', reason, decidedAt, servedMs });
      else this.io.emit({ ...this.base('aborted'), type: 'aborted', reason, decidedAt, servedMs, ...(by ? { by } : {}) });
    });
    return { phase: event, reason, interrupted: false };
  }

  private async hold(reason: string): Promise<RunResult> {
    await this.persist((r) => {
      r.phase = 'held';
      r.reason = reason;
      r.owner = null;
      r.history.push({ at: iso(Date.now()), event: 'hold', cursor: r.cursor, weights: { ...r.served }, reason });
    });
    this.io.emit({ ...this.base('hold'), type: 'hold', reason, resume: this.io.resumeCommand });
    return { phase: 'held', reason, interrupted: false };
  }

  private async promoted(by?: string): Promise<RunResult> {
    await this.persist((r) => {
      r.phase = 'promoted';
      r.reason = null;
      r.owner = null;
      r.history.push({ at: iso(Date.now()), event: 'promoted', cursor: r.cursor, weights: { ...r.served }, ...(by ? { by } : {}) });
    });
    this.io.emit({ ...this.base('promoted'), type: 'promoted', durationMs: Date.now() - Date.parse(this.record.createdAt), ...(by ? { by } : {}) });
    return { phase: 'promoted', reason: null, interrupted: false };
  }

  private async onInterrupted(): Promise<RunResult> {
    const choice = await this.io.onInterrupt();
    const at = this.record.cursor >= 0 ? `step ${this.record.cursor + 1} of ${this.steps}` : 'the start';
    const result = choice === 'rollback'
      ? await this.rollBack(`interrupted at ${at}, and rolling back was chosen`, 'rolled_back')
      : await this.hold(`interrupted at ${at}`);
    return { ...result, interrupted: true };
  }

  /** Reads the figures of the current window and judges them; also checks the proxies still serve the step's weights. */
  private async analyse(): Promise<AnalysisRecord> {
    const until = Date.now();
    const since = Date.parse(this.record.windowStartedAt ?? iso(until));
    const { route } = this.record;
    // At a mirror step the new subset is judged on the copies it got (the split is unchanged).
    const mirrored = mirrorOf(this.record);
    let unavailable: string | null = null;
    const readable = (read: Promise<UpstreamFigures[]>) => read.catch((err: Error) => {
      if (!(err instanceof MetricsUnavailable)) throw err;
      unavailable = `metrics unavailable: ${err.message}`;
      return [] as UpstreamFigures[];
    });
    const [figures, served] = await Promise.all([readable(this.io.target.readFigures(since, until)), this.io.target.readWeights()]);
    const copies = mirrored ? await readable(this.io.target.readFigures(since, until, { mirrored: true })) : null;
    const canary = subsetFigures(copies ?? figures, route.host, route.to);
    const stable = subsetFigures(figures, route.host, route.from);
    const drift = served.filter((s) => s.weights && !sameWeights(s.weights, this.record.served));
    let outcome: AnalysisRecord['outcome'];
    let reason: string | null;
    let checks: GateCheck[];
    if (drift.length) {
      outcome = 'weights_changed';
      checks = [];
      const d = drift[0];
      reason = `the weights changed outside the shift: ${d.proxy} serves ${weightsText(d.weights!, route.destinations)} where the shift set ${weightsText(this.record.served, route.destinations)}${drift.length > 1 ? ` (and ${drift.length - 1} more)` : ''}`;
    } else if (unavailable) {
      outcome = 'metrics_unavailable';
      checks = [];
      reason = unavailable;
    } else {
      let verdict = evaluateGates(canary, this.record.plan.gates, until - since);
      const custom = this.record.plan.gates.custom ?? [];
      if (custom.length && verdict.outcome !== 'no_traffic' && this.io.target.customGateValues) {
        const values = await this.io.target.customGateValues(custom, since, until).catch((err: Error) => {
          if (!(err instanceof MetricsUnavailable)) throw err;
          unavailable = `metrics unavailable: ${err.message}`;
          return null;
        });
        if (values) verdict = withCustomGates(verdict, custom, values);
      }
      outcome = unavailable ? 'metrics_unavailable' : verdict.outcome;
      reason = unavailable ?? verdict.reason;
      checks = unavailable ? [] : verdict.checks;
    }
    const failedChecks = this.record.failedChecks + (outcome === 'failed' ? 1 : 0);
    const analysis: AnalysisRecord = { at: iso(until), cursor: this.record.cursor, outcome, windowMs: until - since, canary, stable, checks, failedChecks, reason };
    await this.persist((r) => {
      r.failedChecks = failedChecks;
      r.windowStartedAt = iso(until);
      r.analyses = [...r.analyses, analysis].slice(-MAX_ANALYSES);
    });
    const event: AnalysisEvent = {
      ...this.base('analysis'),
      type: 'analysis',
      outcome,
      windowMs: analysis.windowMs,
      canary,
      stable,
      checks,
      failedChecks,
      failureThreshold: this.record.plan.gates.failureThreshold,
      reason,
    };
    this.io.emit(event);
    return analysis;
  }

  /** Waits for the end of the window; returns early on Ctrl-C or a request from route promote / abort. */
  private async waitWindow(): Promise<'elapsed' | 'interrupted' | ControlRequest> {
    const due = Date.parse(this.record.windowStartedAt ?? iso(Date.now())) + this.record.plan.intervalMs;
    const tickMs = this.io.tickMs ?? 200;
    for (;;) {
      if (this.interrupted) return 'interrupted';
      const request = await this.io.store.readRequest();
      if (request) return request;
      const now = Date.now();
      if (now >= due) return 'elapsed';
      // Someone may hold the shift meanwhile (apply --force changed its route): stop now, not at the next step.
      if (now - this.lastOwnerCheck >= 1000) {
        this.lastOwnerCheck = now;
        await this.checkOwner();
      }
      if (this.io.tick && now - this.lastTick >= 1000) {
        this.lastTick = now;
        const since = Date.parse(this.record.windowStartedAt!);
        const figures = await this.io.target.readFigures(since, now).catch(() => []);
        const copies = mirrorOf(this.record) ? await this.io.target.readFigures(since, now, { mirrored: true }).catch(() => []) : null;
        this.io.tick({ record: this.record, remainingMs: due - now, canary: subsetFigures(copies ?? figures, this.record.route.host, this.record.route.to), stable: subsetFigures(figures, this.record.route.host, this.record.route.from) });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { this.wake = null; resolve(); }, Math.min(tickMs, Math.max(0, due - Date.now())));
        this.wake = () => { clearTimeout(timer); this.wake = null; resolve(); };
      });
    }
  }

  /** A request from `route promote` or `route abort`, acted on by the process that runs the shift. */
  private async handleRequest(request: ControlRequest): Promise<RunResult | null> {
    await this.io.store.clearRequest(request.id);
    if (request.action === 'abort') return this.rollBack(`aborted by ${request.by}`, 'aborted', request.by);
    const last = this.steps - 1;
    if (request.action === 'promote-full') {
      if (this.record.cursor < last) await this.toStep(last, request.by);
      return this.promoted(request.by);
    }
    // The shift went past the step the asker saw (its own analysis moved on meanwhile): done already.
    if (request.cursor !== undefined && this.record.cursor > request.cursor) return null;
    if (this.record.cursor >= last) return this.promoted(request.by);
    await this.toStep(this.record.cursor + 1, request.by);
    return null;
  }

  /**
   * `route promote` / `route abort` when no process runs the shift: this one acts, then leaves the shift
   * held (a promotion short of the end waits for --resume to analyse again) or ended.
   */
  async act(action: ControlRequest['action'], by: string): Promise<RunResult> {
    const p = this.record.pending;
    if (p && action === 'abort') return this.rollBack(`aborted by ${by}`, 'aborted', by);
    if (p && p.event !== 'step') return this.rollBack(p.reason ?? 'rolled back', p.event, p.by);
    if (p) {
      // The interrupted step is the next one: finishing it is the promotion.
      await this.toStep(p.cursor, by);
      if (action === 'promote') return this.hold(`moved to step ${p.cursor + 1} of ${this.steps} by ${by}; ${this.io.resumeCommand} analyses it`);
    }
    const done = await this.handleRequest({ id: '', action, by, at: iso(Date.now()) });
    if (done) return done;
    return this.hold(`moved to step ${this.record.cursor + 1} of ${this.steps} by ${by}; ${this.io.resumeCommand} analyses it`);
  }

  /**
   * Asks before a step in --manual mode. A request from route promote or abort that comes meanwhile
   * closes the question and is acted on instead. `moved`: the request already changed the step.
   */
  private async askBefore(next: number): Promise<{ stop: RunResult } | { moved: boolean }> {
    if (!this.record.manual || !this.io.ask) return { moved: false };
    const asking = new AbortController();
    let request: ControlRequest | null = null;
    const watch = (async () => {
      while (!asking.signal.aborted) {
        request = await this.io.store.readRequest();
        if (request) return asking.abort();
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const answer = await this.io.ask(this.record, next, asking.signal);
    asking.abort();
    await watch;
    if (request) {
      const done = await this.handleRequest(request);
      return done ? { stop: done } : { moved: true };
    }
    if (this.interrupted) return { stop: await this.onInterrupted() };
    if (answer === 'hold') return { stop: await this.hold(`holding was chosen before step ${next + 1} of ${this.steps}`) };
    if (answer === 'rollback') return { stop: await this.rollBack(`rolling back was chosen before step ${next + 1} of ${this.steps}`, 'rolled_back') };
    return { moved: false };
  }

  /** Drives the shift to its end. A pending change left by a crash is finished first. */
  async run(options: { resumed?: boolean } = {}): Promise<RunResult> {
    const r = this.record;
    if (r.pending) {
      // Finish what the crashed process started: its weights are the plan's, and the record said so.
      const p = r.pending;
      if (p.event !== 'step') return this.rollBack(p.reason ?? 'rolled back', p.event, p.by);
      await this.toStep(p.cursor, 'resume');
    } else if (options.resumed && r.cursor >= 0) {
      // Every proxy back on the step's weights (one may have restarted meanwhile), and a fresh window.
      await this.toStep(r.cursor, 'resume');
    }
    if (this.record.cursor < 0) {
      const asked = await this.askBefore(0);
      if ('stop' in asked) return asked.stop;
      if (this.interrupted) return this.onInterrupted();
      if (!asked.moved) await this.toStep(0);
    }
    for (;;) {
      const waited = await this.waitWindow();
      if (waited === 'interrupted') return this.onInterrupted();
      if (waited !== 'elapsed') {
        const done = await this.handleRequest(waited);
        if (done) return done;
        continue;
      }
      const analysis = await this.analyse();
      const decision = decide(this.record, analysis.outcome, analysis.reason);
      if (this.interrupted) return this.onInterrupted();
      switch (decision.kind) {
        case 'retry':
          this.io.note?.(`${decision.reason}: analysing again at the same step.`);
          continue;
        case 'hold':
          return this.hold(decision.reason);
        case 'rollback':
          return this.rollBack(decision.reason, 'rolled_back', undefined, Date.parse(analysis.at));
        case 'promote':
          return this.promoted();
        case 'next': {
          const next = this.record.cursor + 1;
          const asked = await this.askBefore(next);
          if ('stop' in asked) return asked.stop;
          if (!asked.moved) await this.toStep(next);
          continue;
        }
      }
    }
  }
}
