// The one place that starts HAProxy processes: short runs (-vv, -c) and master-worker proxies,
// each proxy in its own process group so that stopping it stops its workers too.
import { spawn } from 'node:child_process';
import { promises as fs, closeSync, openSync, readdirSync, readFileSync } from 'node:fs';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin args…` to completion (bounded by `timeoutMs`), capturing its output. */
export function runCommand(bin: string, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface ProxyProcessOptions {
  bin: string;
  configFile: string;
  /** Master CLI socket (created mode 0600). */
  masterSocket: string;
  /** The proxy's stdout (its JSON-lines access log), appended to. */
  stdoutFile: string;
  /** The proxy's stderr (its own messages), appended to. */
  stderrFile: string;
  /** File that receives the master's pid. */
  pidFile: string;
  env?: NodeJS.ProcessEnv;
  /** Let the caller exit while the proxy runs on (the agent supervises by pid). Default true. */
  detach?: boolean;
}

export interface ProxyProcess {
  /** The master's pid, also its process group id. */
  pid: number;
  /** Settles when the master exits (only observable by the process that started it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The arguments of a master-worker HAProxy (`-W`) with a master CLI: what `startProxyProcess` runs,
 * and what a supervisor that spawns processes itself should run.
 */
export function proxyArguments(configFile: string, masterSocket: string): string[] {
  if (/[,\s]/.test(masterSocket)) throw new Error(`The master socket path ${masterSocket} must not contain commas or spaces; use another mesh home.`);
  return ['-W', '-f', configFile, '-S', `unix@${masterSocket},mode,600`];
}

/** Starts HAProxy in master-worker mode (`-W`) with a master CLI, in a new process group. */
export async function startProxyProcess(options: ProxyProcessOptions): Promise<ProxyProcess> {
  const args = proxyArguments(options.configFile, options.masterSocket);
  const out = openSync(options.stdoutFile, 'a', 0o600);
  const err = openSync(options.stderrFile, 'a', 0o600);
  let child;
  try {
    child = spawn(options.bin, args, {
      stdio: ['ignore', out, err],
      detached: true,
      env: options.env ?? process.env,
    });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid as number));
    child.once('error', reject);
  });
  if (options.detach !== false) child.unref();
  await fs.writeFile(options.pidFile, `${pid}\n`, { mode: 0o600 });
  return { pid, exited };
}

/** True when a process with this pid exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return processState(pid) !== 'Z';
}

/** The state letter of /proc/<pid>/stat ("pid (comm) S ..."), '?' when unknown. */
function processState(pid: number): string {
  const text = readFileSyncSafe(`/proc/${pid}/stat`);
  if (text === null) return '?';
  return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
}

function readFileSyncSafe(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The command line of a process (empty when unknown), to check that a stored pid is still ours. */
export function processCommandLine(pid: number): string[] {
  const text = readFileSyncSafe(`/proc/${pid}/cmdline`);
  return text ? text.split('\0').filter(Boolean) : [];
}

/** True when `pid` is an HAProxy master started for `configFile`. */
export function isProxyProcess(pid: number, configFile: string): boolean {
  if (!processAlive(pid)) return false;
  const argv = processCommandLine(pid);
  // Without /proc (non-Linux), trust the pid file.
  if (!argv.length) return true;
  return argv.includes(configFile);
}

/** Sends `signal` to the master only (SIGUSR2 reloads, SIGUSR1 soft-stops). */
export function signalProxy(pid: number, signal: NodeJS.Signals): void {
  process.kill(pid, signal);
}

/**
 * Stops a proxy started by `startProxyProcess`: SIGTERM to its whole process group, then SIGKILL
 * after `timeoutMs`. Resolves once no process of the group is left (bounded by twice `timeoutMs`).
 */
export async function stopProcessGroup(pid: number, options: { timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  send('SIGTERM');
  if (await waitForGroupExit(pid, timeoutMs)) return;
  send('SIGKILL');
  if (!(await waitForGroupExit(pid, timeoutMs))) throw new Error(`Process group ${pid} is still running after SIGKILL.`);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    // A group whose members are all zombies still "exists"; check the leader's state.
    return processAlive(pgid) || groupHasLiveMember(pgid);
  } catch {
    return false;
  }
}

function groupHasLiveMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const stat = readFileSyncSafe(`/proc/${e}/stat`);
    if (!stat) continue;
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] = state, rest[2] = pgrp
    if (Number(rest[2]) === pgid && rest[0] !== 'Z') return true;
  }
  return false;
}

async function waitForGroupExit(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pgid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return !groupAlive(pgid);
}
