// The mesh agent's work: it turns the applied resources into running pods (app + sidecar) and gateway
// proxies, keeps them running through the supervisor, pushes each revision's compiled configs to the
// proxies and answers the CLI's questions about them. One operation at a time changes anything.
import { promises as fs } from 'node:fs';
import { EXIT, MeshctlError } from '../../errors.js';
import { DEFAULT_RENEW_AT, renewalCheckIntervalMs, renewWorkloadCertificateIfDue, sidecarPem, workloadCertificateLifetimeMs, type MeshCa } from '../ca.js';
import { CompileError, compileMesh } from '../../runtime/haproxy/compiler.js';
import { sidecarsCompiled } from '../../runtime/haproxy/incremental.js';
import { proxyPaths, type CompiledMesh, type CompiledProxy, type MeshGatewayProxy, type MeshPod, type ProxyTarget } from '../../runtime/haproxy/types.js';
import { meshGateway, meshPod, modelOf, place, podEnvironment, readPlacement, writePlacement, type GatewayRecord, type Placement, type PodRecord } from '../pods.js';
import type { MeshModel } from '../../policy/mesh-model.js';
import type { HomeLayout } from '../home.js';
import { withLock } from '../lock.js';
import { loopbackListeningPorts, PortAllocator, portFree, portListening } from '../ports.js';
import { commitRevision, planApply, planDelete, readApplied, type AppliedState, type MeshConfigFile, type StoredResource } from '../state.js';
import { specHash, stopFromPidFile, type ProcessSpec, type Supervisor } from '../supervisor.js';
import { pointInboundAt, proxyCommand, pushCertificate, reloadDidNotTakeOver, rotateProxyLog, servedRevision, startedProxyServes, updateRunningProxy, writeProxyFiles } from '../proxy-control.js';
import { waitFor } from '../../system/processes.js';
import { configCheckCounts } from '../../runtime/haproxy/binary.js';
import { NOT_RUNNING, proxyReadiness, proxyRevisionKey, reloadConcurrency, ServedConfigs, startConcurrency, Turns, type ProxyPush, type PushPath } from '../config-push.js';
import type { ApplyRequest, ApplyResult, MeshStatus, PingResult, PodChange, PodStatus, ShutdownResult } from './protocol.js';

const APP = 'app';
const PROXY = 'proxy';
/** Supervised names: `<pod>/app`, `<pod>/proxy`, `gateway:<ns>/<name>/proxy`. */
const proxyName = (pod: string) => `${pod}/${PROXY}`;
const gatewayProxyName = (g: { namespace: string; name: string }) => `gateway:${g.namespace}/${g.name}/${PROXY}`;

/** The last line of `file` that says what went wrong (else its last line); null when none. */
async function lastLogLine(file: string): Promise<string | null> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  // A crashed runtime ends with its own banner (Node prints its version): the error line says more.
  return [...lines].reverse().find((l) => /error|cannot|not found|denied|refused|failed/i.test(l)) ?? lines[lines.length - 1] ?? null;
}

export interface AgentOptions {
  layout: HomeLayout;
  config: MeshConfigFile;
  ca: MeshCa;
  supervisor: Supervisor;
  version: string;
  log: (line: string) => void;
  /** The shifts in progress, which refuse or hold an apply that moves their route (none without it). */
  shifts?: ShiftGuard;
  /** Told the pods and gateways each time they change (the metrics endpoint follows them). */
  onPlacement?: (placement: Placement) => Promise<void>;
}

/**
 * What the shifts in progress say about a change of the applied resources. Route shift sits above the
 * mesh, so the agent's entry hands it in (main.ts), and the agent never imports it.
 */
export interface ShiftGuard {
  /** The shifts whose route the change moves, the shift of `exceptHost` itself excepted. */
  conflicts(before: StoredResource[], after: StoredResource[], exceptHost?: string): Promise<ShiftConflict[]>;
}

export interface ShiftConflict {
  /** Why the change is refused without --force, and the ways out. */
  refusal(verb: 'apply' | 'delete', commonFlags: string): string;
  /** Holds the shift once a forced change landed at `revision`: the sentence saying so, or null when the shift ended meanwhile. */
  hold(revision: number): Promise<string | null>;
}

/** One proxy a revision is pushed to. */
interface PushTarget {
  compiled: CompiledProxy;
  target: ProxyTarget;
  serviceAccount: string;
  supervised: string;
  pod: boolean;
}

/**
 * Runtime-API updates at once: each is a few commands on a socket, no parse of the configuration, and
 * the durable writes of the proxy's new values (Lua, maps, state), whose syncs the disk commits
 * together when many wait at once (one sync alone takes as long as dozens side by side).
 */
const LIGHT_PUSHES = 64;
/** From how many pods on, whether their apps listen is read from the kernel's socket tables at once (podStatuses). */
const TABLE_READ_FROM = 16;

interface Current {
  applied: AppliedState;
  placement: Placement;
  model: MeshModel;
  compiled: CompiledMesh | null;
}

