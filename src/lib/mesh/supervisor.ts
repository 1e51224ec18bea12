// The one place that starts the local mesh's processes (apps and proxies): each runs detached in its own
// process group with its output appended to log files, is restarted with exponential backoff when it
// dies, and is recorded in a pid file so that a restarted agent adopts it instead of starting a twin.
import { createHash } from 'node:crypto';
import { copyFileSync, promises as fs, renameSync, statSync, truncateSync } from 'node:fs';
import { LogClock } from './log-times.js';
import { DEFAULT_LOG_ROTATE_BYTES } from './state.js';
import path from 'node:path';
import { readPidFile, writePidFile, type HandOverRecord } from '../system/pid-file.js';
import { identify, isRunning, pidReused, signalGroup, spawnDetachedFromSpawner, stopGroup, type DetachedChild, type ProcessIdentity } from '../system/processes.js';

export interface ProcessSpec {
  /** Unique within the supervisor, e.g. `reviews-v1-0/app`. */
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Files the process's stdout and stderr are appended to (may be the same file). */
  stdoutFile: string;
  stderrFile: string;
  pidFile: string;
  /**
   * Where each start moves the output of the instance before it (stdout's file only): the current log is
   * then one run's, and the run before stays readable, as a container's previous logs are.
   */
  previousLogFile?: string;
  /** Grace period between SIGTERM and SIGKILL when stopping. */
  stopGraceMs?: number;
  /** Keep the output files open while it runs, so that a handOver's successor writes through them (processes.ts). */
  holdOutput?: boolean;
}

/** What a supervised process's pid file holds beside its identity (and handOver's first start, reloads and draining processes). */
interface PidRecord extends HandOverRecord {
  specHash: string;
  startedAt: string;
  /** Restarts so far, so that an agent that adopts the process (after its predecessor was killed) keeps counting. */
  restarts?: number;
}

/** What ensure did: found it as wanted, adopted a running one, started it, or replaced one with another spec. */
export type EnsureOutcome = 'unchanged' | 'adopted' | 'started' | 'replaced';

export type ProcessPhase = 'Running' | 'Starting' | 'BackOff' | 'Stopped';

export interface ProcessStatus {
  name: string;
  phase: ProcessPhase;
  pid: number | null;
  restarts: number;
  startedAt: string | null;
  /** How the last run ended (`exit 1`, `signal SIGKILL`, `spawn ENOENT`), null when it never ended. */
  lastExit: string | null;
  /** True when the process was found running at agent start and adopted. */
  adopted: boolean;
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** A run longer than this resets the backoff. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 30_000, resetAfterMs: 10_000 };

/** How often adopted processes (not our children, so no exit event) are checked. */
const POLL_MS = 250;
/** How often the log clock notes log sizes (logs --since is as precise as this). */
const LOG_CLOCK_MS = 1000;

export type SupervisorEvent =
  | { type: 'started'; name: string; pid: number; restarts: number }
  | { type: 'adopted'; name: string; pid: number }
  | { type: 'exited'; name: string; pid: number; how: string; restartInMs: number | null }
  | { type: 'spawn-failed'; name: string; error: string }
  /** The output a running process writes through a held-open file (holdOutput) passed the rotation size. */
  | { type: 'output-large'; name: string; file: string; bytes: number };

interface Managed {
  spec: ProcessSpec;
  hash: string;
  identity: ProcessIdentity | null;
  child: DetachedChild | null;
  restarts: number;
  consecutiveFailures: number;
  startedAt: number | null;
  lastExit: string | null;
  adopted: boolean;
  restartTimer: NodeJS.Timeout | null;
  stopping: boolean;
  /** Hand-overs since the last start (handOver). */
  reloads: number;
  /** Processes handed over from that may still finish their work, and a successor being started: stopped with this one. */
  draining: ProcessIdentity[];
  /** Set while a successor starts: the current process's exit is then decided by how the hand-over ends. */
  handingOver: { exit: string | null } | null;
  /** The output file (inode) an `output-large` event was last sent for, and its size then. */
  largeOutput: { ino: number; bytes: number } | null;
}

function managedEntry(spec: ProcessSpec, hash: string): Managed {
  return {
    spec, hash, identity: null, child: null, restarts: 0, consecutiveFailures: 0, startedAt: null, lastExit: null, adopted: false, restartTimer: null, stopping: false,
    reloads: 0, draining: [], handingOver: null, largeOutput: null,
  };
}

