// `route shift`: from flags to a running shift. Resolves the route, refuses what cannot be shifted safely
// (a shift already in progress, proxies that disagree with the applied VirtualService, a mirror step on a
// route that mirrors already), records the shift and runs it; --dry-run stops after the plan, --resume
// continues a recorded shift from what the proxies serve.
import { shiftPrometheusUrl, type MetricsChoice } from './promql-target.js';
import { EXIT, MeshctlError, environmentError, usageError } from '../errors.js';
import type { ShiftGuard } from '../mesh/agent/agent.js';
import type { HomeLayout } from '../mesh/home.js';
import { modelOf } from '../mesh/pods.js';
import { hostKey } from '../policy/hosts.js';
import type { PlannedEvent, ShiftEvent } from './events.js';
import { ShiftRunner, ShiftTakenOver, newRecord, planWeights, type InterruptChoice, type ManualChoice, type Progress, type RunResult } from './machine.js';
import { isTerminal, type ShiftRecord } from './record.js';
import { availableWeight, buildPlan, planDurations, sameWeights, weightsText, type PlanInput } from './plan.js';
import { hostOfArgument, resolveShiftRoute, routeChange, routeDisagreement, routeResourceLabel, type ResolvedShift, type ResolveOptions } from './route.js';
import { httpRoutesOf, resolveHttpRouteShift } from './http-route.js';
import { ShiftStore, currentOwner, listShifts, ownerAlive, sameOwner, shiftRecords, type ShiftRecords } from './store.js';
import type { StoredResource } from '../mesh/state.js';
import { shiftTarget, type ShiftTarget } from './target.js';
import type { MeshTarget } from '../target/target.js';

export interface ShiftHooks {
  emit(event: ShiftEvent): void;
  tick?(progress: Progress): void;
  ask?(record: ShiftRecord, next: number, signal: AbortSignal): Promise<ManualChoice>;
  onInterrupt(): Promise<InterruptChoice>;
  note?(line: string): void;
  /** On a terminal: the plan is shown and the person says whether to start. */
  confirm?(planned: PlannedEvent): Promise<boolean>;
}

export interface ShiftRequest {
  mesh: MeshTarget;
  host: string;
  namespace: string;
  to?: string;
  from?: string;
  route?: string;
  /** Which kind of route to shift; absent: the host's VirtualService, else its HTTPRoute. */
  routeKind?: 'virtualservice' | 'httproute';
  plan: PlanInput;
  manual: boolean;
  dryRun: boolean;
  resume: boolean;
  /** Flags every printed command must repeat (`--home DIR`, `-n NS`). */
  commonFlags: string;
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal;
  /** Where the gates read their figures (auto: the mesh's Prometheus when one runs, else the access logs). */
  metrics?: MetricsChoice;
  prometheusUrl?: string;
}

export interface ShiftOutcome {
  planned: PlannedEvent;
  result: RunResult | null;
  record: ShiftRecord | null;
}

/** The fully qualified host a user's HOST means in the mesh (with -n). */
export async function hostOf(mesh: Pick<MeshTarget, 'applied'>, host: string, namespace: string): Promise<string> {
  const { resources } = await mesh.applied();
  return hostOfArgument(modelOf(resources), host, namespace);
}

export function commands(hostArg: string, commonFlags: string) {
  const tail = commonFlags ? ` ${commonFlags}` : '';
  return {
    resume: `meshctl route shift ${hostArg} --resume${tail}`,
    abort: `meshctl route abort ${hostArg}${tail}`,
    status: `meshctl route status ${hostArg}${tail}`,
    watch: `meshctl route status ${hostArg} --watch${tail}`,
    promote: `meshctl route promote ${hostArg}${tail}`,
  };
}

/** The exit code of a shift's end: 0 promoted, 1 rolled back or aborted, 4 held, 130 interrupted. */
export function exitCodeOf(result: RunResult): number {
  if (result.interrupted) return EXIT.interrupted;
  if (result.phase === 'promoted') return EXIT.ok;
  if (result.phase === 'held') return EXIT.held;
  return EXIT.negative;
}

/** Why a new shift of `record`'s host is refused, and what to do instead. */
export function inProgressMessage(record: ShiftRecord, commonFlags: string): string {
  const c = commands(record.route.hostArg, commonFlags);
  if (ownerAlive(record.owner)) return `${inProgress(record)}; follow it with ${c.watch}, or stop it with ${c.abort}.`;
  return `${inProgress(record)}; continue it with ${c.resume}, or roll it back with ${c.abort}.`;
}