export class MeshAgent {
  private queue: Promise<unknown> = Promise.resolve();
  private current: Current | null = null;
  private readonly served = new ServedConfigs();
  /** Starts and reloads (a parse of the whole configuration each) and runtime-API updates, each a bounded number at a time. */
  private readonly startTurns = new Turns(startConcurrency());
  private readonly prepareTurns = new Turns(2 * startConcurrency());
  private readonly reloadTurns = new Turns(reloadConcurrency());
  private readonly lightTurns = new Turns(LIGHT_PUSHES);
  private readonly startedAt = new Date().toISOString();

  constructor(private readonly options: AgentOptions) {}

  private get layout(): HomeLayout {
    return this.options.layout;
  }

  /** The lifetime every workload certificate is issued with, new pods and renewals alike. */
  get certificateLifetimeMs(): number {
    return workloadCertificateLifetimeMs(this.options.config);
  }

  /** Runs `fn` after every operation queued before it, holding the home's lock. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => withLock(this.layout.lockFile, fn));
    this.queue = run.catch(() => undefined);
    return run;
  }

  ping(): PingResult {
    return { pid: process.pid, home: this.layout.root, revision: this.current?.applied.revision ?? 0, startedAt: this.startedAt, version: this.options.version };
  }

  /** At agent start: bring the stored state back to life, adopting what still runs. */
  start(): Promise<void> {
    this.started = this.exclusive(async () => {
      const applied = await readApplied(this.layout);
      const previous = await readPlacement(this.layout);
      const model = modelOf(applied.resources);
      const placement = await place(model, previous);
      const { compiled } = this.compile(model, placement, applied.revision);
      await this.converge({ applied, placement, model, compiled }, previous);
      this.options.log(`serving revision ${applied.revision}: ${placement.pods.length} pods, ${placement.gateways.length} gateways`);
    });
    return this.started;
  }

  /** Settles once the start-up convergence is over (whatever its outcome). */
  private started: Promise<void> = Promise.resolve();

  private pods(placement: Placement): MeshPod[] {
    return placement.pods.map((p) => meshPod(this.layout, p));
  }

  private gateways(placement: Placement): MeshGatewayProxy[] {
    return placement.gateways.map((g) => meshGateway(this.layout, g));
  }

  /** Compiles the mesh at `revision`; a proxy whose configuration is the same as in `previous` keeps its compiled form and revision. */
  private compile(model: MeshModel, placement: Placement, revision: number, previous: CompiledMesh | null = null): { compiled: CompiledMesh } {
    try {
      return { compiled: compileMesh(model, { pods: this.pods(placement), gateways: this.gateways(placement) }, { revision, trustDomain: this.options.config.trustDomain }, previous) };
    } catch (err) {
      if (err instanceof CompileError) throw new MeshctlError(err.message, EXIT.usage);
      throw err;
    }
  }

