// The local mesh as a MeshTarget: the proxies a mesh home places (HAProxy sidecars and gateway proxies
// on loopback), its state store for the applied policy, the agent for applying, the runtime API for
// weights, the access logs for traffic figures, and the home's files for a shift's record.
import { promises as fs } from 'node:fs';
import { usageError } from '../errors.js';
import type { HomeLayout } from '../mesh/home.js';
import { localAdapter, readLocalMesh, readLocalProxies, type LocalProxy } from '../mesh/proxies.js';
import { proxyStatusOf } from '../mesh/proxy-status.js';
import { prometheusReady, prometheusUrl, readPrometheusSettings } from '../mesh/addons/prometheus.js';
import { readApplied, readMeshConfigFile } from '../mesh/state.js';
import type { ProxyAdapter } from '../runtime/adapter.js';
import type { TrafficWindow, UpstreamFigures } from '../runtime/figures.js';
import { appliedProxyConfig, runningProxyPid } from '../runtime/haproxy/apply.js';
import { renderLuaFile } from '../runtime/haproxy/lua.js';
import { pickMapFile } from '../runtime/haproxy/route-state.js';
import { RuntimeApi } from '../runtime/haproxy/runtime-api.js';
import { AccessLogTail, figuresByUpstream, isTrafficLine } from '../runtime/haproxy/traffic.js';
import type { CompiledProxy, CompiledRoute } from '../runtime/haproxy/types.js';
import { readRouteWeights as servedRouteWeights } from '../runtime/haproxy/weights.js';
import { ShiftStore } from '../shift/store.js';
import { writeFileAtomic } from '../system/atomic-file.js';
import {
  CANARY_ROUTE,
  WeightWriteError,
  type AppliedPolicy,
  type MeshProxy,
  type MeshResource,
  type MeshTarget,
  type ProxyReadOptions,
  type ProxyStatusOptions,
  type ProxyStatusReport,
  type RouteRef,
  type ServedWeights,
  type ShiftRecordStore,
  type TrafficReader,
  type Weights,
  type WriteReport,
} from './target.js';

/** The shifted route inside one compiled proxy (its index moves by one while a canary route precedes it). */
export function shiftedRoute(compiled: CompiledProxy, route: RouteRef): CompiledRoute | undefined {
  const mine = compiled.routes.filter((r) => r.virtualService && r.virtualService.namespace === route.virtualService.namespace && r.virtualService.name === route.virtualService.name);
  if (route.name) {
    const named = mine.filter((r) => r.virtualService!.routeName === route.name);
    if (named.length === 1) return named[0];
  }
  const canary = mine.find((r) => r.virtualService!.routeName === CANARY_ROUTE);
  const index = route.index + (canary && canary.virtualService!.index <= route.index ? 1 : 0);
  return mine.find((r) => r.virtualService!.index === index);
}

/** The key a shift's weights give a destination of the route (null: not one of the shifted ones). */
function weightKey(d: { host: string; subset: string }, ref: RouteRef): string | null {
  if (ref.backends) return ref.backends[d.host] ?? null;
  return d.host === ref.host ? d.subset : null;
}

function weightsOf(destinations: { host: string; subset: string; weight: number }[], ref: RouteRef): Weights {
  const out: Weights = {};
  for (const d of destinations) {
    const key = weightKey(d, ref);
    if (key !== null) out[key] = (out[key] ?? 0) + d.weight;
  }
  return out;
}

