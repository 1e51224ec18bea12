// What a shift drives: the proxies that carry the shifted route. One interface (read the weights they
// serve, write new weights to every one of them, read the figures of the requests they sent) and its
// local-mesh implementation over the HAProxy runtime API and the sidecars' access logs.
import { isDeepStrictEqual } from 'node:util';
import { environmentError } from '../errors.js';
import { writeFileAtomic } from '../system/atomic-file.js';
import type { CompiledProxy, CompiledRoute } from '../runtime/haproxy/types.js';
import type { HomeLayout } from '../mesh/home.js';
import { readLocalProxies, type LocalProxy } from '../mesh/proxies.js';
import { readApplied } from '../mesh/state.js';
import type { UpstreamFigures } from '../runtime/figures.js';
import { AccessLogTail, figuresByUpstream } from '../runtime/haproxy/traffic.js';
import { appliedProxyConfig, runningProxyPid } from '../runtime/haproxy/apply.js';
import { renderLuaFile } from '../runtime/haproxy/lua.js';
import { RuntimeApi } from '../runtime/haproxy/runtime-api.js';
import { readRouteWeights } from '../runtime/haproxy/weights.js';
import type { Weights } from './plan.js';
import { CANARY_ROUTE, findVirtualService, storedWeights, withShiftWeights, type ShiftRoute } from './route.js';

export interface ServedWeights {
  proxy: string;
  kind: 'sidecar' | 'gateway';
  /** The route's weights by subset as the proxy serves them now; null when it does not answer. */
  weights: Weights | null;
  /** Why the weights could not be read. */
  error: string | null;
}

export interface WriteReport {
  /** Proxies that serve the new weights. */
  served: string[];
  /** Proxies that do not run now: their files hold the new weights, which they serve when they start. */
  notRunning: string[];
}

export interface ShiftTarget {
  /** Names of the proxies that carry the route. */
  proxies(): Promise<string[]>;
  readWeights(): Promise<ServedWeights[]>;
  /** Sets the route's weights on every proxy; resolves once every running one serves them. */
  writeWeights(weights: Weights): Promise<WriteReport>;
  /** Figures only count requests logged from now on (call before the first window). */
  startReading(): Promise<void>;
  /**
   * Per (host, subset) figures of the requests the proxies sent to the host, started in [sinceMs,
   * untilMs); with `mirrored`, of the mirrored copies they sent instead.
   */
  readFigures(sinceMs: number, untilMs: number, options?: { mirrored?: boolean }): Promise<UpstreamFigures[]>;
  /**
   * Records the weights in the applied configuration (so a later apply, a restarted agent and diff
   * --live see them), with the header-canary route when `header` is given, and the shifted route's
   * mirror to the new subset put on (`mirror` true) or taken off (false; undefined: left as it is).
   * Resolves once every proxy serves that configuration.
   */
  storeWeights(weights: Weights, header: { name: string; value: string } | null, mirror?: boolean): Promise<void>;
  /** The weights the applied configuration holds for the route. */
  storedWeights(): Promise<Weights | null>;
}

export class WeightWriteError extends Error {
  override name = 'WeightWriteError';
}

/** The shifted route inside one compiled proxy (its index moves by one while a canary route precedes it). */
export function shiftedRoute(compiled: CompiledProxy, route: ShiftRoute): CompiledRoute | undefined {
  const mine = compiled.routes.filter((r) => r.virtualService && r.virtualService.namespace === route.virtualService.namespace && r.virtualService.name === route.virtualService.name);
  if (route.name) {
    const named = mine.filter((r) => r.virtualService!.routeName === route.name);
    if (named.length === 1) return named[0];
  }
  const canary = mine.find((r) => r.virtualService!.routeName === CANARY_ROUTE);
  const index = route.index + (canary && canary.virtualService!.index <= route.index ? 1 : 0);
  return mine.find((r) => r.virtualService!.index === index);
}

function routeWeights(route: CompiledRoute, host: string): Weights {
  const out: Weights = {};
  for (const d of route.destinations) if (d.host === host) out[d.subset] = (out[d.subset] ?? 0) + d.weight;
  return out;
}