  apply(request: ApplyRequest): Promise<ApplyResult> {
    const started = Date.now();
    return this.exclusive(async () => {
      const applied = await readApplied(this.layout);
      // After a failed start there is no converged state: start from what the store says.
      const current = this.current ?? { applied, placement: await readPlacement(this.layout), model: modelOf(applied.resources), compiled: null };
      let plan: { resources: StoredResource[]; changes: ApplyResult['changes']; missing: ApplyResult['missing'] };
      if (request.action === 'apply') {
        plan = { ...planApply(applied.resources, request.resources ?? []), missing: [] };
      } else {
        const selectors = [
          ...(request.selectors ?? []),
          ...(request.resources ?? []).map((r) => ({ kind: r.kind, namespace: r.metadata.namespace ?? '', name: r.metadata.name })),
        ];
        plan = planDelete(applied.resources, selectors);
      }
      const changed = plan.changes.some((c) => c.action !== 'unchanged');
      const conflicts = changed && this.options.shifts ? await this.options.shifts.conflicts(applied.resources, plan.resources, request.shiftHost) : [];
      if (conflicts.length && !request.force) throw new MeshctlError(conflicts[0]!.refusal(request.action, request.commonFlags ?? ''), EXIT.usage);
      if (!changed) {
        // The same resources again after a rollout stopped: its pods still run the old apps, so roll on.
        const behind = this.current?.compiled ? this.current.placement.pods.some((p) => this.options.supervisor.specHashOf(`${p.name}/${APP}`) !== specHash(this.appSpec(p, meshPod(this.layout, p)))) : false;
        const { pods, proxies } = behind ? await this.converge(this.current!, this.current!.placement, request.timeoutMs) : { pods: [], proxies: [] };
        const synced = request.wait ? await this.waitSynced(request.timeoutMs) : { synced: false, pending: [] };
        return { revision: applied.revision, committed: false, changes: plan.changes, pods, proxies, configChecks: { run: 0, reused: 0 }, ...synced, missing: plan.missing, notes: current.compiled?.notes ?? [], elapsedMs: Date.now() - started };
      }
      const model = modelOf(plan.resources);
      const placement = await place(model, current.placement);
      await this.checkGatewayPorts(placement.gateways, current.placement.gateways);
      const modelledAt = Date.now();
      // Compile before committing: a state no proxy can serve is refused, not stored. The store is
      // written under the lock held here, so the revision it gives is this one, and this compile is
      // the apply's only one.
      const probe = this.compile(model, placement, applied.revision + 1, current.compiled);
      const compiledAt = Date.now();
      const record = await commitRevision(this.layout, plan.resources, plan.changes, request.action === 'apply' ? 'apply' : 'delete');
      const held: string[] = [];
      for (const conflict of conflicts) {
        const sentence = await conflict.hold(record.revision);
        if (sentence) held.push(sentence);
      }
      const compiled = record.revision === probe.compiled.revision ? probe.compiled : this.compile(model, placement, record.revision, current.compiled).compiled;
      const committedAt = Date.now();
      const checksBefore = configCheckCounts();
      const { pods, proxies } = await this.converge({ applied: record, placement, model, compiled }, current.placement, request.timeoutMs);
      const checksAfter = configCheckCounts();
      const configChecks = { run: checksAfter.run - checksBefore.run, reused: checksAfter.reused - checksBefore.reused };
      const convergedAt = Date.now();
      // A sidecar that answered `ok` to the revision over its runtime API serves it, and one left alone
      // was found running the configuration it serves (its pid checked in converge): only their apps are asked.
      const proven = new Set(proxies.filter((p) => p.kind === 'sidecar' && (p.path === 'runtime' || p.path === 'unchanged') && !pods.some((c) => c.name === p.name)).map((p) => p.name));
      const synced = request.wait ? await this.waitSynced(Math.max(0, request.timeoutMs - (Date.now() - started)), proven) : { synced: false, pending: [] };
      const recompiled = sidecarsCompiled(compiled);
      const timings = `modelled ${modelledAt - started} ms, compiled ${compiledAt - modelledAt} ms (${recompiled ?? compiled.sidecars.length} of ${compiled.sidecars.length} sidecars), stored ${committedAt - compiledAt} ms, proxies and pods updated ${convergedAt - committedAt} ms, all serving ${Date.now() - convergedAt} ms`;
      this.options.log(`revision ${record.revision} (${timings}): ${plan.changes.filter((c) => c.action !== 'unchanged').map((c) => `${c.kind}/${c.name} ${c.action}`).join(', ')}`);
      return { revision: record.revision, committed: true, changes: plan.changes, pods, proxies, configChecks, ...synced, missing: plan.missing, notes: compiled.notes, ...(held.length ? { held } : {}), elapsedMs: Date.now() - started };
    });
  }

  /** A Gateway's port must be free on loopback, unless one of this mesh's gateway proxies already serves it. */
  private async checkGatewayPorts(next: GatewayRecord[], before: GatewayRecord[]): Promise<void> {
    const ours = new Set(before.flatMap((g) => Object.values(g.listeners)));
    for (const g of next) {
      for (const port of Object.values(g.listeners)) {
        if (ours.has(port)) continue;
        if (!(await portFree(port))) {
          throw new MeshctlError(`Gateway ${g.namespace}/${g.name} listens on port ${port}, which another program uses on 127.0.0.1; free the port or change the Gateway's server port.`, EXIT.environment);
        }
      }
    }
  }

  private appSpec(pod: PodRecord, mesh: MeshPod): ProcessSpec {
    const files = this.layout.pod(pod.name);
    const [first, ...args] = pod.command;
    // `node` means the Node that runs meshctl, so workloads run the same on every machine.
    const command = first === 'node' ? process.execPath : first;
    const baseEnv = this.options.config.env ?? {};
    return {
      name: `${pod.name}/${APP}`,
      command,
      args,
      env: { ...baseEnv, ...podEnvironment(mesh, pod.env, this.options.config.trustDomain) },
      cwd: pod.workingDir ?? this.layout.root,
      stdoutFile: files.appLog,
      stderrFile: files.appLog,
      previousLogFile: files.appPreviousLog,
      pidFile: files.appPid,
    };
  }

  private proxySpec(supervised: string, target: ProxyTarget): ProcessSpec {
    const launch = proxyCommand(this.options.config.proxy.bin, target);
    return {
      name: supervised,
      command: launch.command,
      args: launch.args,
      env: this.options.config.env ?? {},
      cwd: target.paths.dir,
      stdoutFile: launch.stdoutFile,
      stderrFile: launch.stderrFile,
      pidFile: launch.pidFile,
      holdOutput: launch.holdOutput,
    };
  }

