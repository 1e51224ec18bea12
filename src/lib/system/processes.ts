// The processes meshctl starts: the one way to start them (short runs with their output captured, and
// detached processes that lead their own group), the facts about them (whether one still runs; a
// zombie or a recycled pid does not count) and the one way to stop one with its children.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** What a pid file records: the pid and, where the OS tells, the process's start time (guards against pid reuse). */
export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (Linux /proc/<pid>/stat field 22); null where unknown. */
  startTime: number | null;
}

interface ProcStat {
  state: string;
  ppid: number;
  pgid: number;
  startTime: number;
}

function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]), pgid: Number(rest[2]), startTime: Number(rest[19]) };
}

const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** The command line of a process (empty when unknown), to check that a recorded pid is still ours. */
export function commandLine(pid: number): string[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return [];
  }
  return text.split('\0').filter(Boolean);
}

/** The identity of a running process, to record beside its pid. */
export function identify(pid: number): ProcessIdentity {
  return { pid, startTime: hasProc ? procStat(pid)?.startTime ?? null : null };
}

/** True when `pid` runs (not a zombie) and, when a start time was recorded, is still the same process. */
export function isRunning(who: ProcessIdentity | number): boolean {
  const { pid, startTime } = typeof who === 'number' ? { pid: who, startTime: null } : who;
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (hasProc) {
    const stat = procStat(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
    return startTime === null || stat.startTime === startTime;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids of the running processes whose process group is `pgid` (Linux; elsewhere only the leader). */
export function groupMembers(pgid: number): number[] {
  if (!hasProc) return isRunning(pgid) ? [pgid] : [];
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return isRunning(pgid) ? [pgid] : [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat && stat.pgid === pgid && stat.state !== 'Z' && stat.state !== 'X') out.push(Number(name));
  }
  return out;
}

/** Sends `signal` to the process group led by `pgid` (every process meshctl starts leads its own group), then to the pid. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  for (const target of [-pgid, pgid]) {
    try {
      process.kill(target, signal);
    } catch {
      // Already gone.
    }
  }
}

/** True when `who.pid` now names a different process than the one recorded. */
export function pidReused(who: ProcessIdentity): boolean {
  if (!hasProc || who.startTime === null) return false;
  const stat = procStat(who.pid);
  return stat !== null && stat.startTime !== who.startTime;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check()` is true or `timeoutMs` passed; returns the last answer. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= end) return false;
    await sleep(Math.min(intervalMs, Math.max(1, end - Date.now())));
  }
}

/**
 * Stops a process that leads its own group: SIGTERM to the group, then SIGKILL after `graceMs`. Only
 * called with identities from meshctl's own pid files, so nothing it did not start is touched.
 */
export async function stopGroup(who: ProcessIdentity, graceMs = 3000): Promise<void> {
  // A pid now used by another process (its start time differs) leads a group that is not ours.
  if (pidReused(who)) return;
  if (isRunning(who)) {
    signalGroup(who.pid, 'SIGTERM');
    if (await waitFor(() => !isRunning(who) && groupMembers(who.pid).length === 0, graceMs)) return;
  }
  // Children left behind by a leader that died still carry its group id.
  signalGroup(who.pid, 'SIGKILL');
  await waitFor(() => !isRunning(who) && groupMembers(who.pid).length === 0, 2000);
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stdout as it came, for output that is not text (git objects). */
  stdoutBytes: Buffer;
  stderr: string;
}

export interface RunOptions {
  /** Killed (SIGKILL) after this long; 30 s when not given, never with null. */
  timeoutMs?: number | null;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to the command's stdin, which is then closed; without it stdin is closed at once. */
  input?: string;
  /** The command may ask the user something (sudo's password): it reads meshctl's own stdin. */
  terminalInput?: boolean;
  /** The command talks to the user: its stdout and stderr go to meshctl's stderr, nothing is captured. */
  outputToStderr?: boolean;
}

/**
 * Runs `command args…` to completion, capturing its output, through execa (loaded on first use, so
 * commands that start nothing pay nothing for it). Rejects when it cannot be started (ENOENT, EACCES).
 */
export async function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
  const { execa } = await import('execa');
  const output = options.outputToStderr ? 2 : 'pipe';
  const limit = options.timeoutMs === undefined ? 30_000 : options.timeoutMs;
  const result = await execa(command, args, {
    reject: false,
    cwd: options.cwd,
    env: options.env ?? process.env,
    extendEnv: false,
    // A command that exits without reading all of its input closes the pipe: its exit code tells.
    ...(options.input !== undefined ? { input: options.input } : { stdin: options.terminalInput ? 'inherit' : 'ignore' }),
    stdout: output,
    stderr: output,
    encoding: 'buffer',
    stripFinalNewline: false,
    maxBuffer: 1024 * 1024 * 1024,
    ...(limit === null ? {} : { timeout: limit, killSignal: 'SIGKILL' as const }),
  });
  // Not started at all (no such file, not executable): the caller words that for its own command.
  const startError = (result as { code?: unknown }).code;
  if (result.failed && result.exitCode === undefined && !result.signal && typeof startError === 'string') {
    throw Object.assign(new Error(`${command}: ${startError}`), { code: startError });
  }
  const bytes = result.stdout instanceof Uint8Array ? Buffer.from(result.stdout) : Buffer.alloc(0);
  const errBytes = result.stderr instanceof Uint8Array ? Buffer.from(result.stderr) : Buffer.alloc(0);
  return { code: result.exitCode ?? null, signal: (result.signal as NodeJS.Signals | undefined) ?? null, stdout: bytes.toString('utf8'), stdoutBytes: bytes, stderr: errBytes.toString('utf8') };
}

export interface DetachedCommand {
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Files the process's stdout and stderr are appended to (created mode 0600; may be one file). */
  stdoutFile: string;
  stderrFile: string;
  /** Keep the output files open here while the process runs, for a successor to write through them (shareOutputOf). */
  holdOutput?: boolean;
  /**
   * A running process started here with `holdOutput` whose open output files the new one writes through
   * (one file offset for both). A program that clears O_APPEND on its stdout (HAProxy's `log stdout`
   * does) then never writes over the other's lines. When they are not held here (started by another
   * process), the files are opened anew with the offset at their end, as they are for `holdOutput`.
   */
  shareOutputOf?: number;
}

interface HeldOutput {
  out: number;
  err: number;
  /** Processes that write through these descriptors and still run. */
  users: number;
}

/** Output files held open for the processes started here with `holdOutput`, by pid. */
const heldOutputs = new Map<number, HeldOutput>();

/** Opens `file` for appending with the file offset at its end (read through), for a program that clears O_APPEND. */
function openAtEnd(file: string): number {
  const fd = openSync(file, 'a+', 0o600);
  const chunk = Buffer.allocUnsafe(1 << 20);
  while (readSync(fd, chunk, 0, chunk.length, null) > 0);
  return fd;
}

function closeOutput(held: HeldOutput): void {
  closeSync(held.out);
  if (held.err !== held.out) closeSync(held.err);
}

/** Spawns `spec` detached, its output appended to its files; the spawn itself (a fork) blocks the calling thread until the program runs. */
export function spawnDetachedNow(spec: DetachedCommand): ChildProcess {
  const shared = spec.shareOutputOf !== undefined ? heldOutputs.get(spec.shareOutputOf) : undefined;
  const open = spec.holdOutput || spec.shareOutputOf !== undefined ? openAtEnd : (file: string) => openSync(file, 'a', 0o600);
  let held = shared;
  if (!held) {
    const out = open(spec.stdoutFile);
    try {
      held = { out, err: spec.stderrFile === spec.stdoutFile ? out : open(spec.stderrFile), users: 0 };
    } catch (e) {
      closeSync(out);
      throw e;
    }
  }
  let child: ChildProcess;
  try {
    child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env ?? process.env, detached: true, stdio: ['ignore', held.out, held.err] });
  } catch (e) {
    if (!held.users) closeOutput(held);
    throw e;
  }
  if (!spec.holdOutput || child.pid === undefined) {
    if (!held.users) closeOutput(held);
    return child;
  }
  const output = held;
  const pid = child.pid;
  output.users++;
  heldOutputs.set(pid, output);
  child.once('exit', () => {
    heldOutputs.delete(pid);
    if (--output.users === 0) closeOutput(output);
  });
  return child;
}

/**
 * Starts a process that may outlive meshctl: detached, leading its own process group (so that
 * `stopGroup` reaches its children too), stdin closed, output appended to files. Resolves once it is
 * spawned; rejects with the spawn error (ENOENT, EACCES). The caller unrefs it when it may exit first.
 */
export async function spawnDetached(spec: DetachedCommand): Promise<ChildProcess & { pid: number }> {
  const child = spawnDetachedNow(spec);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return child as ChildProcess & { pid: number };
}

/**
 * A process started by `spawnDetachedFromSpawner`: its pid, and an `exit` event (code, signal) as a
 * ChildProcess has. It does not keep meshctl running.
 */
export class DetachedChild extends EventEmitter<{ exit: [code: number | null, signal: NodeJS.Signals | null] }> {
  /** False once its exit can no longer be told (the spawner process ended): ask `isRunning` then. */
  tracked = true;

  constructor(readonly pid: number) {
    super();
  }
}

/** What the spawner process (spawner.ts) answers: a spawn's pid or error, then its exit. */
export type SpawnerMessage =
  | { id: number; pid: number }
  | { id: number; error: { message: string; code?: string } }
  | { id: number; exit: { code: number | null; signal: NodeJS.Signals | null } };

interface Spawner {
  process: ChildProcess;
  next: number;
  starting: Map<number, { resolve: (child: DetachedChild) => void; reject: (err: Error) => void }>;
  running: Map<number, DetachedChild>;
}

let spawner: Spawner | null = null;

/** Whether the spawner (the process and its channel both) keeps meshctl running. */
function holdOpen(helper: ChildProcess, hold: boolean): void {
  if (hold) {
    helper.ref();
    helper.channel?.ref();
  } else {
    helper.unref();
    helper.channel?.unref();
  }
}

function spawnerProcess(): Spawner {
  if (spawner) return spawner;
  // No inherited Node options (a profiler's, an inspector's): the spawner is to stay small.
  const helper = fork(fileURLToPath(new URL('./spawner.js', import.meta.url)), [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json' });
  const own: Spawner = { process: helper, next: 0, starting: new Map(), running: new Map() };
  // The spawner keeps meshctl running only while a spawn waits for its answer.
  const reference = () => queueMicrotask(() => holdOpen(helper, own.starting.size > 0));
  reference();
  helper.on('message', (m: SpawnerMessage) => {
    reference();
    if ('pid' in m) {
      const child = new DetachedChild(m.pid);
      own.running.set(m.id, child);
      own.starting.get(m.id)?.resolve(child);
      own.starting.delete(m.id);
    } else if ('error' in m) {
      own.starting.get(m.id)?.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      own.starting.delete(m.id);
    } else {
      const child = own.running.get(m.id);
      own.running.delete(m.id);
      child?.emit('exit', m.exit.code, m.exit.signal);
    }
  });
  // A spawner that died cannot tell the ends of its processes any more: they are then found gone by pid.
  const lost = (err: Error) => {
    if (spawner === own) spawner = null;
    for (const { reject } of own.starting.values()) reject(err);
    own.starting.clear();
    for (const child of own.running.values()) child.tracked = false;
    own.running.clear();
  };
  helper.on('error', lost);
  helper.on('exit', (code, signal) => lost(new Error(`the spawner process ended (${signal ? `signal ${signal}` : `exit ${code}`})`)));
  spawner = own;
  return own;
}

/**
 * `spawnDetached` for a process that spawns many (the mesh agent): the fork happens in a small spawner
 * process (spawner.ts), so that neither the agent's event loop waits for each program to run nor each
 * start pays for copying the agent's memory map.
 */
export function spawnDetachedFromSpawner(spec: DetachedCommand): Promise<DetachedChild> {
  const own = spawnerProcess();
  const id = ++own.next;
  return new Promise((resolve, reject) => {
    own.starting.set(id, { resolve, reject });
    holdOpen(own.process, true);
    const { command, args, cwd, stdoutFile, stderrFile, holdOutput, shareOutputOf } = spec;
    own.process.send({ id, spec: { command, args, cwd, stdoutFile, stderrFile, holdOutput, shareOutputOf, env: { ...(spec.env ?? process.env) } } }, (err) => {
      if (!err || !own.starting.has(id)) return;
      own.starting.delete(id);
      reject(err);
    });
  });
}