/** Supervises the running process `recorded` names (its counts and the processes it left draining kept). */
function adoptRecorded(entry: Managed, recorded: PidRecord): void {
  entry.identity = { pid: recorded.pid, startTime: recorded.startTime };
  entry.startedAt = Date.parse(recorded.startedAt) || Date.now();
  entry.adopted = true;
  entry.restarts = recorded.restarts ?? 0;
  entry.reloads = recorded.reloads ?? 0;
  entry.draining = (recorded.draining ?? []).filter((who) => isRunning(who));
}

export function specHash(spec: ProcessSpec): string {
  const { command, args, env, cwd } = spec;
  const sortedEnv = Object.fromEntries(Object.entries(env).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(JSON.stringify({ command, args, env: sortedEnv, cwd })).digest('hex').slice(0, 16);
}

function rotateIfLarge(file: string, clock: LogClock, bytes: number): void {
  try {
    if (statSync(file).size > bytes) setOutputAside(file, clock);
  } catch {
    // No file yet.
  }
}

function keepAsPrevious(file: string, previous: string, clock: LogClock): void {
  try {
    if (statSync(file).size > 0) {
      renameSync(file, previous);
      clock.moved(file, previous);
    }
  } catch {
    // No file yet: the first run.
  }
}

/**
 * Renames a running process's output file to `<file>.1`: the process writes on into it, and the next
 * opener of `<file>` starts a new one. `putBack` undoes it (the new file, if any, is replaced).
 */
function setOutputAside(file: string, clock: LogClock): { putBack: () => void } | null {
  const aside = `${file}.1`;
  try {
    renameSync(file, aside);
  } catch {
    return null;
  }
  clock.moved(file, aside);
  return {
    putBack: () => {
      try {
        renameSync(aside, file);
        clock.moved(aside, file);
      } catch {
        // Set aside again meanwhile, or removed with the home: nothing to put back.
      }
    },
  };
}

export class Supervisor {
  private readonly managed = new Map<string, Managed>();
  private readonly poller: NodeJS.Timeout;
  private readonly logTimer: NodeJS.Timeout;
  private readonly logClock = new LogClock();

  constructor(
    private readonly options: {
      backoff?: BackoffPolicy;
      onEvent?: (event: SupervisorEvent) => void;
      /** The size past which a log is set aside: at a process's start, and (`output-large`) while one with holdOutput runs. */
      rotateOutputBytes?: number;
    } = {},
  ) {
    this.poller = setInterval(() => this.poll(), POLL_MS);
    this.poller.unref();
    this.logTimer = setInterval(() => {
      this.logClock.tick(this.logFiles());
      this.noticeLargeOutputs();
    }, LOG_CLOCK_MS);
    this.logTimer.unref();
  }

  private get rotateBytes(): number {
    return this.options.rotateOutputBytes ?? DEFAULT_LOG_ROTATE_BYTES;
  }

  /**
   * Tells (`output-large`) of each running process whose held-open output passed the rotation size,
   * once per file, and again each time it grows by that much more (a set-aside that failed is tried
   * again): only its owner can set it aside, through a hand-over (handOver's `setAside`), since the
   * process writes through the open file for as long as it runs.
   */
  private noticeLargeOutputs(): void {
    for (const entry of this.managed.values()) {
      if (!entry.identity || entry.stopping || entry.handingOver) continue;
      if (!entry.spec.holdOutput) {
        this.copyAsideIfLarge(entry.spec.stdoutFile);
        if (entry.spec.stderrFile !== entry.spec.stdoutFile) this.copyAsideIfLarge(entry.spec.stderrFile);
        continue;
      }
      let stat;
      try {
        stat = statSync(entry.spec.stdoutFile);
      } catch {
        continue;
      }
      // Once per file; again only if it kept growing by as much (its owner could not set it aside).
      const told = entry.largeOutput?.ino === stat.ino ? entry.largeOutput.bytes : null;
      if (stat.size <= this.rotateBytes || (told !== null && stat.size <= told + this.rotateBytes)) continue;
      entry.largeOutput = { ino: stat.ino, bytes: stat.size };
      this.emit({ type: 'output-large', name: entry.spec.name, file: entry.spec.stdoutFile, bytes: stat.size });
    }
  }

  /**
   * A running process's log past the rotation size, when the process writes it through its own
   * O_APPEND file (an app): copied to `<file>.1` and emptied in place, its writes going on at the new
   * end. What it writes between the copy and the truncation is lost, as with logrotate's copytruncate;
   * a process that must lose nothing is one whose output is held (holdOutput: set aside by a hand-over).
   */
  private copyAsideIfLarge(file: string): void {
    try {
      if (statSync(file).size <= this.rotateBytes) return;
      copyFileSync(file, `${file}.1`);
      truncateSync(file, 0);
      this.logClock.moved(file, `${file}.1`);
    } catch {
      // Gone meanwhile (a pod removed): nothing to set aside.
    }
  }

  private get backoff(): BackoffPolicy {
    return this.options.backoff ?? DEFAULT_BACKOFF;
  }

  private emit(event: SupervisorEvent): void {
    this.options.onEvent?.(event);
  }

  /**
   * Makes `spec` run: adopts the process its pid file names when that still runs the same spec,
   * replaces it when the spec changed, starts it otherwise. Resolves once the process is spawned.
   */
  async ensure(spec: ProcessSpec): Promise<{ outcome: EnsureOutcome; status: ProcessStatus }> {
    const hash = specHash(spec);
    const existing = this.managed.get(spec.name);
    const done = (outcome: EnsureOutcome) => ({ outcome, status: this.status(spec.name)! });
    if (existing && existing.hash === hash && !existing.stopping) {
      existing.spec = spec;
      return done('unchanged');
    }
    if (existing) await this.stop(spec.name);
    const entry = managedEntry(spec, hash);
    this.managed.set(spec.name, entry);
    const recorded = await readPidFile<PidRecord>(spec.pidFile);
    entry.draining = (recorded?.draining ?? []).filter((who) => isRunning(who));
    if (recorded && isRunning(recorded)) {
      if (recorded.specHash === hash) {
        adoptRecorded(entry, recorded);
        this.emit({ type: 'adopted', name: spec.name, pid: recorded.pid });
        return done('adopted');
      }
      await Promise.all([recorded, ...entry.draining].map((who) => stopGroup(who, spec.stopGraceMs)));
      entry.draining = [];
      await this.start(entry);
      return done('replaced');
    } else if (recorded) {
      // The leader is gone; children it left in its group must not outlive it, nor a successor it was
      // handing over to hold the addresses a new start binds.
      if (!pidReused(recorded)) signalGroup(recorded.pid, 'SIGKILL');
      await Promise.all(entry.draining.map((who) => stopGroup(who, spec.stopGraceMs)));
      entry.draining = [];
    }
    await this.start(entry);
    return done(existing ? 'replaced' : 'started');
  }

  private async start(entry: Managed): Promise<void> {
    const { spec } = entry;
    await fs.mkdir(path.dirname(spec.stdoutFile), { recursive: true, mode: 0o700 });
    if (spec.previousLogFile) keepAsPrevious(spec.stdoutFile, spec.previousLogFile, this.logClock);
    else rotateIfLarge(spec.stdoutFile, this.logClock, this.rotateBytes);
    if (spec.stderrFile !== spec.stdoutFile) rotateIfLarge(spec.stderrFile, this.logClock, this.rotateBytes);
    entry.adopted = false;
    entry.startedAt = Date.now();
    entry.reloads = 0;
    let child: DetachedChild;
    try {
      child = await spawnDetachedFromSpawner(spec);
    } catch (e) {
      entry.lastExit = `spawn ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      this.emit({ type: 'spawn-failed', name: spec.name, error: `${spec.command}: ${(e as Error).message}` });
      entry.child = null;
      entry.identity = null;
      this.scheduleRestart(entry);
      return;
    }
    this.follow(entry, child, identify(child.pid));
    await this.writeRecord(entry);
    this.emit({ type: 'started', name: spec.name, pid: child.pid, restarts: entry.restarts });
  }

  /** Makes `child` the process of `entry`. */
  private follow(entry: Managed, child: DetachedChild, identity: ProcessIdentity): void {
    entry.child = child;
    entry.identity = identity;
    // Listened to at once: a process that ends while its pid file is written is not looked up by pid (poll).
    child.once('exit', (code, signal) => {
      if (entry.child !== child) return;
      entry.child = null;
      this.exited(entry, signal ? `signal ${signal}` : `exit ${code}`);
    });
  }

  private async writeRecord(entry: Managed): Promise<void> {
    const { spec, identity } = entry;
    if (!identity) return;
    await writePidFile(spec.pidFile, identity, {
      specHash: entry.hash, startedAt: new Date(entry.startedAt ?? Date.now()).toISOString(), restarts: entry.restarts, reloads: entry.reloads, draining: entry.draining,
    });
  }

  /**
   * Replaces the running process of `name` by a successor: the same command, environment and files with
   * `args` (a proxy's reload, whose successor takes its sockets over and then tells it to leave). Once
   * `serves` resolves for the successor, it is `name`: its pid file names it (one reload more, restarts
   * unchanged), and the process it replaced finishes on its own: its exit is no crash, and a stop stops
   * it too. When the successor does not serve (`serves` rejects, or the hand-over is stopped), it is
   * stopped and `name` runs on as before; rejects with that error. Resolves with the successor's pid.
   *
   * The successor writes its output through the very open files of the process it replaces, so that
   * both append to one file while the old one drains (a program that clears O_APPEND, as HAProxy does
   * on its log, would otherwise write over the other's lines). A process this supervisor adopted was
   * not started here and its open files cannot be had: its output file is then set aside as `<file>.1`,
   * which it finishes writing, and the successor starts a new one (put back if the successor fails).
   * `setAside` does so for any process: a log rotated while its writer runs (`output-large`).
   */
  async handOver(name: string, args: string[], serves: (successor: { pid: number }) => Promise<void>, options: { setAside?: boolean } = {}): Promise<number> {
    const entry = this.managed.get(name);
    if (!entry?.identity || entry.stopping || entry.handingOver) throw new Error(`${name} does not run, or is being replaced already; it cannot hand over to a successor.`);
    const handing: { exit: string | null } = { exit: null };
    entry.handingOver = handing;
    let successor: ProcessIdentity | null = null;
    // A child of this supervisor was started with its output held open (holdOutput): the successor shares it.
    const shared = !options.setAside && (entry.child !== null || !entry.spec.holdOutput);
    const setAside = shared ? null : setOutputAside(entry.spec.stdoutFile, this.logClock);
    try {
      const child = await spawnDetachedFromSpawner({ ...entry.spec, args, ...(shared ? { shareOutputOf: entry.identity.pid } : {}) });
      successor = identify(child.pid);
      // Recorded at once: whoever stops this process from its pid file (an agent that took over) stops the successor too.
      entry.draining.push(successor);
      await this.writeRecord(entry);
      await serves({ pid: child.pid });
      if (entry.stopping || this.managed.get(name) !== entry) throw new Error(`${name} was stopped while its successor started.`);
      const predecessor = entry.identity;
      entry.draining = [...entry.draining.filter((who) => who !== successor), ...(predecessor ? [predecessor] : [])].filter((who) => isRunning(who));
      this.follow(entry, child, successor);
      entry.reloads++;
      await this.writeRecord(entry);
      return child.pid;
    } catch (err) {
      if (successor) {
        entry.draining = entry.draining.filter((who) => who !== successor);
        await stopGroup(successor, entry.spec.stopGraceMs);
      }
      setAside?.putBack();
      if (handing.exit && !entry.stopping) this.exited(entry, handing.exit, true);
      throw err;
    } finally {
      entry.handingOver = null;
    }
  }

  private exited(entry: Managed, how: string, afterHandOver = false): void {
    if (entry.handingOver && !afterHandOver) {
      entry.handingOver.exit = how;
      return;
    }
    const pid = entry.identity?.pid ?? 0;
    entry.lastExit = how;
    if (entry.identity && !pidReused(entry.identity)) signalGroup(entry.identity.pid, 'SIGKILL');
    entry.identity = null;
    if (entry.stopping) return;
    const ranMs = entry.startedAt ? Date.now() - entry.startedAt : 0;
    if (ranMs >= this.backoff.resetAfterMs) entry.consecutiveFailures = 0;
    const delay = this.scheduleRestart(entry);
    this.emit({ type: 'exited', name: entry.spec.name, pid, how, restartInMs: delay });
  }

  private scheduleRestart(entry: Managed): number {
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** entry.consecutiveFailures);
    entry.consecutiveFailures++;
    entry.restartTimer = setTimeout(() => {
      entry.restartTimer = null;
      if (entry.stopping || this.managed.get(entry.spec.name) !== entry) return;
      entry.restarts++;
      void this.start(entry);
    }, delay);
    return delay;
  }

  /** The log files of every process that runs, for the log clock. */
  private *logFiles(): Iterable<string> {
    for (const entry of this.managed.values()) {
      if (entry.stopping || !entry.identity) continue;
      yield entry.spec.stdoutFile;
      if (entry.spec.stderrFile !== entry.spec.stdoutFile) yield entry.spec.stderrFile;
    }
  }

  /** Notices adopted processes that died (they are not our children, so no exit event arrives). */
  private poll(): void {
    for (const entry of this.managed.values()) {
      // A child of this agent tells its end itself (its exit event): only adopted processes are looked up.
      if (entry.stopping || entry.restartTimer || !entry.identity || entry.child?.tracked || entry.handingOver?.exit) continue;
      if (!isRunning(entry.identity)) {
        entry.child?.removeAllListeners('exit');
        entry.child = null;
        this.exited(entry, 'gone');
      }
    }
  }

  /** Stops one process (SIGTERM to its group, then SIGKILL) and forgets it; its pid file is removed. */
  async stop(name: string): Promise<void> {
    const entry = this.managed.get(name);
    if (!entry) return;
    entry.stopping = true;
    if (entry.restartTimer) clearTimeout(entry.restartTimer);
    entry.restartTimer = null;
    await Promise.all([...(entry.identity ? [entry.identity] : []), ...entry.draining].map((who) => stopGroup(who, entry.spec.stopGraceMs)));
    entry.identity = null;
    entry.draining = [];
    entry.child = null;
    this.managed.delete(name);
    await fs.rm(entry.spec.pidFile, { force: true });
  }

  /** Restarts a process now (e.g. an app whose certificate or environment changed). */
  async restart(name: string): Promise<void> {
    const entry = this.managed.get(name);
    if (!entry) return;
    const spec = entry.spec;
    await this.stop(name);
    await this.ensure(spec);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.managed.keys()].map((name) => this.stop(name)));
  }

  /** Stops supervising without stopping anything: the processes keep running for the next agent to adopt. */
  detachAll(): void {
    clearInterval(this.poller);
    clearInterval(this.logTimer);
    for (const entry of this.managed.values()) {
      entry.stopping = true;
      if (entry.restartTimer) clearTimeout(entry.restartTimer);
      entry.child?.removeAllListeners('exit');
    }
  }

  /** True when `pidFile` names a process that runs (one `ensure` would adopt, if its spec is unchanged). */
  async adoptable(pidFile: string): Promise<boolean> {
    const recorded = await readPidFile<PidRecord>(pidFile);
    return recorded !== null && isRunning(recorded);
  }

  /**
   * Supervises the process `spec.pidFile` names, whatever spec it was started with (its own hash kept), so
   * that an agent started after a rollout stopped replaces it in turn rather than at once; false when none runs.
   */
  async adoptAsItRuns(spec: ProcessSpec): Promise<boolean> {
    if (this.managed.has(spec.name)) return true;
    const recorded = await readPidFile<PidRecord>(spec.pidFile);
    if (!recorded || !recorded.specHash || !isRunning(recorded)) return false;
    const entry = managedEntry(spec, recorded.specHash);
    adoptRecorded(entry, recorded);
    this.managed.set(spec.name, entry);
    this.emit({ type: 'adopted', name: spec.name, pid: recorded.pid });
    return true;
  }

  /** The spec hash `name` runs with; null when it is not supervised. */
  specHashOf(name: string): string | null {
    return this.managed.get(name)?.hash ?? null;
  }

  /**
   * A replacement takes the place of the process it replaced (stopped before): the running process of
   * `from` is supervised from now on as `spec.name`, recorded in `spec.pidFile`.
   */
  async rename(from: string, spec: ProcessSpec): Promise<void> {
    const entry = this.managed.get(from);
    if (!entry || this.managed.has(spec.name)) throw new Error(`cannot supervise ${from} as ${spec.name}`);
    const recorded = await readPidFile<PidRecord>(entry.spec.pidFile);
    if (recorded) await writePidFile(spec.pidFile, recorded, { ...recorded, restarts: recorded.restarts ?? entry.restarts });
    await fs.rm(entry.spec.pidFile, { force: true });
    this.managed.delete(from);
    entry.spec = spec;
    this.managed.set(spec.name, entry);
  }

  names(): string[] {
    return [...this.managed.keys()];
  }

  pid(name: string): number | null {
    return this.managed.get(name)?.identity?.pid ?? null;
  }

  status(name: string): ProcessStatus | null {
    const entry = this.managed.get(name);
    if (!entry) return null;
    const running = entry.identity !== null && isRunning(entry.identity);
    return {
      name,
      phase: running ? 'Running' : entry.restartTimer ? 'BackOff' : entry.stopping ? 'Stopped' : 'Starting',
      pid: running ? entry.identity!.pid : null,
      restarts: entry.restarts,
      startedAt: running && entry.startedAt ? new Date(entry.startedAt).toISOString() : null,
      lastExit: entry.lastExit,
      adopted: entry.adopted,
    };
  }
}

/**
 * Stops the process a pid file names (and its group), when it still runs, with those it handed over
 * from that still drain; for cleaning up without a supervisor.
 */
export async function stopFromPidFile(pidFile: string, graceMs = 3000): Promise<number | null> {
  const recorded = await readPidFile<PidRecord>(pidFile);
  if (!recorded) return null;
  await Promise.all([recorded, ...(recorded.draining ?? [])].map((who) => stopGroup(who, graceMs)));
  await fs.rm(pidFile, { force: true });
  return recorded.pid;
}
