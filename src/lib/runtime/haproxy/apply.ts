// Proxy lifecycle: start a compiled proxy, update it (runtime API when only runtime values change —
// weights, route timeouts, the revision —, hitless reload otherwise: a successor process takes the
// listening sockets over), report its status, stop it.
import { promises as fs } from 'node:fs';
import { writeFileAtomic, writeFilesAtomic } from '../../system/atomic-file.js';
import type { CompiledProxy, ProxyTarget } from './types.js';
import { checkConfig, findHaproxy } from './binary.js';
import { handOverProxyProcess, isProxyProcess, proxyArguments, startProxyProcess, successorArguments, type ProxyProcessOptions } from './process.js';
import { readPidFile, type HandOverRecord } from '../../system/pid-file.js';
import { stopGroup } from '../../system/processes.js';
import { RuntimeApi } from './runtime-api.js';
import { changedRouteIds, routeMapTexts, routeRuntimeState, routeStateCommands } from './route-state.js';
import { isReady, servedRevision, waitForRevision, WaitTimeoutError } from './admin.js';

export interface ApplyOptions {
  /** HAProxy binary; found with findHaproxy() when omitted. */
  bin?: string;
  /** The compiled proxy currently applied; read from the proxy's state file when omitted. */
  previous?: CompiledProxy | null;
  /** How long to wait for the proxy to serve the new revision (default 15 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * The proxy's pid when the caller knows it (a supervisor that started the proxy);
   * otherwise read from the proxy's pid file. null: the proxy does not run.
   */
  pid?: number | null;
  /**
   * How a reload's successor (started with `args`) becomes the proxy once `serves` resolves for it: a
   * supervisor's `handOver`, so that it supervises the successor under the same name. Without it the
   * successor is spawned here and the pid file names it once it serves.
   */
  handOver?: ProxyHandOver;
  /**
   * Start the proxy when it does not run (default true). A caller that spawns processes itself
   * passes false: the files are validated and written (`written`), and it starts
   * `proxyCommand(bin, target)` and waits with `waitForRevision`.
   */
  start?: boolean;
}

export type ApplyAction = 'started' | 'reloaded' | 'runtime' | 'unchanged' | 'written';

/** Starts a successor with `args`, makes it the proxy once `serves` resolves for it; resolves with its pid. */
export type ProxyHandOver = (args: string[], serves: (successor: { pid: number }) => Promise<void>) => Promise<number>;

export interface ApplyResult {
  action: ApplyAction;
  revision: number;
  /** The proxy's pid (a reload's successor; 0 for `written`: nothing runs). */
  pid: number;
  /** Routes whose weights or timeouts were sent through the runtime API. */
  runtimeRoutes: number;
  durationMs: number;
}

export class ProxyApplyError extends Error {
  override name = 'ProxyApplyError';
}

/** A reload's successor did not take over (it exited, or did not serve in time): the running process still serves. */
export class ProxyReloadError extends ProxyApplyError {
  override name = 'ProxyReloadError';
}

let defaultBin: Promise<string> | null = null;
async function haproxyBin(bin?: string): Promise<string> {
  if (bin) return bin;
  defaultBin ??= findHaproxy().then((b) => b.path);
  try {
    return await defaultBin;
  } catch (err) {
    defaultBin = null;
    throw err;
  }
}

/** The proxy's files hold certificates' neighbours and the control plane's state: owner only. */
const writeAtomic = (file: string, text: string) => writeFileAtomic(file, text, 0o600);

/** How to start a proxy's HAProxy from nothing, for callers that spawn processes themselves. */
export function proxyCommand(bin: string, target: ProxyTarget): { command: string; args: string[]; stdoutFile: string; stderrFile: string; pidFile: string; holdOutput: true } {
  // Held open for a reload's successor to write through (process.ts).
  return { command: bin, args: proxyArguments(target.paths.config), stdoutFile: target.paths.accessLog, stderrFile: target.paths.proxyLog, pidFile: target.paths.pid, holdOutput: true };
}

function processOptions(bin: string, target: ProxyTarget, env?: NodeJS.ProcessEnv): ProxyProcessOptions {
  return { bin, configFile: target.paths.config, stdoutFile: target.paths.accessLog, stderrFile: target.paths.proxyLog, pidFile: target.paths.pid, env };
}