  /**
   * Brings one proxy to `compiled`: certificate first, then a running proxy is updated in place (a
   * proxy that outlived the previous agent is adopted first, so that it is updated from what it really
   * serves), and a proxy that does not run gets its files and is started.
   */
  private async updateProxy(target: ProxyTarget, compiled: CompiledProxy, serviceAccount: string, supervised: string, known: CompiledProxy | null = null): Promise<PushPath> {
    const { supervisor, ca, log } = this.options;
    const bin = this.options.config.proxy.bin;
    const paths = target.paths;
    // Weights and the revision alone change: the identity is the one the proxy serves, and its
    // certificate's renewal is the renewal check's (renewCertificates) to do.
    const light = known !== null && known.structureHash === compiled.structureHash;
    // The certificate's writer makes the proxy's directory when it writes there.
    const certificate = async () => {
      await renewWorkloadCertificateIfDue(ca, { namespace: target.namespace, serviceAccount }, { certificate: paths.certificate, caBundle: paths.caBundle }, { ttlMs: this.certificateLifetimeMs });
    };
    const spec = this.proxySpec(supervised, target);
    let pid = supervisor.status(supervised)?.pid ?? null;
    if (pid === null && !supervisor.status(supervised) && (await supervisor.adoptable(spec.pidFile))) {
      pid = (await supervisor.ensure(spec)).status.pid;
    }
    if (pid !== null) {
      if (!light) await certificate();
      // A reload's successor is supervised under the same name once it serves.
      const handOver = (args: string[], serves: (successor: { pid: number }) => Promise<void>) => supervisor.handOver(supervised, args, serves);
      try {
        const updated = await (light ? this.lightTurns : this.reloadTurns).take(() => updateRunningProxy(bin, target, compiled, pid!, handOver, known ?? undefined));
        await this.served.record(supervised, target, compiled, updated.pid);
        return updated.action === 'runtime' || updated.action === 'unchanged' ? updated.action : 'reloaded';
      } catch (err) {
        // The running process still serves the previous configuration: it stays, and the failure is reported.
        if (reloadDidNotTakeOver(err) && supervisor.status(supervised)?.phase === 'Running') {
          this.served.forget(supervised);
          throw err;
        }
        log(`${target.name}: update failed (${(err as Error).message}); restarting the proxy`);
        this.served.forget(supervised);
        await supervisor.stop(supervised);
      }
    }
    // A few proxies are prepared at a time, just ahead of the starts: preparing all of them at once would
    // hold every start back until the last certificate and file are written.
    await this.prepareTurns.take(async () => {
      await certificate();
      await writeProxyFiles(bin, target, compiled);
    });
    // A start parses the whole configuration: it holds its turn until the proxy serves, so that starts
    // do not pile up beyond the CPUs there are (whether it does serve is the wait for the revision's to say).
    const started = await this.startTurns.take(async () => {
      const { pid: spawned } = (await supervisor.ensure(spec)).status;
      await startedProxyServes(target, compiled.revision, 15_000);
      return spawned;
    });
    await this.served.record(supervised, target, compiled, started);
    return 'started';
  }

  /**
   * Brings every proxy of `targets` to its compiled configuration: the ones that serve it already are
   * left alone; starts and reloads (a configuration parse each) run a bounded number at a time, updates
   * expected to go through the runtime API more at once. `then` runs once a proxy is brought up.
   */
  private async pushAll(targets: PushTarget[], then: (t: PushTarget) => Promise<void>): Promise<{ pushes: ProxyPush[]; failures: string[] }> {
    const { supervisor, log } = this.options;
    const pushes: ProxyPush[] = [];
    const failures: string[] = [];
    const push = (t: PushTarget, path: PushPath) => pushes.push({ name: t.target.name, namespace: t.target.namespace, kind: t.pod ? 'sidecar' : 'gateway', path, revision: t.compiled.revision });
    // One proxy that cannot take its configuration must not keep the others from theirs.
    await Promise.all(targets.map(async (t) => {
      const pid = supervisor.status(t.supervised)?.pid ?? null;
      if (await this.served.unchanged(t.supervised, t.target, t.compiled, pid)) {
        push(t, 'unchanged');
        return;
      }
      try {
        const known = await this.served.knownServed(t.supervised, t.target, pid);
        push(t, await this.updateProxy(t.target, t.compiled, t.serviceAccount, t.supervised, known));
        await then(t);
      } catch (err) {
        failures.push(`${t.target.name}: ${(err as Error).message.split('\n')[0]}`);
        log(`${t.target.name}: ${(err as Error).message}`);
      }
    }));
    return { pushes: pushes.sort((a, b) => a.name.localeCompare(b.name)), failures };
  }