/** `A shift of HOST from v1 to v2 is in progress (step 2 of 4, held: …)`. */
function inProgress(record: ShiftRecord): string {
  const n = record.plan.steps.length;
  const at = record.pending ? `moving to step ${record.pending.cursor + 1} of ${n}` : record.cursor >= 0 ? `step ${record.cursor + 1} of ${n}` : 'its start';
  const state = ownerAlive(record.owner) ? `run by meshctl pid ${record.owner!.pid}` : record.phase === 'held' ? `held: ${record.reason}` : 'its meshctl process is gone';
  return `A shift of ${record.route.host} from ${record.route.from} to ${record.route.to} is in progress (${at}, ${state})`;
}

/** What in a plan may surprise whoever starts it: a first weight below the new subset's share now. */
export function planWarnings(record: ShiftRecord): string[] {
  const { to } = record.route;
  const now = record.weights.baseline[to] ?? 0;
  const index = record.plan.steps.findIndex((s) => s.kind === 'weight');
  const first = record.plan.steps[index];
  if (!first || first.weight >= now) return [];
  return [`Step ${index + 1} lowers ${to} from the ${now}% it holds now to ${first.weight}%; start --steps at ${now} or more to keep its share.`];
}

export function plannedEvent(record: ShiftRecord, proxies: string[], options: { dryRun: boolean; resumed: boolean }): PlannedEvent {
  const { promoteMs, rollbackMs } = planDurations(record.plan);
  const r = record.route;
  return {
    type: 'planned',
    time: new Date().toISOString(),
    shift: record.id,
    host: r.host,
    step: record.cursor + 1,
    steps: record.plan.steps.length,
    weights: { ...record.served },
    virtualService: `${r.virtualService.namespace}/${r.virtualService.name}`,
    ...(r.httpRoute ? { httpRoute: `${r.httpRoute.namespace}/${r.httpRoute.name} rule ${r.httpRoute.rule}` } : {}),
    route: r.name ? `http[${r.index}] (${r.name})` : `http[${r.index}]`,
    from: r.from,
    to: r.to,
    plan: record.plan.steps.map((s, i) => ({ kind: s.kind, weight: s.weight, ...(s.header ? { header: s.header } : {}), weights: record.weights.steps[i] })),
    intervalMs: record.plan.intervalMs,
    gates: record.plan.gates,
    minPromoteMs: promoteMs,
    rollbackMs,
    rollbackWeights: { ...record.weights.rollback },
    abortWeights: { ...record.weights.baseline },
    warnings: planWarnings(record),
    proxies,
    dryRun: options.dryRun,
    resumed: options.resumed,
  };
}

/** A shift in progress whose route an apply would change. */
export interface RouteConflict {
  record: ShiftRecord;
  change: string;
}

/** The shifts in progress whose route `after` changes; the writes of the shift of `exceptHost` itself excepted. */
export async function routeConflicts(layout: HomeLayout, before: StoredResource[], after: StoredResource[], exceptHost?: string): Promise<RouteConflict[]> {
  const out: RouteConflict[] = [];
  for (const record of await listShifts(layout)) {
    if (isTerminal(record) || record.route.host === exceptHost) continue;
    const change = routeChange(before, after, record.route);
    if (change) out.push({ record, change });
  }
  return out;
}

/** Why an apply is refused while a shift moves the route it changes, and the ways out. */
export function conflictMessage(conflict: RouteConflict, verb: 'apply' | 'delete', commonFlags: string): string {
  const { record } = conflict;
  const c = commands(record.route.hostArg, commonFlags);
  const state = inProgress(record).replace(/^A/, 'a');
  const force = verb === 'apply' ? '; or apply with --force, which holds the shift' : '';
  return `Nothing was ${verb === 'apply' ? 'applied' : 'deleted'}: ${state}, and ${conflict.change}. Finish the shift with ${c.promote} --full, or end it with ${c.abort} (back to ${weightsText(record.weights.baseline, record.route.destinations)}, the weights before the shift), then ${verb} again${force}.`;
}

/**
 * After an apply --force changed a shift's route (the caller holds the home's lock): the shift is held
 * with the reason, and --resume refuses until its route agrees with it again.
 */
