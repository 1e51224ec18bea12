// `route promote` and `route abort`: when a meshctl process runs the shift, it is asked (through the
// request file) and does it itself, so that one process alone changes the weights; when none runs (the
// shift is held, or its process was killed), this process takes the shift over, acts, and lets it go.
import { randomUUID } from 'node:crypto';
import { environmentError, usageError } from '../errors.js';
import type { MeshTarget } from '../target/target.js';
import type { ShiftEvent } from './events.js';
import { ShiftRunner, type RunResult } from './machine.js';
import { isTerminal, type ShiftRecord } from './record.js';
import { commands, hostOf } from './shift.js';
import { currentOwner, ownerAlive, shiftRecords, type RequestAction } from './store.js';
import { shiftTarget } from './target.js';
import { stateOf, type ShiftState } from './status.js';
import { stepLabel, weightsText, type Weights } from './plan.js';

export interface ControlOutcome {
  action: RequestAction;
  /** Who changed the weights: the process running the shift, or this one. */
  actedBy: 'running-shift' | 'this-process';
  record: ShiftRecord;
  result: RunResult | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function controlShift(
  mesh: MeshTarget,
  options: { host: string; namespace: string; action: RequestAction; commonFlags: string; timeoutMs?: number; emit?: (e: ShiftEvent) => void },
): Promise<ControlOutcome> {
  const host = await hostOf(mesh, options.host, options.namespace);
  const store = shiftRecords(mesh, host);
  const verb = options.action === 'abort' ? 'abort' : 'promote';
  const c = commands(options.host, options.commonFlags);
  const record = await store.read();
  if (!record || isTerminal(record)) {
    const ended = record ? ` (the last one ${record.phase.replace('_', ' ')})` : '';
    throw usageError(`No shift of ${options.host} is in progress${ended}, so there is nothing to ${verb}; start one with meshctl route shift ${options.host} --to SUBSET.`);
  }
  const by = `meshctl route ${verb} (pid ${process.pid})`;
  if (ownerAlive(record.owner)) {
    const request = { id: randomUUID(), action: options.action, by, at: new Date().toISOString(), cursor: record.cursor };
    await store.writeRequest(request);
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    for (;;) {
      await sleep(50);
      const now = await store.read();
      if (!now) break;
      // A promotion is answered by the shift taking it, or by the shift moving past the step seen here on its own.
      const answered = now.history.some((h) => h.by === by && h.at >= request.at)
        || (options.action === 'promote' && now.cursor > request.cursor && (await store.readRequest())?.id !== request.id);
      if (answered && (!now.pending || isTerminal(now))) {
        // The running shift acted; for a promotion, its record now shows the new step.
        return { action: options.action, actedBy: 'running-shift', record: now, result: null };
      }
      if (isTerminal(now) && !answered) {
        await store.clearRequest(request.id);
        throw usageError(`The shift of ${options.host} ended (${now.phase.replace('_', ' ')}${now.reason ? `: ${now.reason}` : ''}) before it could ${verb}; nothing else was changed.`);
      }
      if (!ownerAlive(now.owner)) {
        // Its process went away (or held the shift) before taking the request: act here.
        await store.clearRequest(request.id);
        break;
      }
      if (Date.now() > deadline) {
        await store.clearRequest(request.id);
        throw environmentError(`The meshctl process running the shift of ${options.host} (pid ${now.owner!.pid}) did not take the ${verb} request within ${Math.round((options.timeoutMs ?? 20_000) / 1000)}s; look at it with ${c.status}.`);
      }
    }
  }
  const taken = await store.locked(async () => {
    const disk = await store.read();
    if (!disk || isTerminal(disk)) return null;
    if (ownerAlive(disk.owner)) throw usageError(`Another meshctl process (pid ${disk.owner!.pid}) took the shift of ${options.host} over meanwhile; try again, or look at it with ${c.status}.`);
    disk.owner = currentOwner();
    await store.write(disk);
    return disk;
  });
  if (!taken) throw usageError(`No shift of ${options.host} is in progress any more, so there is nothing to ${verb}.`);
  const target = shiftTarget(mesh, taken.route);
  const runner = new ShiftRunner(taken, {
    target,
    store,
    emit: options.emit ?? (() => undefined),
    onInterrupt: async () => 'hold',
    resumeCommand: c.resume,
  });
  try {
    const result = await runner.act(options.action, by);
    return { action: options.action, actedBy: 'this-process', record: runner.record, result };
  } catch (err) {
    await store.locked(async () => {
      const disk = await store.read();
      if (disk && disk.id === taken.id && !isTerminal(disk)) {
        disk.owner = null;
        await store.write(disk);
      }
    }).catch(() => undefined);
    throw err;
  }
}

/** What promote and abort print (-o json: schemas/output/route-control.json). */
export interface ControlResult {
  action: RequestAction;
  actedBy: ControlOutcome['actedBy'];
  host: string;
  state: ShiftState;
  /** 1-based step the shift is at (0 before its first step). */
  step: number;
  steps: number;
  stepLabel: string;
  /** The weights every proxy serves now. */
  weights: Weights;
  reason: string | null;
}

export function controlResult(o: ControlOutcome): ControlResult {
  const r = o.record;
  const step = r.plan.steps[r.cursor];
  return {
    action: o.action,
    actedBy: o.actedBy,
    host: r.route.host,
    state: stateOf(r),
    step: r.cursor + 1,
    steps: r.plan.steps.length,
    stepLabel: step ? stepLabel(step) : 'before the first step',
    weights: { ...r.served },
    reason: r.reason,
  };
}

export function controlText(c: ControlResult): string {
  const weights = weightsText(c.weights);
  if (c.action === 'abort') return `Aborted the shift of ${c.host}: every proxy serves ${weights}.`;
  if (c.state === 'promoted') return `Promoted the shift of ${c.host}: every proxy serves ${weights}.`;
  const next = c.state === 'running' ? 'the running shift analyses it next' : `it is held there until --resume (${c.reason})`;
  return `The shift of ${c.host} is at step ${c.step} of ${c.steps} (${c.stepLabel}): every proxy serves ${weights}; ${next}.`;
}
