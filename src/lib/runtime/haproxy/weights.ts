// Reading the route weights a proxy serves, by destination host and subset (what a traffic shift
// checks after every step).
import type { CompiledProxy, ProxyTarget } from './types.js';
import { appliedProxyConfig } from './apply.js';
import { RuntimeApi } from './runtime-api.js';

export interface ServedRouteWeights {
  routeId: string;
  virtualService: { namespace: string; name: string; index: number } | null;
  destinations: { backend: string; host: string; subset: string; weight: number }[];
}

/**
 * The weights a running proxy serves for each weighted route (from its Lua state through the
 * runtime API), named by destination host and subset from the compiled config (`compiled`, else
 * the proxy's applied state file). Also returns the revision the proxy reports.
 */
export async function readRouteWeights(target: ProxyTarget, compiled?: CompiledProxy | null): Promise<{ revision: number; routes: ServedRouteWeights[] }> {
  const config = compiled ?? (await appliedProxyConfig(target));
  const state = await new RuntimeApi(target.paths.runtimeSocket).meshState();
  const routes: ServedRouteWeights[] = [];
  for (const [routeId, served] of state.routes) {
    const route = config?.routes.find((r) => r.id === routeId);
    routes.push({
      routeId,
      virtualService: route?.virtualService ? { namespace: route.virtualService.namespace, name: route.virtualService.name, index: route.virtualService.index } : null,
      destinations: served.map((s) => {
        const d = route?.destinations.find((x) => x.backend === s.backend);
        return { backend: s.backend, host: d?.host ?? '', subset: d?.subset ?? '', weight: s.weight };
      }),
    });
  }
  return { revision: state.revision, routes };
}