  /**
   * Makes the running processes match `next`: certificates, proxy configs (running proxies updated in
   * place), new pods started (sidecar first), pods no longer wanted stopped (after every other proxy
   * stopped routing to them), apps whose command or environment changed restarted.
   */
  private async converge(next: Current, previous: Placement, rolloutTimeoutMs = 60_000): Promise<{ pods: PodChange[]; proxies: ProxyPush[] }> {
    const { supervisor } = this.options;
    const changes: PodChange[] = [];
    await this.writePlacement(next);
    this.current = next;
    await this.options.onPlacement?.(next.placement).catch((err: Error) => this.options.log(`the metrics endpoint could not follow the pods: ${err.message}`));

    const targets: PushTarget[] = [];
    for (const c of next.compiled?.sidecars ?? []) {
      const pod = next.placement.pods.find((p) => p.name === c.name)!;
      targets.push({ compiled: c, target: meshPod(this.layout, pod), serviceAccount: pod.serviceAccount, supervised: proxyName(pod.name), pod: true });
    }
    for (const c of next.compiled?.gateways ?? []) {
      const g = next.placement.gateways.find((x) => x.name === c.name && x.namespace === c.namespace)!;
      targets.push({ compiled: c, target: meshGateway(this.layout, g), serviceAccount: g.serviceAccount, supervised: gatewayProxyName(g), pod: false });
    }
    const { pushes, failures } = await this.pushAll(targets, async (t) => {
      if (!t.pod || previous.pods.some((p) => p.name === t.target.name)) return;
      changes.push({ name: t.target.name, action: 'created' });
      // A new pod's app starts as soon as its sidecar serves, while the other sidecars start.
      const pod = next.placement.pods.find((p) => p.name === t.target.name)!;
      await supervisor.ensure(this.appSpec(pod, meshPod(this.layout, pod)));
    });

    // A running app whose command, environment or directory changed is replaced as a Deployment's rolling
    // update does with maxUnavailable 0: one pod of a Workload at a time, the new app ready before the old stops.
    const rollouts = new Map<string, PodRecord[]>();
    await Promise.all(next.placement.pods.map(async (pod) => {
      const spec = this.appSpec(pod, meshPod(this.layout, pod));
      const existed = previous.pods.some((p) => p.name === pod.name);
      if (existed) await supervisor.adoptAsItRuns(spec);
      const running = supervisor.status(spec.name)?.phase === 'Running';
      if (running && existed && supervisor.specHashOf(spec.name) !== specHash(spec)) {
        const key = `${pod.namespace}/${pod.workload}`;
        rollouts.set(key, [...(rollouts.get(key) ?? []), pod]);
        return;
      }
      const { outcome } = await supervisor.ensure(spec);
      if (outcome === 'replaced' && previous.pods.some((p) => p.name === pod.name)) changes.push({ name: pod.name, action: 'restarted' });
    }));
    const ports = new PortAllocator([
      ...next.placement.pods.flatMap((p) => Object.values(p.ports)),
      ...next.placement.gateways.flatMap((g) => [g.ports.admin, ...Object.values(g.listeners)]),
    ]);
    const stalled: string[] = [];
    await Promise.all([...rollouts].map(async ([workload, pods]) => {
      for (const pod of pods.sort((a, b) => a.replica - b.replica)) {
        const failure = await this.replacePod(pod, next, ports, rolloutTimeoutMs);
        if (failure) {
          const left = pods.length - pods.indexOf(pod);
          stalled.push(`the rollout of Workload ${workload} stopped at pod ${pod.name}: ${failure}; ${left === 1 ? 'its old app keeps' : `the old apps of ${left} pods keep`} serving`);
          return;
        }
        changes.push({ name: pod.name, action: 'restarted' });
      }
    }));

    const gone = previous.pods.filter((p) => !next.placement.pods.some((q) => q.name === p.name));
    await Promise.all(gone.map(async (pod) => {
      await supervisor.stop(`${pod.name}/${APP}`);
      await supervisor.stop(proxyName(pod.name));
      await fs.rm(this.layout.pod(pod.name).dir, { recursive: true, force: true });
      changes.push({ name: pod.name, action: 'deleted' });
    }));
    const goneGateways = previous.gateways.filter((g) => !next.placement.gateways.some((x) => x.name === g.name && x.namespace === g.namespace));
    await Promise.all(goneGateways.map(async (g) => {
      await supervisor.stop(gatewayProxyName(g));
      await fs.rm(this.layout.gateway(g.namespace, g.name), { recursive: true, force: true });
    }));
    // Pods found on disk that no placement names (left by an interrupted operation) must not run on.
    await this.removeStrays(next.placement);
    if (stalled.length) {
      throw new MeshctlError(`Revision ${next.applied.revision} is stored, but ${stalled.join('; ')}. Fix the Workload (its command, environment, or the directory it is applied from) and apply again.`, EXIT.environment);
    }
    if (failures.length) {
      throw new MeshctlError(
        `Revision ${next.applied.revision} is stored, but ${failures.length === 1 ? 'a proxy' : `${failures.length} proxies`} could not take it (${failures.join('; ')}); fix the policy and apply again, and see ${this.layout.agentLog}.`,
        EXIT.environment,
      );
    }
    return { pods: changes.sort((a, b) => a.name.localeCompare(b.name)), proxies: pushes };
  }

