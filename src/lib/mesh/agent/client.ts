// The CLI's side of the agent: requests over the home's socket, and starting the agent when none
// answers (after install, or after the agent was killed).
import { promises as fs, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { EXIT, MeshctlError, environmentError } from '../../errors.js';
import type { HomeLayout } from '../home.js';
import { readPidFile } from '../../system/pid-file.js';
import { isRunning, spawnDetached, waitFor, type ProcessIdentity } from '../../system/processes.js';
import type { Method, Requests, ResponseMessage } from './protocol.js';

/** The agent's entry, beside this file once compiled. */
export const AGENT_ENTRY = fileURLToPath(new URL('./main.js', import.meta.url));

/** The version of this meshctl (the agent answers ping with its own, so an upgrade is noticed). */
export function meshctlVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../../../package.json', import.meta.url)), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

const AGENT_LOG_ROTATE_BYTES = 10 * 1024 * 1024;

export class AgentUnreachable extends Error {
  override name = 'AgentUnreachable';
}

/** Sends one request; rejects with AgentUnreachable when nothing listens, MeshctlError when the agent answers with an error. */
export function request<M extends Method>(layout: HomeLayout, method: M, params: Requests[M]['params'], timeoutMs = 30_000): Promise<Requests[M]['result']> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(layout.agentSocket);
    let buffer = '';
    let answered = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new AgentUnreachable(`The mesh agent did not answer ${method} within ${Math.round(timeoutMs / 1000)}s.`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify({ method, params })}\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      answered = true;
      clearTimeout(timer);
      socket.end();
      let message: ResponseMessage<M>;
      try {
        message = JSON.parse(buffer.slice(0, nl)) as ResponseMessage<M>;
      } catch {
        reject(new AgentUnreachable('The mesh agent sent an unreadable answer.'));
        return;
      }
      if (message.ok) resolve(message.result);
      else reject(new MeshctlError(message.error, message.exitCode));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new AgentUnreachable(`No mesh agent answers on ${layout.agentSocket} (${(err as NodeJS.ErrnoException).code ?? err.message}).`));
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (!answered) reject(new AgentUnreachable(`The mesh agent closed the connection before answering ${method}.`));
    });
  });
}

/** The agent's recorded pid, when its pid file names a running process. */
export async function runningAgent(layout: HomeLayout): Promise<ProcessIdentity | null> {
  const recorded = await readPidFile(layout.agentPid);
  return recorded && isRunning(recorded) ? recorded : null;
}

export async function agentAnswers(layout: HomeLayout, timeoutMs = 2000): Promise<boolean> {
  try {
    await request(layout, 'ping', {}, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

async function logTail(file: string, lines = 5): Promise<string> {
  try {
    const text = await fs.readFile(file, 'utf8');
    return text.trim().split('\n').slice(-lines).join(' / ');
  } catch {
    return '';
  }
}

/** Starts the agent detached from this process and waits until it answers. */
export async function startAgent(layout: HomeLayout, timeoutMs = 20_000): Promise<void> {
  await fs.mkdir(layout.agentDir, { recursive: true, mode: 0o700 });
  // One previous log is kept; a long-lived mesh's agent log does not grow without bound.
  const size = await fs.stat(layout.agentLog).then((s) => s.size, () => 0);
  if (size > AGENT_LOG_ROTATE_BYTES) await fs.rename(layout.agentLog, `${layout.agentLog}.1`).catch(() => undefined);
  let exited: string | null = null;
  try {
    const child = await spawnDetached({ command: process.execPath, args: [AGENT_ENTRY, layout.root], env: { ...process.env, MESHCTL_AGENT: '1' }, stdoutFile: layout.agentLog, stderrFile: layout.agentLog });
    child.once('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `exit ${code}`));
    child.unref();
  } catch (err) {
    exited = (err as Error).message;
  }
  const up = await waitFor(async () => exited !== null || (await agentAnswers(layout, 1000)), timeoutMs, 50);
  if (exited !== null && !(await agentAnswers(layout, 1000))) {
    const tail = await logTail(layout.agentLog);
    throw environmentError(`The mesh agent exited at start (${exited})${tail ? `: ${tail}` : ''}; see ${layout.agentLog}.`);
  }
  if (!up) throw environmentError(`The mesh agent did not answer within ${Math.round(timeoutMs / 1000)}s; see ${layout.agentLog}.`);
}

/**
 * Makes sure the home's agent answers, starting it when it does not (it then re-adopts or restarts the
 * pods from the stored state). Returns true when it had to be started.
 */
export async function ensureAgent(layout: HomeLayout): Promise<boolean> {
  let ping: Requests['ping']['result'] | null = null;
  try {
    ping = await request(layout, 'ping', {}, 2000);
  } catch {
    ping = null;
  }
  if (ping && ping.version === meshctlVersion()) return false;
  if (ping) {
    // An agent of another meshctl version (meshctl was upgraded): it leaves the pods running and exits,
    // and this version's agent adopts them.
    await request(layout, 'shutdown', { stopPods: false }, 30_000).catch(() => undefined);
    const old = ping.pid;
    await waitFor(() => !isRunning(old), 10_000, 25);
  } else {
    // A live agent that does not answer is busy or stuck: give it a moment before starting another.
    const live = await runningAgent(layout);
    if (live && (await waitFor(() => agentAnswers(layout), 5000, 200))) return false;
  }
  await startAgent(layout);
  return true;
}

/** A request after ensureAgent, with the agent's errors as they are and transport errors as exit 3. */
export async function call<M extends Method>(layout: HomeLayout, method: M, params: Requests[M]['params'], timeoutMs = 60_000): Promise<Requests[M]['result']> {
  await ensureAgent(layout);
  try {
    return await request(layout, method, params, timeoutMs);
  } catch (err) {
    if (err instanceof MeshctlError) throw err;
    throw new MeshctlError(`${(err as Error).message} See ${layout.agentLog}.`, EXIT.environment);
  }
}