export async function holdForChangedRoute(layout: HomeLayout, conflict: RouteConflict, revision: number): Promise<string | null> {
  const store = new ShiftStore(layout, conflict.record.route.host);
  const record = await store.read();
  if (!record || record.id !== conflict.record.id || isTerminal(record)) return null;
  const at = new Date().toISOString();
  const reason = `meshctl apply --force changed its route at revision ${revision}: ${conflict.change.replace(/^it /, '')}`;
  record.phase = 'held';
  record.reason = reason;
  record.owner = null;
  record.routeChanged = { revision, change: conflict.change, at };
  record.history.push({ at, event: 'hold', cursor: record.cursor, weights: { ...record.served }, reason });
  await store.write(record);
  return reason;
}

/** The shifts of `layout` as the mesh agent consults them before and after it applies a change. */
export function shiftGuard(layout: HomeLayout): ShiftGuard {
  return {
    async conflicts(before, after, exceptHost) {
      return (await routeConflicts(layout, before, after, exceptHost)).map((conflict) => ({
        refusal: (verb, commonFlags) => conflictMessage(conflict, verb, commonFlags),
        hold: async (revision) => {
          const reason = await holdForChangedRoute(layout, conflict, revision);
          const { host, hostArg } = conflict.record.route;
          return reason ? `The shift of ${host} is held: ${reason}; meshctl route abort ${hostArg} ends it and puts back the weights it started from.` : null;
        },
      }));
    },
  };
}

/** Refuses to start when a proxy serves other weights than the applied VirtualService says, or does not answer. */
async function checkAgreement(target: ShiftTarget, stored: Record<string, number> | null, label: string, hostArg: string): Promise<void> {
  const served = await target.readWeights();
  const silent = served.find((s) => !s.weights);
  if (silent) throw environmentError(`The proxy of ${silent.proxy} does not answer (${silent.error}); a shift needs every proxy that routes ${hostArg}: check meshctl status, then try again.`);
  if (!stored) return;
  const off = served.find((s) => s.weights && !sameWeights(s.weights, stored));
  if (off) {
    throw environmentError(`The proxy of ${off.proxy} serves ${weightsText(off.weights!)} but ${label} says ${weightsText(stored)}; apply the ${label.split(' ')[0]} again (or wait for the apply in progress) so that they agree, then shift.`);
  }
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new MeshctlError('Interrupted before the shift started; nothing was shifted.', EXIT.interrupted);
}

/**
 * The route a shift moves: the host's VirtualService; with --route-kind httproute, or when no
 * VirtualService routes the host but an HTTPRoute is attached to its Service, that HTTPRoute.
 */
function resolveRoute(resources: StoredResource[], host: string, request: ShiftRequest, pods?: ResolveOptions['pods']): ResolvedShift {
  const options = { host: request.host, namespace: request.namespace, to: request.to!, from: request.from, route: request.route, ...(pods ? { pods } : {}) };
  const routedByVirtualService = modelOf(resources).virtualServices.some((vs) => vs.resource.kind === 'VirtualService' && vs.gateways.includes('mesh') && vs.hosts.some((h) => hostKey(vs.namespace, h) === host));
  const kind = request.routeKind ?? (!routedByVirtualService && httpRoutesOf(resources, host).length ? 'httproute' : 'virtualservice');
  return kind === 'httproute' ? resolveHttpRouteShift(resources, host, options) : resolveShiftRoute(resources, options);
}

