// How HAProxy runs as a proxy: master-worker with a master CLI, each proxy in its own process group
// (started through system/processes.ts, like every process meshctl starts) so that stopping it stops
// its workers too.
import { commandLine, identify, isRunning, spawnDetached } from '../../system/processes.js';
import { writePidFile } from '../../system/pid-file.js';

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
  const child = await spawnDetached({ command: options.bin, args, env: options.env, stdoutFile: options.stdoutFile, stderrFile: options.stderrFile });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  if (options.detach !== false) child.unref();
  await writePidFile(options.pidFile, identify(child.pid));
  return { pid: child.pid, exited };
}

/** True when `pid` is an HAProxy master started for `configFile`. */
export function isProxyProcess(pid: number, configFile: string): boolean {
  if (!isRunning(pid)) return false;
  const argv = commandLine(pid);
  // Without /proc (non-Linux), trust the pid file.
  if (!argv.length) return true;
  return argv.includes(configFile);
}

/** Sends `signal` to the master only (SIGUSR2 reloads, SIGUSR1 soft-stops). */
export function signalProxy(pid: number, signal: NodeJS.Signals): void {
  process.kill(pid, signal);
}