  /**
   * Begins a new access log for a proxy whose log passed the rotation size (the supervisor's
   * `output-large`): a hitless reload with the configuration it serves, its log set aside as
   * `access.log.1`, taken in turn with applies. A proxy the mesh no longer has is left alone.
   */
  rotateLog(supervised: string): Promise<void> {
    return this.exclusive(async () => {
      const { supervisor, log } = this.options;
      const current = this.current;
      const target = current ? this.placedProxies(current).find((p) => p.supervised === supervised)?.target ?? null : null;
      const compiled = [...(current?.compiled?.sidecars ?? []), ...(current?.compiled?.gateways ?? [])].find((c) => target && c.name === target.name && c.namespace === target.namespace);
      const pid = supervisor.status(supervised)?.pid ?? null;
      if (!target || pid === null) return;
      try {
        const next = await this.reloadTurns.take(() => rotateProxyLog(target, pid, (args, serves) => supervisor.handOver(supervised, args, serves, { setAside: true })));
        if (compiled) await this.served.record(supervised, target, compiled, next);
        log(`${supervised}: its access log passed the rotation size and was set aside as access.log.1 (pid ${pid} → ${next})`);
      } catch (err) {
        log(`${supervised}: its access log could not be set aside (${(err as Error).message}); it is tried again once the log has grown by as much more`);
      }
    });
  }

  /** Every proxy the placement has (sidecars, then gateways), with the name the supervisor runs it under. */
  private placedProxies(current: Current): { target: ProxyTarget; serviceAccount: string; supervised: string }[] {
    return [
      ...current.placement.pods.map((p) => ({ target: meshPod(this.layout, p) as ProxyTarget, serviceAccount: p.serviceAccount, supervised: proxyName(p.name) })),
      ...current.placement.gateways.map((g) => ({ target: meshGateway(this.layout, g) as ProxyTarget, serviceAccount: g.serviceAccount, supervised: gatewayProxyName(g) })),
    ];
  }

  /** The placement, with the revision each proxy's configuration last changed at (what proxy-status compares with). */
  private async writePlacement(next: Current): Promise<void> {
    const revisions = Object.fromEntries([...(next.compiled?.sidecars ?? []), ...(next.compiled?.gateways ?? [])].map((p) => [proxyRevisionKey(p), p.revision]));
    next.placement.revisions = revisions;
    await writePlacement(this.layout, next.placement);
  }

  /**
   * Replaces one pod's app: the new app starts beside the old one on a port of its own; once it listens,
   * the pod's sidecar sends to it and the old app stops. A replacement that does not listen within
   * `timeoutMs` (or keeps crashing) is stopped and the old app left serving: the reason is returned.
   */
  private async replacePod(pod: PodRecord, next: Current, ports: PortAllocator, timeoutMs: number): Promise<string | null> {
    const { supervisor } = this.options;
    const files = this.layout.pod(pod.name);
    const replacement: PodRecord = { ...pod, ports: { ...pod.ports, app: await ports.next() } };
    const final = this.appSpec(replacement, meshPod(this.layout, replacement));
    // The replacement logs aside until it takes the pod's place: the old app's log stays whole meanwhile.
    const log = `${files.appLog}.next`;
    await fs.rm(log, { force: true });
    const spec: ProcessSpec = { ...final, name: `${pod.name}/${APP}-next`, pidFile: `${files.appPid}.next`, stdoutFile: log, stderrFile: log, previousLogFile: undefined };
    await supervisor.ensure(spec);
    let crashed = false;
    const ready = await waitFor(async () => {
      const status = supervisor.status(spec.name);
      crashed = (status?.restarts ?? 0) >= 2;
      return crashed || (status?.phase === 'Running' && (await portListening(replacement.ports.app)));
    }, timeoutMs, 50);
    if (!ready || crashed) {
      await supervisor.stop(spec.name);
      const line = await lastLogLine(log);
      await fs.rm(log, { force: true });
      const why = crashed ? 'keeps crashing' : `did not listen within ${Math.round(timeoutMs / 100) / 10}s`;
      return `its replacement ${why}${line ? ` (its last log line: ${JSON.stringify(line)})` : ' (it logged nothing)'}`;
    }
    // The sidecar now sends to the new app (its running process at once, then its configuration); then the
    // old app stops, and the new one takes its name.
    await pointInboundAt(meshPod(this.layout, pod), replacement.ports.app).catch((err: Error) => this.options.log(`${pod.name}: ${err.message}`));
    const index = next.placement.pods.findIndex((p) => p.name === pod.name);
    next.placement.pods[index] = replacement;
    const { compiled } = this.compile(next.model, next.placement, next.applied.revision, next.compiled);
    next.compiled = compiled;
    await this.writePlacement(next);
    const sidecar = compiled.sidecars.find((c) => c.name === pod.name);
    if (sidecar) await this.updateProxy(meshPod(this.layout, replacement), sidecar, replacement.serviceAccount, proxyName(pod.name));
    await supervisor.stop(`${pod.name}/${APP}`);
    // The old app's log becomes the previous run's (logs --previous), the replacement's the pod's log.
    await fs.rename(files.appLog, files.appPreviousLog).catch(() => undefined);
    await fs.rename(log, files.appLog);
    await supervisor.rename(spec.name, final);
    return null;
  }