/** Starts (or with --resume continues) a shift and runs it to its end. */
export async function runShift(request: ShiftRequest, hooks: ShiftHooks): Promise<ShiftOutcome> {
  const { mesh } = request;
  const host = await hostOf(mesh, request.host, request.namespace);
  const store = shiftRecords(mesh, host);
  if (request.resume) return resume(request, store, hooks);

  const plan = buildPlan(request.plan);
  if (!request.to) throw usageError('Name the subset to shift traffic to with --to (e.g. --to v2), or continue a recorded shift with --resume.');
  const context = mesh.routeContext ? await mesh.routeContext() : { resources: (await mesh.applied()).resources, pods: undefined };
  const resolved = resolveRoute(context.resources, host, request, context.pods);
  if (resolved.route.httpRoute && (request.plan.header || request.plan.mirror)) {
    throw usageError(`--${request.plan.header ? 'header' : 'mirror'} is not offered for an HTTPRoute shift (its steps move backendRefs weights only); drop it, or shift a VirtualService.`);
  }
  const { route } = resolved;
  const existing = await store.read();
  if (existing && !isTerminal(existing)) throw usageError(inProgressMessage(existing, request.commonFlags));
  const max = Math.max(...plan.steps.map((s) => s.weight));
  const available = availableWeight(resolved.baseline, route.from, route.to);
  if (max > available) {
    throw usageError(`The plan gives ${route.to} up to ${max}%, but only ${available}% of the route is ${route.from}'s or ${route.to}'s (its other destinations keep theirs); lower --max-weight or --steps to at most ${available}.`);
  }
  if (plan.steps.some((s) => s.kind === 'mirror') && resolved.mirrored) {
    const r = route.name ? `http[${route.index}] (${route.name})` : `http[${route.index}]`;
    throw usageError(`VirtualService ${route.virtualService.namespace}/${route.virtualService.name} ${r} mirrors traffic already, and --mirror would replace its mirror; drop --mirror, or remove the route's mirror and apply it first.`);
  }
  const prometheusUrl = await shiftPrometheusUrl(mesh, request.metrics, request.prometheusUrl);
  if (plan.gates.custom?.length && !prometheusUrl) throw usageError(`--gate ${plan.gates.custom[0]!.name} is a PromQL gate, and the shift reads no Prometheus; run meshctl addons enable prometheus, or pass --prometheus-url URL.`);
  const target = shiftTarget(mesh, route, { prometheusUrl });
  const draft = newRecord(route, plan, resolved.baseline, { manual: request.manual, owner: null });
  if (request.dryRun) {
    const proxies = await target.proxies();
    const planned = plannedEvent(draft, proxies, { dryRun: true, resumed: false });
    hooks.emit(planned);
    return { planned, result: null, record: null };
  }

  const label = routeResourceLabel(route);
  await checkAgreement(target, resolved.addsDestination ? null : await target.storedWeights(), label, request.host);
  checkSignal(request.signal);
  if (hooks.confirm && !(await hooks.confirm(plannedEvent(draft, await target.proxies(), { dryRun: false, resumed: false })))) {
    throw new MeshctlError('Shift cancelled; nothing was changed.', EXIT.usage);
  }
  checkSignal(request.signal);
  const record = newRecord(route, plan, resolved.baseline, { manual: request.manual, owner: currentOwner() });
  await store.locked(async () => {
    const again = await store.read();
    if (again && !isTerminal(again)) throw usageError(inProgressMessage(again, request.commonFlags));
    await store.clearRequest();
    await store.write(record);
  });
  try {
    if (resolved.addsDestination) {
      // The new subset joins the route at weight 0 (a change of the proxies' structure: a hitless reload).
      hooks.note?.(route.httpRoute
        ? `Writing ${label}'s backendRefs weights as percentages first: ${weightsText(resolved.baseline, route.destinations)}.`
        : `Adding ${route.to} to ${label} at weight 0 first.`);
      await target.storeWeights(resolved.baseline, null);
    }
  } catch (err) {
    // Nothing was shifted: the record goes, so that the next shift is not refused.
    await store.locked(() => store.remove());
    throw err;
  }
  await target.startReading();
  const planned = plannedEvent(record, await target.proxies(), { dryRun: false, resumed: false });
  hooks.emit(planned);
  const result = await drive(record, store, target, request, hooks, {});
  return { planned, result, record };
}

