// How the agent pushes a revision's compiled configurations to the proxies at mesh scale: a proxy whose
// configuration did not change is left alone (no check, no reload, no runtime call), and the pushes
// that do happen (starts and reloads cost the machine a configuration parse each) run a bounded number
// at a time, so that a change to many proxies does not starve the ones serving traffic.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import type { CompiledProxy, ProxyTarget } from '../runtime/haproxy/types.js';
import { adminGet } from '../runtime/haproxy/admin.js';

/** What a push did to one proxy. */
export type PushPath = 'started' | 'runtime' | 'reloaded' | 'unchanged';

export interface ProxyPush {
  name: string;
  namespace: string;
  kind: 'sidecar' | 'gateway';
  path: PushPath;
  /** The revision the proxy serves: the one its configuration last changed at. */
  revision: number;
}

/** Whether a proxy is ready and the revision it serves (null when it does not answer). */
export interface ProxyReadiness {
  ready: boolean;
  revision: number | null;
}

export const NOT_RUNNING: ProxyReadiness = { ready: false, revision: null };

/**
 * Readiness and served revision in one question to the proxy's admin port: every admin answer carries
 * the revision, so a mesh of many proxies is asked once per proxy for both.
 */
export async function proxyReadiness(adminPort: number): Promise<ProxyReadiness> {
  try {
    const answer = await adminGet(adminPort, '/ready');
    return { ready: answer.status === 200, revision: answer.revision < 0 ? null : answer.revision };
  } catch {
    return NOT_RUNNING;
  }
}

/** A proxy's key in the placement's revisions: `sidecar:<namespace>/<name>` or `gateway:<namespace>/<name>`. */
export function proxyRevisionKey(p: { kind: 'sidecar' | 'gateway'; namespace: string; name: string }): string {
  return `${p.kind}:${p.namespace}/${p.name}`;
}

/** Reloads at once: every CPU but one, which is left to the proxies serving traffic meanwhile (a reloading proxy serves on). */
export function reloadConcurrency(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

/** Starts at once: one per CPU (a proxy that is not up yet serves no traffic to leave a CPU to). */
export function startConcurrency(): number {
  return os.availableParallelism();
}

/** A bounded number of turns: `take` runs its function once fewer than `limit` others run. */
export class Turns {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async take<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      // The turn passes straight to the next in line, or is given back.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

interface Served {
  compiled: CompiledProxy;
  pid: number;
  /** When the proxy's state file was last written: anything else writing it (route shift's weights) makes the proxy checked again. */
  stateMtimeMs: number;
}

async function mtimeOf(file: string): Promise<number | null> {
  return fs.stat(file).then((s) => s.mtimeMs, () => null);
}

/** What each proxy was last brought to by this agent, to tell which ones a new revision leaves alone. */
export class ServedConfigs {
  private readonly served = new Map<string, Served>();

  /** True when `supervised` runs as `pid` and serves exactly `compiled` (the same compiled object, carried over by compileMesh). */
  async unchanged(supervised: string, target: ProxyTarget, compiled: CompiledProxy, pid: number | null): Promise<boolean> {
    const last = this.served.get(supervised);
    if (!last || pid === null || last.pid !== pid || last.compiled !== compiled) return false;
    return (await mtimeOf(target.paths.state)) === last.stateMtimeMs;
  }

  async record(supervised: string, target: ProxyTarget, compiled: CompiledProxy, pid: number | null): Promise<void> {
    const stateMtimeMs = await mtimeOf(target.paths.state);
    if (pid === null || stateMtimeMs === null) this.served.delete(supervised);
    else this.served.set(supervised, { compiled, pid, stateMtimeMs });
  }

  /**
   * What `supervised` serves when this agent knows it for sure (it runs as `pid` and nothing else wrote its
   * state file since), so that an update need not read the state file back; null otherwise.
   */
  async knownServed(supervised: string, target: ProxyTarget, pid: number | null): Promise<CompiledProxy | null> {
    const last = this.served.get(supervised);
    if (!last || pid === null || last.pid !== pid) return null;
    return (await mtimeOf(target.paths.state)) === last.stateMtimeMs ? last.compiled : null;
  }

  forget(supervised: string): void {
    this.served.delete(supervised);
  }
}

/** One line on what a push did: `3 sidecars reloaded, 17 updated at run time, 80 unchanged`. */
export function pushSummary(pushes: ProxyPush[]): string | null {
  if (!pushes.length) return null;
  const count = (path: PushPath) => pushes.filter((p) => p.path === path).length;
  const proxies = (n: number) => `${n} ${pushes.every((p) => p.kind === 'sidecar') ? (n === 1 ? 'sidecar' : 'sidecars') : n === 1 ? 'proxy' : 'proxies'}`;
  const parts = [
    [count('started'), 'started'],
    [count('reloaded'), 'reloaded'],
    [count('runtime'), 'updated at run time'],
    [count('unchanged'), 'unchanged'],
  ] as const;
  const said = parts.filter(([n]) => n > 0).map(([n, what], i) => (i === 0 ? `${proxies(n)} ${what}` : `${n} ${what}`));
  return `${said.join(', ')}.`;
}