  private async removeStrays(placement: Placement): Promise<void> {
    const known = new Set(placement.pods.map((p) => p.name));
    let names: string[] = [];
    try {
      names = await fs.readdir(this.layout.podsDir);
    } catch {
      return;
    }
    for (const name of names) {
      if (known.has(name)) continue;
      const files = this.layout.pod(name);
      await this.options.supervisor.stop(`${name}/${APP}`);
      await this.options.supervisor.stop(proxyName(name));
      await stopFromPidFile(files.appPid);
      await stopFromPidFile(proxyPaths(files.dir).pid);
      await fs.rm(files.dir, { recursive: true, force: true });
    }
  }

  /**
   * The pods and gateway proxies (those named in `only`, when given) as they are now. `appFirst`: a
   * pod's sidecar is asked only once its app listens, for a caller that needs no more than whether the
   * pod is ready and in sync: a pod whose app does not listen is not ready whatever its sidecar says.
   */
  private async podStatuses(only?: Set<string>, proven: ReadonlySet<string> = new Set(), appFirst = false): Promise<PodStatus[]> {
    const current = this.current;
    if (!current) return [];
    const { supervisor } = this.options;
    const wanted = (kind: 'sidecar' | 'gateway', p: { namespace: string; name: string }) => current.placement.revisions?.[proxyRevisionKey({ kind, ...p })] ?? current.applied.revision;
    const asked = current.placement.pods.filter((pod) => !only || only.has(pod.name));
    // Whether each app listens: for many apps, read for all at once from the kernel's socket tables
    // (a few ms, however many sockets the machine has) rather than one connection each; for a few, connected to.
    const listening = asked.length >= TABLE_READ_FROM ? loopbackListeningPorts() : null;
    const appListens = (port: number) => (listening ? listening.has(port) : portListening(port));
    const pods = asked.map(async (pod): Promise<PodStatus> => {
      const app = supervisor.status(`${pod.name}/${APP}`);
      const proxy = supervisor.status(proxyName(pod.name));
      const askApp = async () => (app?.phase === 'Running' ? appListens(pod.ports.app) : false);
      const askProxy = async () => (proxy?.phase !== 'Running' ? NOT_RUNNING : proven.has(pod.name) ? { ready: true, revision: wanted('sidecar', pod) } : proxyReadiness(pod.ports.admin));
      const [appReady, { ready: proxyUp, revision: served }] = appFirst
        ? await askApp().then(async (up) => [up, up ? await askProxy() : NOT_RUNNING] as const)
        : await Promise.all([askApp(), askProxy()]);
      return {
        name: pod.name,
        namespace: pod.namespace,
        type: 'pod',
        workload: pod.workload,
        labels: pod.labels,
        serviceAccount: pod.serviceAccount,
        ports: { ...pod.ports },
        containers: [
          { container: 'app', process: app, ready: appReady },
          { container: 'proxy', process: proxy, ready: proxyUp },
        ],
        ready: appReady && proxyUp,
        proxyRevision: served,
        wantedRevision: wanted('sidecar', pod),
        inSync: served === wanted('sidecar', pod),
        restarts: (app?.restarts ?? 0) + (proxy?.restarts ?? 0),
        createdAt: pod.createdAt,
      };
    });
    const gateways = current.placement.gateways.filter((g) => !only || only.has(g.name)).map(async (g): Promise<PodStatus> => {
      const proxy = supervisor.status(gatewayProxyName(g));
      const { ready: up, revision: served } = proxy?.phase === 'Running' ? await proxyReadiness(g.ports.admin) : NOT_RUNNING;
      return {
        name: g.name,
        namespace: g.namespace,
        type: 'gateway',
        workload: null,
        labels: { istio: 'ingressgateway' },
        serviceAccount: g.serviceAccount,
        ports: { admin: g.ports.admin, ...Object.fromEntries(Object.entries(g.listeners).map(([k, v]) => [`http-${k}`, v])) },
        containers: [{ container: 'proxy', process: proxy, ready: up }],
        ready: up,
        proxyRevision: served,
        wantedRevision: wanted('gateway', g),
        inSync: served === wanted('gateway', g),
        restarts: proxy?.restarts ?? 0,
        createdAt: g.createdAt,
      };
    });
    return [...(await Promise.all(gateways)), ...(await Promise.all(pods))];
  }

