// The control plane's view of the data plane: how a proxy process is launched, how compiled configs
// reach proxies, and what a proxy reports. A thin adapter over runtime/haproxy for the agent, whose
// supervisor spawns the proxies itself (so they are restarted and adopted like the apps).
import { promises as fs, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { CompiledProxy, ProxyTarget } from '../runtime/haproxy/types.js';
import { waitFor } from '../system/processes.js';
import { applyProxyConfig, proxyCommand as haproxyCommand, ProxyReloadError, type ApplyAction, type ProxyHandOver } from '../runtime/haproxy/apply.js';
import { isReady, servedRevision as haproxyServedRevision } from '../runtime/haproxy/admin.js';
import { isProxyProcess, successorArguments } from '../runtime/haproxy/process.js';
import { RuntimeApi } from '../runtime/haproxy/runtime-api.js';

/** The command line and files that start a proxy's process from nothing (a crash's repair included). */
export function proxyCommand(bin: string, target: ProxyTarget): ReturnType<typeof haproxyCommand> {
  return haproxyCommand(bin, target);
}

/** Validates and writes a compiled proxy's files for a proxy that does not run (the supervisor starts it). */
export async function writeProxyFiles(bin: string, target: ProxyTarget, compiled: CompiledProxy): Promise<void> {
  await applyProxyConfig(target, compiled, { bin, pid: null, start: false });
}

/**
 * Brings the running proxy `pid` to `compiled`: weights and revision through the runtime API, other
 * changes through a hitless reload, whose successor process `handOver` makes the proxy; resolves once
 * it serves `compiled.revision`, with the proxy's pid then. `previous`: what the proxy is known to
 * serve, when the caller knows it (its state file is read otherwise).
 */
export async function updateRunningProxy(
  bin: string, target: ProxyTarget, compiled: CompiledProxy, pid: number, handOver: ProxyHandOver, previous?: CompiledProxy,
): Promise<{ action: ApplyAction; pid: number }> {
  const result = await applyProxyConfig(target, compiled, { bin, pid, handOver, ...(previous ? { previous } : {}) });
  return { action: result.action, pid: result.pid };
}

/**
 * Begins a new access log for the running proxy `pid` without losing a request: a successor with the
 * same configuration takes its listeners over through `handOver` (the supervisor's, setting the log
 * aside as `access.log.1`), and the process it replaces finishes its requests into the set-aside log.
 * Resolves with the successor's pid once it answers on the proxy's runtime socket.
 */
export async function rotateProxyLog(target: ProxyTarget, pid: number, handOver: ProxyHandOver, timeoutMs = 10_000): Promise<number> {
  const who = `${target.namespace}/${target.name}`;
  return handOver(successorArguments(target.paths.config, target.paths.runtimeSocket, pid), async ({ pid: next }) => {
    const took = await waitFor(async () => {
      if (!isProxyProcess(next, target.paths.config)) throw new ProxyReloadError(`The new process of ${who}'s proxy exited while taking over; the running one keeps its log.`);
      const info = await new RuntimeApi(target.paths.runtimeSocket, 1000).showInfo().catch(() => null);
      return info?.Pid === String(next);
    }, timeoutMs, 25);
    if (!took) throw new ProxyReloadError(`The new process of ${who}'s proxy did not take over within ${timeoutMs} ms; the running one keeps its log.`);
  });
}

/** True when `err` says a reload's successor did not take over, so the proxy still serves what it served. */
export function reloadDidNotTakeOver(err: unknown): boolean {
  return err instanceof ProxyReloadError;
}

/** The revision a proxy serves, from its admin port; null when it does not answer. */
export async function servedRevision(adminPort: number): Promise<number | null> {
  const revision = await haproxyServedRevision(adminPort);
  return revision === null || revision < 0 ? null : revision;
}

/** Resolves once `file` exists, or with false after `timeoutMs`: woken by the directory's change events, not by a timer. */
async function fileAppears(file: string, timeoutMs: number): Promise<boolean> {
  const exists = () => fs.access(file).then(() => true, () => false);
  let watcher: FSWatcher;
  try {
    watcher = watch(path.dirname(file));
  } catch {
    return exists();
  }
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      const found = () => {
        clearTimeout(timer);
        resolve(true);
      };
      watcher.on('change', (_event, name) => {
        if (name === path.basename(file)) void exists().then((yes) => yes && found());
      });
      watcher.on('error', () => void exists().then((yes) => (yes ? found() : undefined)));
      // Made before the watch began: no event will tell.
      void exists().then((yes) => yes && found());
    });
  } finally {
    watcher.close();
  }
}

/**
 * Waits until a proxy just started serves `revision` (false after `timeoutMs`). It binds every listener
 * (its runtime socket appears) once its configuration is loaded: the wait sleeps until then, and the
 * question it asks next is answered as soon as it serves.
 */
export async function startedProxyServes(target: ProxyTarget, revision: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  if (!(await fileAppears(target.paths.runtimeSocket, timeoutMs))) return false;
  return waitFor(async () => {
    const served = await servedRevision(target.ports.admin);
    return served !== null && served >= revision;
  }, Math.max(0, deadline - Date.now()), 10);
}

/** True when the proxy's admin port says it is ready (for sidecars: its app is reachable too). */
export function proxyReady(adminPort: number): Promise<boolean> {
  return isReady(adminPort);
}

/** Hands a renewed certificate (leaf + key PEM) to a running proxy through its runtime API, without a reload. */
export async function pushCertificate(target: ProxyTarget, pem: string): Promise<void> {
  const { RuntimeApi } = await import('../runtime/haproxy/runtime-api.js');
  await new RuntimeApi(target.paths.runtimeSocket).updateCertificate(target.paths.certificate, pem);
}

/**
 * Points a running sidecar's inbound traffic at another app port through its runtime API, at once.
 */
export async function pointInboundAt(target: ProxyTarget, appPort: number): Promise<void> {
  const { RuntimeApi } = await import('../runtime/haproxy/runtime-api.js');
  await new RuntimeApi(target.paths.runtimeSocket).command(`set server inbound_app/app addr 127.0.0.1 port ${appPort}`);
}
