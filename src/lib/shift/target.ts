// What a shift drives: the proxies that carry the shifted route (read the weights they serve, write new
// weights to every one of them, read the figures of the requests they sent) and the applied
// VirtualService that records the weights: the shift's view on a mesh target, for one route.
import { isDeepStrictEqual } from 'node:util';
import { environmentError } from '../errors.js';
import type { UpstreamFigures } from '../runtime/figures.js';
import type { MeshTarget, ServedWeights, WriteReport } from '../target/target.js';
import type { Weights } from './plan.js';
import { promqlCustomGates, promqlRouteFigures } from './promql-target.js';
import type { CustomGate } from './plan.js';
import { findVirtualService, routeResourceLabel, storedWeights, withShiftWeights, type ShiftRoute } from './route.js';
import { findHttpRoute, withHttpRouteWeights } from './http-route.js';

export { WeightWriteError, type ServedWeights, type WriteReport } from '../target/target.js';

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
  /** The values of custom gates' queries for the new subset over the window (null: no series); absent without Prometheus. */
  customGateValues?(gates: readonly CustomGate[], sinceMs: number, untilMs: number): Promise<(number | null)[]>;
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

/** The shift's view on a mesh: the target's calls, for one route. */
export function shiftTarget(mesh: MeshTarget, route: ShiftRoute, options: { prometheusUrl?: string | null } = {}): ShiftTarget {
  // An HTTPRoute's requests go to its backend Services' hosts; its figures are those, keyed by backend name.
  const backends = route.backends;
  const traffic = mesh.traffic(backends ? { hosts: Object.keys(backends) } : { host: route.host });
  const asShifted = (figures: UpstreamFigures[]): UpstreamFigures[] => (backends
    ? figures.filter((f) => backends[f.host] !== undefined).map((f) => ({ ...f, host: route.host, subset: backends[f.host] }))
    : figures);
  // Istio's metrics never see a mirrored copy: the copies are judged from the access logs.
  const fromPrometheus = options.prometheusUrl ? promqlRouteFigures(mesh, route, options.prometheusUrl) : null;
  return {
    proxies: () => mesh.routeCarriers(route),
    readWeights: () => mesh.readRouteWeights(route),
    writeWeights: (weights) => mesh.writeRouteWeights(route, weights),
    startReading: () => traffic.startNow(),
    ...(options.prometheusUrl ? { customGateValues: promqlCustomGates(mesh, route, options.prometheusUrl) } : {}),
    readFigures: async (sinceMs, untilMs, read = {}) => (fromPrometheus && !read.mirrored
      ? fromPrometheus({ sinceMs, untilMs })
      : asShifted(await traffic.figures({ sinceMs, untilMs }, { ...(backends ? {} : { host: route.host }), mirrored: read.mirrored }))),
    storedWeights: async () => storedWeights((await mesh.applied()).resources, route),
    async storeWeights(weights, header, mirror) {
      if (route.httpRoute) {
        const stored = findHttpRoute((await mesh.applied()).resources, route.httpRoute);
        if (!stored) throw environmentError(`${routeResourceLabel(route)} is no longer applied, so the shift cannot record its weights; abort it with meshctl route abort ${route.hostArg}.`);
        const next = withHttpRouteWeights(stored, route, weights);
        if (!isDeepStrictEqual(next, stored)) await mesh.apply([next], { shiftHost: route.host });
        return;
      }
      const vs = findVirtualService((await mesh.applied()).resources, route.virtualService);
      if (!vs) throw environmentError(`VirtualService ${route.virtualService.namespace}/${route.virtualService.name} is no longer applied, so the shift cannot record its weights; abort it with meshctl route abort ${route.hostArg}.`);
      const next = withShiftWeights(vs, route, weights, header, mirror);
      if (!isDeepStrictEqual(next, vs)) await mesh.apply([next], { shiftHost: route.host });
    },
  };
}
