// Where a shift's gates read their figures: the mesh's Prometheus (Flagger's Istio queries, promql.ts)
// when one runs or is named, else the proxies' access logs. The subsets are scoped by the workloads
// their DestinationRule labels select, as Flagger scopes a canary by its Deployment.
import { usageError } from '../errors.js';
import type { UpstreamFigures, TrafficWindow } from '../runtime/figures.js';
import { modelOf } from '../mesh/pods.js';
import { destinationRuleFor, serviceFor } from '../policy/mesh-model.js';
import { selectorMatches } from '../policy/selectors.js';
import type { MeshTarget } from '../target/target.js';
import { freshWindow, promqlFigures, promqlScalar, type PromqlScope, type ScrapeFreshness } from './promql.js';
import { MESH_SCRAPE_JOB } from '../mesh/addons/prometheus.js';

/** The mesh's Prometheus scrapes every proxy under one job: the gates read a window once it scraped them all past its end. */
const MESH_SCRAPE_FRESHNESS: ScrapeFreshness = { job: MESH_SCRAPE_JOB };
import { fillGateQuery } from './custom-gates.js';
import type { CustomGate } from './plan.js';
import type { ShiftRoute } from './route.js';

export type MetricsChoice = 'auto' | 'prometheus' | 'access-log';

/** The figures source of a shift: a Prometheus URL, or null for the access logs. */
export async function shiftPrometheusUrl(mesh: MeshTarget, choice: MetricsChoice = 'auto', url?: string): Promise<string | null> {
  if (choice === 'access-log') return null;
  if (url) return url;
  const running = (await mesh.prometheusUrl?.()) ?? null;
  if (choice === 'prometheus' && !running) {
    throw usageError('--metrics prometheus needs a Prometheus: run meshctl addons enable prometheus, or pass its address with --prometheus-url URL.');
  }
  return running;
}

/** The namespace and workloads whose pods `subset` of the route's host selects. */
export async function subsetScope(mesh: MeshTarget, route: ShiftRoute, subset: string): Promise<PromqlScope> {
  const model = modelOf((await mesh.applied()).resources);
  const dr = destinationRuleFor(model, route.host, route.virtualService.namespace);
  const namespace = /^[^.]+\.([^.]+)\.svc\./.exec(route.host)?.[1] ?? route.namespace;
  // An HTTPRoute shift's "subsets" are backend Services: their selectors scope them.
  const backendHost = route.httpRoute ? Object.keys(route.backends ?? {}).find((h) => route.backends![h] === subset) : undefined;
  const labels = backendHost ? serviceFor(model, backendHost)?.selector ?? {} : dr?.subsets.find((s) => s.name === subset)?.labels ?? {};
  const workloads = [...new Set((await mesh.proxies()).filter((p) => p.workload && p.namespace === namespace && selectorMatches(labels, p.labels)).map((p) => p.workload!))].sort();
  return { namespace, workloads };
}

/** Figures of the route's two subsets from Prometheus (the other upstreams of the host are not gated on). */
export function promqlRouteFigures(mesh: MeshTarget, route: ShiftRoute, url: string): (window: TrafficWindow) => Promise<UpstreamFigures[]> {
  return async (window) => Promise.all([route.from, route.to].map(async (subset) => {
    const scope = await subsetScope(mesh, route, subset);
    return { host: route.host, subset, ...(await promqlFigures(url, scope, window, MESH_SCRAPE_FRESHNESS)) };
  }));
}

/** The custom gates' values for the new subset over a window, from Prometheus. */
export function promqlCustomGates(mesh: MeshTarget, route: ShiftRoute, url: string): (gates: readonly CustomGate[], sinceMs: number, untilMs: number) => Promise<(number | null)[]> {
  return async (gates, sinceMs, untilMs) => {
    const scope = await subsetScope(mesh, route, route.to);
    const { atMs, range } = await freshWindow(url, { sinceMs, untilMs }, MESH_SCRAPE_FRESHNESS);
    return Promise.all(gates.map((g) => promqlScalar(url, fillGateQuery(g.query, scope, range), atMs)));
  };
}