/** The pid of the proxy's process when it runs (checked against its command line), else null. */
export async function runningProxyPid(target: ProxyTarget): Promise<number | null> {
  const pid = (await readPidFile(target.paths.pid))?.pid ?? null;
  return pid !== null && isProxyProcess(pid, target.paths.config) ? pid : null;
}

/** The compiled proxy last applied to `target` (its state file), or null. */
export async function appliedProxyConfig(target: ProxyTarget): Promise<CompiledProxy | null> {
  try {
    return JSON.parse(await fs.readFile(target.paths.state, 'utf8')) as CompiledProxy;
  } catch {
    return null;
  }
}

async function tail(file: string, lines = 8): Promise<string> {
  try {
    const text = await fs.readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** A file's text, or null when it cannot be read. */
async function readText(file: string): Promise<string | null> {
  return fs.readFile(file, 'utf8').catch(() => null);
}

/**
 * Validates `compiled` with `haproxy -c`: the configuration as a candidate copy, beside a candidate
 * copy of each file it reads that differs from the one on disk (the others are read where they are).
 * The candidates are written only when a check runs (one per configuration shape).
 */
async function validate(bin: string, target: ProxyTarget, compiled: CompiledProxy): Promise<void> {
  const cfgNext = `${target.paths.config}.next`;
  const written: string[] = [];
  const write = async () => {
    const candidates: [string, string][] = [];
    let config = compiled.config;
    for (const [file, text] of [[target.paths.lua, compiled.lua] as [string, string], ...proxyMapTexts(target, compiled)]) {
      if ((await readText(file)) === text) continue;
      candidates.push([`${file}.next`, text]);
      config = config.split(file).join(`${file}.next`);
    }
    candidates.push([cfgNext, config]);
    for (const [file, text] of candidates) {
      written.push(file);
      await fs.writeFile(file, text, { mode: 0o600 });
    }
  };
  try {
    const problem = await checkConfig(bin, cfgNext, { text: compiled.config, write });
    if (problem) throw new ProxyApplyError(`HAProxy refused the configuration compiled for ${target.namespace}/${target.name}: ${problem}`);
  } finally {
    for (const f of written) await fs.rm(f, { force: true });
  }
}

/** The route map files (route-state.ts) of `compiled`: [file, text]. */
function proxyMapTexts(target: ProxyTarget, compiled: CompiledProxy): [string, string][] {
  return routeMapTexts(target.paths.dir, compiled.runtimeState ?? routeRuntimeState(compiled.routes));
}

/** What a proxy reads at start besides its configuration: the Lua program and the route maps, as [file, text]. */
function runtimeFileTexts(target: ProxyTarget, compiled: CompiledProxy): [string, string][] {
  return [[target.paths.lua, compiled.lua], ...proxyMapTexts(target, compiled)];
}

/**
 * Those of `compiled`'s runtime files whose text differs from what is there: `known` is what the caller
 * knows these files hold (the compiled proxy it last wrote, nothing rewrote since), else they are read back.
 */
async function changedRuntimeFiles(target: ProxyTarget, compiled: CompiledProxy, known: CompiledProxy | null): Promise<[string, string][]> {
  const before = known ? new Map(runtimeFileTexts(target, known)) : null;
  const entries = runtimeFileTexts(target, compiled);
  const there = await Promise.all(entries.map(([file]) => (before?.has(file) ? before.get(file) : readText(file))));
  return entries.filter(([, text], i) => there[i] !== text);
}

/**
 * Writes the runtime files that differ from the disk (every atomic write costs two fsyncs), with one
 * directory fsync for all of them; `then` (the configuration, the state) renamed after the files they name.
 */
async function writeRuntimeFiles(target: ProxyTarget, compiled: CompiledProxy, ...then: [string, string][]): Promise<void> {
  const changed = await changedRuntimeFiles(target, compiled, null);
  await writeFilesAtomic([...changed, ...then].map(([file, data]) => ({ file, data, mode: 0o600 })));
}

/**
 * Writes everything a proxy that does not run reads at its start, for the caller that starts it next
 * (the agent's supervisor): every file, without reading any back to compare, and without syncs. No
 * running proxy relies on these files yet; HAProxy reads them from the page cache a moment later. Only
 * a machine crash can lose or tear the writes, and it stops the proxy too: the agent's own start then
 * comes through here again for every proxy that does not run, and writes all of it anew before any
 * HAProxy reads it. Renamed into place as ever, so that a check or a reader sees whole files; the state
 * last, since it says the files before it hold what it names.
 */
async function writeFilesForStart(target: ProxyTarget, compiled: CompiledProxy): Promise<void> {
  const files: [string, string][] = [...runtimeFileTexts(target, compiled), [target.paths.config, compiled.config], [target.paths.state, JSON.stringify(compiled)]];
  await writeFilesAtomic(files.map(([file, data]) => ({ file, data, mode: 0o600 })), { sync: false });
}

/**
 * What a runtime update changes in a running proxy's files (the Lua program, the route maps, the compiled
 * state), replaced atomically but not synced: all of them are compiled from the stored revision, and
 * every start of a proxy (the agent's own after a machine crash included) rewrites whichever differs
 * from that compile before HAProxy reads it, so a write the disk lost is never served. The state file
 * is renamed last: a state naming the new values says the files before it hold them.
 */
async function replaceRuntimeFiles(target: ProxyTarget, compiled: CompiledProxy, written: CompiledProxy | null): Promise<void> {
  const changed = await changedRuntimeFiles(target, compiled, written);
  await writeFilesAtomic([...changed, [target.paths.state, JSON.stringify(compiled)] as [string, string]].map(([file, data]) => ({ file, data, mode: 0o600 })), { sync: false });
}

async function checkFiles(target: ProxyTarget): Promise<void> {
  for (const f of [target.paths.certificate, target.paths.caBundle]) {
    try {
      await fs.access(f);
    } catch {
      throw new ProxyApplyError(`${f} is missing; issue the proxy's certificate (issueWorkloadCertificate + writeWorkloadCertificate) before starting it.`);
    }
  }
}

function weightedRoutes(compiled: CompiledProxy): { id: string; weights: number[] }[] {
  return compiled.routes.filter((r) => r.weighted && r.destinations.length > 1).map((r) => ({ id: r.id, weights: r.destinations.map((d) => d.weight) }));
}

/**
 * Applies a compiled configuration to its proxy and returns once the proxy serves `compiled.revision`:
 * - not running → validates, writes the files and starts HAProxy → `started`;
 * - running, same structure (only runtime values differ from the previous compiled config: route
 *   weights, route timeouts, the revision) → sends them through the runtime API, no reload →
 *   `runtime` (`unchanged` when nothing differs);
 * - running, anything else → validates, writes the files, starts a successor that takes the listening
 *   sockets over and becomes the proxy once it serves the revision (the process it replaced finishes
 *   its requests and leaves) → `reloaded`, with the successor's pid. A successor that exits (a bind
 *   failure, say) leaves the running process serving: ProxyReloadError.
 * The files on disk always hold the latest configuration, so a restarted proxy comes back with it.
 */
export async function applyProxyConfig(target: ProxyTarget, compiled: CompiledProxy, options: ApplyOptions = {}): Promise<ApplyResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 15_000;
  await fs.mkdir(target.paths.dir, { recursive: true, mode: 0o700 });
  await checkFiles(target);
  const pid = options.pid !== undefined
    ? (options.pid !== null && isProxyProcess(options.pid, target.paths.config) ? options.pid : null)
    : await runningProxyPid(target);
  // What a proxy that does not run served last matters to nothing below: its state file is not read.
  const previous = options.previous !== undefined ? options.previous : pid === null ? null : await appliedProxyConfig(target);
  // What the caller hands over is what it last wrote to these files; a state file read back may lag
  // behind files another writer (a traffic shift) replaced first, so the files are compared then.
  const written = options.previous ?? null;
  const result = (action: ApplyAction, p: number, runtimeRoutes = 0): ApplyResult => ({ action, revision: compiled.revision, pid: p, runtimeRoutes, durationMs: Date.now() - started });

  if (pid !== null && previous?.runtimeState && compiled.runtimeState && previous.structureHash === compiled.structureHash) {
    const before = new Map(weightedRoutes(previous).map((r) => [r.id, JSON.stringify(r.weights)]));
    const routes = weightedRoutes(compiled).filter((r) => before.get(r.id) !== JSON.stringify(r.weights));
    const mapCommands = routeStateCommands(target.paths.dir, previous.runtimeState, compiled.runtimeState);
    if (previous.revision === compiled.revision && !routes.length && !mapCommands.length) return result('unchanged', pid);
    // Files first: a proxy restarted from now on starts with the new values.
    await replaceRuntimeFiles(target, compiled, written);
    await new RuntimeApi(target.paths.runtimeSocket).updateRoutes(mapCommands, routes, compiled.revision);
    return result('runtime', pid, new Set([...routes.map((r) => r.id), ...changedRouteIds(previous.runtimeState, compiled.runtimeState)]).size);
  }

  const bin = await haproxyBin(options.bin);
  await validate(bin, target, compiled);
  if (pid === null && options.start === false) {
    await writeFilesForStart(target, compiled);
    return result('written', 0);
  }
  await writeRuntimeFiles(target, compiled, [target.paths.config, compiled.config]);

  if (pid === null) {
    for (const s of proxySockets(target)) await fs.rm(s, { force: true });
    const proc = await startProxyProcess(processOptions(bin, target, options.env));
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    void proc.exited.then((e) => { exit = e; });
    try {
      await waitForRevision(target.ports.admin, compiled.revision, {
        timeoutMs,
        abort: () => (exit ? new ProxyApplyError(`The proxy of ${target.namespace}/${target.name} exited (${exit.code ?? exit.signal}) while starting.`) : null),
      });
    } catch (err) {
      const log = await tail(target.paths.proxyLog);
      await stopGroup({ pid: proc.pid, startTime: null });
      throw new ProxyApplyError(`${(err as Error).message}${log ? `\n${log}` : ''}`);
    }
    await writeAtomic(target.paths.state, JSON.stringify(compiled));
    return result('started', proc.pid);
  }

  const handOver = options.handOver ?? ((args, serves) => handOverProxyProcess(processOptions(bin, target, options.env), pid, args, serves));
  let successor: number;
  try {
    successor = await handOver(successorArguments(target.paths.config, target.paths.runtimeSocket, pid), async ({ pid: next }) => {
      await waitForRevision(target.ports.admin, compiled.revision, {
        timeoutMs,
        abort: () => (isProxyProcess(next, target.paths.config) ? null : new ProxyReloadError(`The new process of ${target.namespace}/${target.name}'s proxy exited during its reload; the running one still serves the previous configuration.`)),
      });
    });
  } catch (err) {
    const log = await tail(target.paths.proxyLog);
    const message = `${err instanceof WaitTimeoutError ? `The reload of ${target.namespace}/${target.name} did not take effect: ` : ''}${(err as Error).message}${log ? `\n${log}` : ''}`;
    throw err instanceof ProxyApplyError || err instanceof WaitTimeoutError ? new ProxyReloadError(message) : new ProxyApplyError(message);
  }
  await writeAtomic(target.paths.state, JSON.stringify(compiled));
  return result('reloaded', successor);
}

export interface ProxyStatus {
  running: boolean;
  pid: number | null;
  /** The revision the admin port reports (null when it does not answer). */
  revision: number | null;
  ready: boolean;
}

export async function proxyStatus(target: ProxyTarget): Promise<ProxyStatus> {
  const pid = await runningProxyPid(target);
  if (pid === null) return { running: false, pid: null, revision: null, ready: false };
  const [revision, ready] = await Promise.all([servedRevision(target.ports.admin), isReady(target.ports.admin)]);
  return { running: true, pid, revision, ready };
}

/** The UNIX sockets a proxy listens on, removed before a start from nothing and after a stop. */
function proxySockets(target: ProxyTarget): string[] {
  return [target.paths.runtimeSocket, target.paths.inboundTlsSocket, target.paths.inboundPlainSocket, target.paths.mirrorSocket];
}

/**
 * Stops the proxy (its whole process group) if it runs, and the processes its reloads left finishing
 * their requests (the pid file names them); removes its pid file and sockets.
 */
export async function stopProxy(target: ProxyTarget, options: { timeoutMs?: number } = {}): Promise<boolean> {
  const pid = await runningProxyPid(target);
  const draining = (await readPidFile<HandOverRecord>(target.paths.pid))?.draining ?? [];
  await Promise.all([...(pid !== null ? [{ pid, startTime: null }] : []), ...draining].map((who) => stopGroup(who, options.timeoutMs ?? 5000)));
  for (const f of [target.paths.pid, ...proxySockets(target)]) await fs.rm(f, { force: true });
  return pid !== null;
}