  /**
   * Waits until every proxy serves the revision its configuration last changed at and every pod is
   * ready. Each round asks only the ones still pending (a mesh of many pods is not asked whole every
   * 20 ms), a pod's sidecar only once its app listens (apps start last, so most of the waiting is
   * theirs); once none is pending, every one is asked again to confirm. A pod a round of this apply
   * found ready and in sync is counted so again, without asking, for as long as the same app and sidecar
   * processes run: a crash or a restart of either is a new process, asked anew (at mesh scale, asking
   * every pod's app and sidecar again was most of the confirming round).
   * A pod whose sidecar alone was seen ready earlier (a runtime update, or a sidecar left alone) has
   * only its app asked.
   */
  private async waitSynced(timeoutMs: number, proven: ReadonlySet<string> = new Set()): Promise<{ synced: boolean; pending: string[] }> {
    let pending: string[] = [];
    let asking: Set<string> | undefined;
    const { supervisor } = this.options;
    const current = this.current;
    if (!current) return { synced: true, pending: [] };
    const running = (name: string) => {
      const status = supervisor.status(name);
      return status?.phase === 'Running' ? status.pid : null;
    };
    /** Pods found ready and in sync: the app and sidecar processes that were. */
    const seenReady = new Map<string, { app: number; proxy: number }>();
    const stillReady = (pod: string) => {
      const seen = seenReady.get(pod);
      return seen !== undefined && running(proxyName(pod)) === seen.proxy && running(`${pod}/${APP}`) === seen.app;
    };
    const everyone = () => [...current.placement.pods.map((p) => p.name), ...current.placement.gateways.map((g) => g.name)];
    const ok = await waitFor(async () => {
      const names = [...(asking ?? everyone())].filter((name) => !stillReady(name));
      const statuses = names.length ? await this.podStatuses(new Set(names), proven, true) : [];
      for (const s of statuses) {
        const [app, proxy] = s.containers.map((c) => c.process?.pid ?? null);
        if (s.type === 'pod' && s.ready && s.inSync && app && proxy) seenReady.set(s.name, { app, proxy });
      }
      pending = statuses.filter((s) => !s.ready || !s.inSync).map((s) => s.name);
      if (pending.length) {
        asking = new Set(pending);
        return false;
      }
      if (asking === undefined) return true;
      asking = undefined;
      return false;
    }, timeoutMs, 20);
    return { synced: ok, pending: ok ? [] : pending };
  }

  async status(): Promise<MeshStatus> {
    let startError: string | null = null;
    await this.started.catch((err: Error) => (startError = err.message));
    const current = this.current;
    const applied = current?.applied ?? (await readApplied(this.layout));
    const problems = startError ? [`The agent could not bring the pods back at start (${startError}); apply the resources again, or see ${this.layout.agentLog}.`] : [];
    return {
      revision: applied.revision,
      updatedAt: applied.updatedAt,
      agent: this.ping(),
      pods: await this.podStatuses(),
      notes: current?.compiled?.notes ?? [],
      problems,
      certificates: {
        workloadLifetimeSeconds: this.certificateLifetimeMs / 1000,
        renewAfterSeconds: (this.certificateLifetimeMs * DEFAULT_RENEW_AT) / 1000,
        renewalCheckSeconds: renewalCheckIntervalMs(this.certificateLifetimeMs) / 1000,
      },
    };
  }

  /**
   * Renews every proxy certificate past half its lifetime (install --cert-lifetime, a day by default) and hands
   * it to the running proxy through its runtime API; a proxy that refuses it is restarted with it.
   */
  renewCertificates(): Promise<number> {
    return this.exclusive(async () => {
      const current = this.current;
      if (!current) return 0;
      const { supervisor, ca, log } = this.options;
      let renewed = 0;
      for (const { target, serviceAccount, supervised } of this.placedProxies(current)) {
        const cert = await renewWorkloadCertificateIfDue(ca, { namespace: target.namespace, serviceAccount }, { certificate: target.paths.certificate, caBundle: target.paths.caBundle }, { ttlMs: this.certificateLifetimeMs });
        if (!cert) continue;
        renewed++;
        if (supervisor.status(supervised)?.phase !== 'Running') continue;
        try {
          await pushCertificate(target, sidecarPem(cert));
          log(`${target.name}: certificate renewed (valid until ${cert.notAfter.toISOString()})`);
        } catch (err) {
          log(`${target.name}: the proxy refused its renewed certificate (${(err as Error).message}); restarting it`);
          await supervisor.restart(supervised);
        }
      }
      return renewed;
    });
  }

  /** Stops every app, then every proxy (uninstall). */
  shutdown(stopPods: boolean): Promise<ShutdownResult> {
    return this.exclusive(async () => {
      const { supervisor } = this.options;
      const names = supervisor.names();
      if (!stopPods) {
        supervisor.detachAll();
        return { stopped: [] };
      }
      // Apps first, so that none is left without its sidecar while it still runs.
      const apps = names.filter((n) => n.endsWith(`/${APP}`));
      const proxies = names.filter((n) => !n.endsWith(`/${APP}`));
      const stopped = [...apps, ...proxies].map((name) => ({ name, pid: supervisor.pid(name) }));
      await Promise.all(apps.map((n) => supervisor.stop(n)));
      await Promise.all(proxies.map((n) => supervisor.stop(n)));
      supervisor.detachAll();
      return { stopped };
    });
  }
}