function luaRoutes(compiled: CompiledProxy) {
  return compiled.routes.filter((r) => r.weighted && r.destinations.length > 1).map((r) => ({ id: r.id, backends: r.destinations.map((d) => d.backend), weights: r.destinations.map((d) => d.weight) }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The proxies of a local mesh read their traffic from their access logs. */
class AccessLogTraffic implements TrafficReader {
  private readonly tail: AccessLogTail;

  constructor(private readonly proxies: () => Promise<LocalProxy[]>, host?: string) {
    this.tail = new AccessLogTail(isTrafficLine(host));
  }

  async startNow(): Promise<void> {
    await this.tail.startAtEnd((await this.proxies()).map((p) => p.paths.accessLog));
  }

  async figures(window: TrafficWindow, options: { host?: string; mirrored?: boolean } = {}): Promise<UpstreamFigures[]> {
    const entries = await this.tail.since((await this.proxies()).map((p) => p.paths.accessLog), window.sinceMs);
    const figures = figuresByUpstream(entries, window, { mirrored: options.mirrored });
    return options.host === undefined ? figures : figures.filter((f) => f.host === options.host);
  }
}

export class LocalTarget implements MeshTarget {
  readonly location: string;

  constructor(readonly layout: HomeLayout) {
    this.location = layout.root;
  }

  async installed(): Promise<boolean> {
    return (await readMeshConfigFile(this.layout).catch(() => null)) !== null;
  }

  protected async localProxies(): Promise<LocalProxy[]> {
    return (await this.installed()) ? readLocalProxies(this.layout) : [];
  }

  async proxies(): Promise<MeshProxy[]> {
    return (await this.localProxies()).map((p) => ({ name: p.name, namespace: p.namespace, kind: p.kind, workload: p.workload, labels: p.labels }));
  }

  async applied(): Promise<AppliedPolicy> {
    const { revision, resources } = await readApplied(this.layout);
    return { revision, resources };
  }

  async apply(resources: MeshResource[], options: { shiftHost?: string } = {}): Promise<void> {
    const { call } = await import('../mesh/agent/client.js');
    await call(this.layout, 'apply', { action: 'apply', resources, wait: false, timeoutMs: 60_000, ...(options.shiftHost ? { shiftHost: options.shiftHost } : {}) }, 90_000);
  }

  async routedUpstreams(): Promise<{ host: string; subset: string }[]> {
    const compiled = await Promise.all((await this.localProxies()).map((p) => fs.readFile(p.paths.state, 'utf8').then((t) => JSON.parse(t) as CompiledProxy, () => null)));
    const seen = new Map<string, { host: string; subset: string }>();
    for (const c of compiled) for (const r of c?.routes ?? []) for (const d of r.destinations) seen.set(`${d.host}|${d.subset}`, { host: d.host, subset: d.subset });
    return [...seen.values()];
  }

  /** The proxies whose configuration has the route, with that configuration. */
  private async carriers(ref: RouteRef): Promise<{ proxy: LocalProxy; compiled: CompiledProxy; route: CompiledRoute }[]> {
    const out: { proxy: LocalProxy; compiled: CompiledProxy; route: CompiledRoute }[] = [];
    await Promise.all((await this.localProxies()).map(async (proxy) => {
      const compiled = await appliedProxyConfig(proxy);
      const route = compiled ? shiftedRoute(compiled, ref) : undefined;
      if (compiled && route && route.destinations.length) out.push({ proxy, compiled, route });
    }));
    return out.sort((a, b) => a.proxy.name.localeCompare(b.proxy.name));
  }

  async routeCarriers(ref: RouteRef): Promise<string[]> {
    return (await this.carriers(ref)).map((c) => c.proxy.name);
  }

  async readRouteWeights(ref: RouteRef): Promise<ServedWeights[]> {
    return Promise.all((await this.carriers(ref)).map(async ({ proxy, compiled, route }): Promise<ServedWeights> => {
      // A route with one destination is not weighted: all its traffic goes there.
      if (!route.weighted || route.destinations.length < 2) return { proxy: proxy.name, kind: proxy.kind, weights: weightsOf(route.destinations, ref), error: null };
      try {
        const served = await servedRouteWeights(proxy, compiled);
        const r = served.routes.find((x) => x.routeId === route.id);
        if (!r) return { proxy: proxy.name, kind: proxy.kind, weights: null, error: `does not serve route ${route.id}` };
        return { proxy: proxy.name, kind: proxy.kind, weights: weightsOf(r.destinations, ref), error: null };
      } catch (err) {
        return { proxy: proxy.name, kind: proxy.kind, weights: null, error: (err as Error).message.replace(/\.$/, '') };
      }
    }));
  }

  async writeRouteWeights(ref: RouteRef, weights: Weights): Promise<WriteReport> {
    const report: WriteReport = { served: [], notRunning: [] };
    await Promise.all((await this.carriers(ref)).map(async ({ proxy, compiled, route }) => {
      if (!route.weighted || route.destinations.length < 2) return;
      const vector = route.destinations.map((d) => { const key = weightKey(d, ref); return key !== null ? weights[key] ?? 0 : d.weight; });
      if (vector.every((w) => w === 0)) throw new WeightWriteError(`Weights ${JSON.stringify(weights)} leave route ${route.id} without a destination.`);
      const next: CompiledProxy = {
        ...compiled,
        routes: compiled.routes.map((r) => (r.id === route.id ? { ...r, destinations: r.destinations.map((d, i) => ({ ...d, weight: vector[i]! })) } : r)),
      };
      next.lua = renderLuaFile(next.revision, luaRoutes(next), pickMapFile(proxy.paths.dir));
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

  traffic(options: { host?: string } = {}): TrafficReader {
    return new AccessLogTraffic(() => this.localProxies(), options.host);
  }

  /** Endpoints outlier detection has ejected now, by `upstreamKey(host, subset)`. */
  async ejectedEndpoints(): Promise<Map<string, number>> {
    const { ejectedEndpoints } = await import('../runtime/haproxy/ejections.js');
    return ejectedEndpoints(await this.localProxies());
  }

  async prometheusUrl(): Promise<string | null> {
    const settings = await readPrometheusSettings(this.layout).catch(() => null);
    return settings && (await prometheusReady(prometheusUrl(settings))) ? prometheusUrl(settings) : null;
  }

  async proxyAdmin(name: string, options: ProxyReadOptions = {}): Promise<ProxyAdapter> {
    const mesh = await readLocalMesh(this.layout.root);
    const proxy = mesh.proxies.find((p) => p.name === name);
    if (!proxy) throw usageError(`There is no proxy named "${name}" in the mesh at ${this.location} (proxies: ${mesh.proxies.map((p) => p.name).join(', ') || 'none'}).`);
    return localAdapter(mesh, proxy, options);
  }

  async proxyStatus(options: ProxyStatusOptions = {}): Promise<ProxyStatusReport> {
    return proxyStatusOf(await readLocalMesh(this.layout.root), options);
  }

  shiftRecords<R, Q extends { id: string }>(host: string): ShiftRecordStore<R, Q> {
    // The local home keeps every shift's record as a file beside the mesh state, under the home's lock.
    return new ShiftStore(this.layout, host) as unknown as ShiftRecordStore<R, Q>;
  }
}