function luaRoutes(compiled: CompiledProxy) {
  return compiled.routes.filter((r) => r.weighted && r.destinations.length > 1).map((r) => ({ id: r.id, backends: r.destinations.map((d) => d.backend), weights: r.destinations.map((d) => d.weight) }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The local mesh: sidecars and gateway proxies of a mesh home, reached through their runtime API sockets. */
export class LocalMeshTarget implements ShiftTarget {
  private readonly tail: AccessLogTail;

  constructor(readonly layout: HomeLayout, readonly route: ShiftRoute) {
    this.tail = new AccessLogTail((e) => e.destinationHost === route.host);
  }

  /** The proxies whose configuration has the route, with that configuration. */
  private async carriers(): Promise<{ proxy: LocalProxy; compiled: CompiledProxy; route: CompiledRoute }[]> {
    const out: { proxy: LocalProxy; compiled: CompiledProxy; route: CompiledRoute }[] = [];
    await Promise.all((await readLocalProxies(this.layout)).map(async (proxy) => {
      const compiled = await appliedProxyConfig(proxy);
      const route = compiled ? shiftedRoute(compiled, this.route) : undefined;
      if (compiled && route && route.destinations.length) out.push({ proxy, compiled, route });
    }));
    return out.sort((a, b) => a.proxy.name.localeCompare(b.proxy.name));
  }

  async proxies(): Promise<string[]> {
    return (await this.carriers()).map((c) => c.proxy.name);
  }

  async readWeights(): Promise<ServedWeights[]> {
    return Promise.all((await this.carriers()).map(async ({ proxy, compiled, route }): Promise<ServedWeights> => {
      // A route with one destination is not weighted: all its traffic goes there.
      if (!route.weighted || route.destinations.length < 2) return { proxy: proxy.name, kind: proxy.kind, weights: routeWeights(route, this.route.host), error: null };
      try {
        const served = await readRouteWeights(proxy, compiled);
        const r = served.routes.find((x) => x.routeId === route.id);
        if (!r) return { proxy: proxy.name, kind: proxy.kind, weights: null, error: `does not serve route ${route.id}` };
        const weights: Weights = {};
        for (const d of r.destinations) if (d.host === this.route.host) weights[d.subset] = (weights[d.subset] ?? 0) + d.weight;
        return { proxy: proxy.name, kind: proxy.kind, weights, error: null };
      } catch (err) {
        return { proxy: proxy.name, kind: proxy.kind, weights: null, error: (err as Error).message.replace(/\.$/, '') };
      }
    }));
  }

  async writeWeights(weights: Weights): Promise<WriteReport> {
    const report: WriteReport = { served: [], notRunning: [] };
    await Promise.all((await this.carriers()).map(async ({ proxy, compiled, route }) => {
      if (!route.weighted || route.destinations.length < 2) return;
      const vector = route.destinations.map((d) => (d.host === this.route.host ? weights[d.subset] ?? 0 : d.weight));
      if (vector.every((w) => w === 0)) throw new WeightWriteError(`Weights ${JSON.stringify(weights)} leave route ${route.id} without a destination.`);
      const next: CompiledProxy = {
        ...compiled,
        routes: compiled.routes.map((r) => (r.id === route.id ? { ...r, destinations: r.destinations.map((d, i) => ({ ...d, weight: vector[i] })) } : r)),
      };
      next.lua = renderLuaFile(next.revision, luaRoutes(next));
      // Files first: a proxy that restarts from now on starts with these weights.
      await writeFileAtomic(proxy.paths.lua, next.lua, 0o600);
      await writeFileAtomic(proxy.paths.state, JSON.stringify(next), 0o600);
      const api = new RuntimeApi(proxy.paths.runtimeSocket, 2000);
      for (let attempt = 0; ; attempt++) {
        try {
          await api.setRouteWeights([{ id: route.id, weights: vector }]);
          report.served.push(proxy.name);
          return;
        } catch (err) {
          if ((await runningProxyPid(proxy)) === null) {
            report.notRunning.push(proxy.name);
            return;
          }
          if (attempt >= 3) throw new WeightWriteError(`The proxy of ${proxy.name} did not take the new weights: ${(err as Error).message}`);
          await sleep(50 * (attempt + 1));
        }
      }
    }));
    report.served.sort();
    report.notRunning.sort();
    return report;
  }

  async readFigures(sinceMs: number, untilMs: number, options: { mirrored?: boolean } = {}): Promise<UpstreamFigures[]> {
    const logs = (await readLocalProxies(this.layout)).map((p) => p.paths.accessLog);
    return figuresByUpstream(await this.tail.since(logs, sinceMs), { sinceMs, untilMs }, options);
  }

  /** Starts reading the access logs from their current ends (a proxy that appears later is read from the window's start). */
  async startReading(): Promise<void> {
    await this.tail.startAtEnd((await readLocalProxies(this.layout)).map((p) => p.paths.accessLog));
  }

  async storedWeights(): Promise<Weights | null> {
    return storedWeights((await readApplied(this.layout)).resources, this.route);
  }

  async storeWeights(weights: Weights, header: { name: string; value: string } | null, mirror?: boolean): Promise<void> {
    const applied = await readApplied(this.layout);
    const vs = findVirtualService(applied.resources, this.route.virtualService);
    if (!vs) throw environmentError(`VirtualService ${this.route.virtualService.namespace}/${this.route.virtualService.name} is no longer applied, so the shift cannot record its weights; abort it with meshctl route abort ${this.route.hostArg}.`);
    const next = withShiftWeights(vs, this.route, weights, header, mirror);
    if (isDeepStrictEqual(next, vs)) return;
    const { call } = await import('../mesh/agent/client.js');
    await call(this.layout, 'apply', { action: 'apply', resources: [next], wait: false, timeoutMs: 60_000, shiftHost: this.route.host }, 90_000);
  }
}
