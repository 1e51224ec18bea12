// How HAProxy runs as a proxy: one process per proxy, in its own process group (started through
// system/processes.ts, like every process meshctl starts). A reload starts a successor that takes the
// listening sockets over from the running process through its stats socket (`-x`, allowed by the
// socket's `expose-fd listeners`) and, once it listens, tells it to finish its requests and leave (`-sf`):
// no master process stays beside the proxy, and no second start follows each load.
import type { ChildProcess } from 'node:child_process';
import { commandLine, identify, isRunning, spawnDetached, stopGroup } from '../../system/processes.js';
import { readPidFile, successorRecord, writePidFile, type HandOverRecord } from '../../system/pid-file.js';

export interface ProxyProcessOptions {
  bin: string;
  configFile: string;
  /** The proxy's stdout (its JSON-lines access log), appended to. */
  stdoutFile: string;
  /** The proxy's stderr (its own messages), appended to. */
  stderrFile: string;
  /** File that names the proxy's process. */
  pidFile: string;
  env?: NodeJS.ProcessEnv;
  /** Let the caller exit while the proxy runs on (the agent supervises by pid). Default true. */
  detach?: boolean;
}

export interface ProxyProcess {
  /** The proxy's pid, also its process group id. */
  pid: number;
  /** Settles when it exits (only observable by the process that started it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The arguments of a proxy's HAProxy started from nothing (foreground, one process). */
export function proxyArguments(configFile: string): string[] {
  return ['-db', '-f', configFile];
}

/**
 * The arguments of the successor of the proxy running as `runningPid`: it fetches the listening sockets
 * (the stats socket's own included) from `statsSocket` instead of binding them again, and soft-stops
 * the running process once it listens. A successor that cannot load its configuration, fetch the
 * sockets or bind a new address exits without signalling it, so the running process keeps serving.
 */
export function successorArguments(configFile: string, statsSocket: string, runningPid: number): string[] {
  return [...proxyArguments(configFile), '-x', statsSocket, '-sf', String(runningPid)];
}

/**
 * `log stdout` clears O_APPEND on the proxy's stdout, so a reload's successor writes its access log through
 * the very open file of the process it replaces (held open here meanwhile): one offset, no line written over.
 */
async function spawnProxy(options: ProxyProcessOptions, args: string[], shareOutputOf?: number): Promise<ProxyProcess & { child: ChildProcess }> {
  const child = await spawnDetached({ command: options.bin, args, env: options.env, stdoutFile: options.stdoutFile, stderrFile: options.stderrFile, holdOutput: true, shareOutputOf });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  if (options.detach !== false) child.unref();
  return { pid: child.pid!, exited, child };
}

/** Starts a proxy's HAProxy in a new process group; its pid file names it (HandOverRecord), with no reload yet. */
export async function startProxyProcess(options: ProxyProcessOptions): Promise<ProxyProcess> {
  const { pid, exited } = await spawnProxy(options, proxyArguments(options.configFile));
  await writePidFile(options.pidFile, identify(pid), { startedAt: new Date().toISOString(), reloads: 0 });
  return { pid, exited };
}

/**
 * A reload without a supervisor: starts the successor with `args` (successorArguments), and once
 * `serves` resolves for it, rewrites the pid file to name it (first start kept, one reload more).
 * When `serves` rejects, the successor is stopped and the pid file still names the running process.
 */
export async function handOverProxyProcess(options: ProxyProcessOptions, runningPid: number, args: string[], serves: (successor: { pid: number }) => Promise<void>): Promise<number> {
  const successor = await spawnProxy(options, args, runningPid);
  const who = identify(successor.pid);
  try {
    await serves({ pid: successor.pid });
  } catch (err) {
    await stopGroup(who);
    throw err;
  }
  await writePidFile(options.pidFile, who, successorRecord(await readPidFile<HandOverRecord>(options.pidFile)));
  return successor.pid;
}

/** True when `pid` is a proxy's HAProxy started for `configFile`. */
export function isProxyProcess(pid: number, configFile: string): boolean {
  if (!isRunning(pid)) return false;
  const argv = commandLine(pid);
  // Without /proc (non-Linux), trust the pid file.
  if (!argv.length) return true;
  return argv.includes(configFile);
}