async function resume(request: ShiftRequest, store: ShiftRecords, hooks: ShiftHooks): Promise<ShiftOutcome> {
  const c = commands(request.host, request.commonFlags);
  const found = await store.read();
  if (!found || isTerminal(found)) {
    const ended = found ? ` (the last one ${found.phase.replace('_', ' ')}${found.reason ? `: ${found.reason}` : ''})` : '';
    throw usageError(`No shift of ${request.host} is in progress${ended}, so there is nothing to resume; start one with meshctl route shift ${request.host} --to SUBSET.`);
  }
  if (ownerAlive(found.owner)) throw usageError(`The shift of ${found.route.host} is running in meshctl pid ${found.owner!.pid}; follow it with ${c.watch}, or stop it with ${c.abort}.`);
  // After an apply --force only the shift's own weights will do; else any weights of its plan.
  const expected = found.routeChanged
    ? [found.served, ...(found.pending ? [found.pending.weights] : [])]
    : [found.served, ...planWeights(found).map((w) => w.weights)];
  const disagreement = routeDisagreement((await request.mesh.applied()).resources, found.route, expected);
  if (disagreement) {
    const order = found.route.destinations;
    throw usageError(`The route of the shift of ${found.route.host} changed since it was held: ${disagreement}, and resuming would overwrite it. End the shift with ${c.abort} (back to ${weightsText(found.weights.baseline, order)}, the weights before the shift), or apply the route with the shift's weights (${weightsText(found.served, order)}, with --force) and resume.`);
  }
  const record = await store.locked(async () => {
    const disk = await store.read();
    if (!disk || isTerminal(disk) || ownerAlive(disk.owner)) throw usageError(`The shift of ${request.host} changed while resuming; look at it with ${c.status}.`);
    disk.owner = currentOwner();
    delete disk.routeChanged;
    if (request.manual) disk.manual = true;
    await store.write(disk);
    return disk;
  });
  const prometheusUrl = await shiftPrometheusUrl(request.mesh, request.metrics, request.prometheusUrl);
  if (record.plan.gates.custom?.length && !prometheusUrl) {
    throw usageError(`The shift of ${record.route.hostArg} gates on PromQL (--gate ${record.plan.gates.custom[0]!.name}), and no Prometheus runs; run meshctl addons enable prometheus, or pass --prometheus-url URL, and resume again.`);
  }
  const target = shiftTarget(request.mesh, record.route, { prometheusUrl });
  await target.startReading();
  const planned = plannedEvent(record, await target.proxies(), { dryRun: false, resumed: true });
  hooks.emit(planned);
  const result = await drive(record, store, target, request, hooks, { resumed: true });
  return { planned, result, record };
}

async function drive(record: ShiftRecord, store: ShiftRecords, target: ShiftTarget, request: ShiftRequest, hooks: ShiftHooks, options: { resumed?: boolean }): Promise<RunResult> {
  const c = commands(record.route.hostArg, request.commonFlags);
  const runner = new ShiftRunner(record, { target, store, emit: hooks.emit, tick: hooks.tick, ask: hooks.ask, onInterrupt: hooks.onInterrupt, note: hooks.note, resumeCommand: c.resume });
  const onAbort = () => runner.interrupt();
  request.signal?.addEventListener('abort', onAbort);
  if (request.signal?.aborted) runner.interrupt();
  try {
    return await runner.run(options);
  } catch (err) {
    // Whatever failed, the shift stays resumable: the record keeps a pending change, or is held.
    let left: ShiftRecord | null = null;
    let heldElsewhere: ShiftRecord | null = null;
    await store.locked(async () => {
      const disk = await store.read();
      if (!disk || disk.id !== record.id || isTerminal(disk)) return;
      // Held by someone else (apply --force changed its route): their reason stands.
      if (err instanceof ShiftTakenOver && !sameOwner(disk.owner, record.owner) && disk.phase === 'held') {
        heldElsewhere = disk;
        return;
      }
      disk.owner = null;
      if (!disk.pending) {
        disk.phase = 'held';
        disk.reason = `stopped by an error: ${(err as Error).message.replace(/\.$/, '')}`;
      }
      await store.write(disk);
      left = disk;
    }).catch(() => undefined);
    const held = heldElsewhere as ShiftRecord | null;
    if (held) {
      hooks.emit({ type: 'hold', time: new Date().toISOString(), shift: held.id, host: held.route.host, step: held.cursor + 1, steps: held.plan.steps.length, weights: { ...held.served }, reason: held.reason ?? 'held', resume: c.resume });
      throw new MeshctlError(`The shift of ${held.route.host} is held: ${held.reason}. Continue it with ${c.resume} once its route agrees with it, or end it with ${c.abort}.`, EXIT.held);
    }
    const message = (err as Error).message.replace(/\.$/, '');
    const code = err instanceof MeshctlError ? err.exitCode : EXIT.environment;
    const now = left as ShiftRecord | null;
    if (!now) throw new MeshctlError(`${message}.`, code);
    const where = now.pending ? 'Its last change of weights is recorded but not finished' : 'The shift is held where it was';
    throw new MeshctlError(`${message}. ${where}; continue it with ${c.resume}, or roll it back with ${c.abort}.`, code);
  } finally {
    request.signal?.removeEventListener('abort', onAbort);
  }
}
