// The seam between meshctl's commands and a running mesh. A command opens a target and asks it (the
// proxies, the applied policy, a route's weights, traffic figures, a proxy's admin model, where a shift
// keeps its record); it never reads a mesh home or a cluster itself. The local mesh (local.ts) is the
// first implementation; one for Kubernetes answers the same questions through the API server. Nothing
// here is particular to HAProxy, to Envoy, to a mesh home or to a cluster.
import type { ProxyStatusOptions, ProxyStatusReport } from '../mesh/proxy-status.js';
import type { StoredResource } from '../mesh/state.js';
import type { ProxyAdapter } from '../runtime/adapter.js';
import type { TrafficWindow, UpstreamFigures } from '../runtime/figures.js';

export type { ProxyStatusOptions, ProxyStatusReport };

/** A route's weights by subset (0–100). */
export type Weights = Record<string, number>;

/** The name of the route a header-canary step puts before the shifted route. */
export const CANARY_ROUTE = 'meshctl-canary';

/** Weights a proxy could not be given (they would leave a route without a destination, or it refused them). */
export class WeightWriteError extends Error {
  override name = 'WeightWriteError';
}

export interface MeshProxy {
  name: string;
  namespace: string;
  kind: 'sidecar' | 'gateway';
  /** The workload a pod replicates; null for a gateway proxy. */
  workload: string | null;
  labels: Record<string, string>;
}

/** A resource as the mesh holds it: a Kubernetes object, its namespace filled in. */
export type MeshResource = StoredResource;

export interface AppliedPolicy {
  /** The revision (local) or resource version (Kubernetes) the resources were read at. */
  revision: number;
  /** How a report names this side when not by revision (a cluster: its context). */
  label?: string;
  resources: MeshResource[];
}

/** One http route of a VirtualService, as a shift names it. */
export interface RouteRef {
  /** The destination host whose subsets the route splits, fully qualified. */
  host: string;
  virtualService: { namespace: string; name: string };
  /** Position in the VirtualService's http list, not counting a header-canary route. */
  index: number;
  /** The route's name ('' when unnamed). */
  name: string;
  /**
   * An HTTPRoute's rule splits between backend Services rather than subsets of `host`: the weights are
   * keyed by backend name, and this maps each backend's host to it.
   */
  backends?: Record<string, string>;
  /** An HTTPRoute's rule shifted (where a cluster writes its weights; the local mesh compiles it into `virtualService`). */
  httpRoute?: { namespace: string; name: string; rule: number };
}

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
  /** Proxies that do not run now: they serve the new weights once they start. */
  notRunning: string[];
}

/**
 * The traffic figures of a mesh's proxies (the runtime's one pipeline), read incrementally: what was
 * read is kept between calls, and windows move forward.
 */
export interface TrafficReader {
  /** Counts only requests from now on (before a shift's first window). */
  startNow(): Promise<void>;
  /**
   * Per destination (host, subset) figures of the requests the proxies sent that started in the
   * window; `host` keeps one destination host, `mirrored` the mirrored copies instead.
   */
  figures(window: TrafficWindow, options?: { host?: string; mirrored?: boolean }): Promise<UpstreamFigures[]>;
}

/** Where a mesh keeps the record of the shift of one host, and the requests to the process running it. */
export interface ShiftRecordStore<R, Q extends { id: string }> {
  read(): Promise<R | null>;
  /** Atomic: a reader sees the previous record or this one, never a torn one. */
  write(record: R): Promise<void>;
  remove(): Promise<void>;
  /** Runs `fn` holding the mesh's lock, the one its control plane applies under, so that weights never interleave. */
  locked<T>(fn: () => Promise<T>, timeoutMs?: number): Promise<T>;
  readRequest(): Promise<Q | null>;
  writeRequest(request: Q): Promise<void>;
  /** Removes the request (only when it is still `id`'s, when given). */
  clearRequest(id?: string): Promise<void>;
}

export interface ProxyReadOptions {
  /** How long one proxy may take to answer. */
  timeoutMs?: number;
  now?: () => Date;
  /** Read stats twice, this far apart, for request rates (where the proxy's stats are counters). */
  rateWindowMs?: number;
}

export interface MeshTarget {
  /** Where the mesh is, as reports name it (a mesh home, a cluster context). */
  readonly location: string;
  /** False when there is no mesh there. */
  installed(): Promise<boolean>;
  /** Gateway proxies then sidecars, each sorted by name. */
  proxies(): Promise<MeshProxy[]>;
  /** The policy the mesh applied. */
  applied(): Promise<AppliedPolicy>;
  /**
   * Applies resources as the mesh's control plane does; resolves once every proxy serves them.
   * `shiftHost`: the shift of that host stores its own weights (a change the mesh refuses from others).
   */
  apply(resources: MeshResource[], options?: { shiftHost?: string }): Promise<void>;
  /** Every destination (host, subset) a proxy routes to, with or without traffic. */
  routedUpstreams(): Promise<{ host: string; subset: string }[]>;
  /** The proxies that carry the route, sorted. */
  routeCarriers(route: RouteRef): Promise<string[]>;
  /** The route's weights of `route.host`'s subsets, as each proxy that carries it serves them. */
  readRouteWeights(route: RouteRef): Promise<ServedWeights[]>;
  /** Sets the route's weights on every proxy that carries it; resolves once every running one serves them. */
  writeRouteWeights(route: RouteRef, weights: Weights): Promise<WriteReport>;
  /**
   * A reader of the proxies' traffic figures; with `host`, of the requests to that destination host only;
   * `hosts`: the destination hosts a reader that asks per host (Prometheus) asks about when `host` is not given.
   */
  traffic(options?: { host?: string; hosts?: string[] }): TrafficReader;
  /** The address of the Prometheus that scrapes the mesh's Istio metrics; null when none runs. */
  prometheusUrl?(): Promise<string | null>;
  /** One proxy's admin model (health, listeners, routes, clusters, endpoints, stats, certificates, config). */
  proxyAdmin(name: string, options?: ProxyReadOptions): Promise<ProxyAdapter>;
  /** Every proxy asked which revision it serves, whether it is ready, and when its certificate expires. */
  proxyStatus(options?: ProxyStatusOptions): Promise<ProxyStatusReport>;
  /**
   * What a shift resolves its route against when the applied policy does not hold it all (a cluster's
   * Services and running pods are not its applied policy); absent: the applied policy and the pods its
   * Workloads ask for.
   */
  routeContext?(): Promise<{ resources: MeshResource[]; pods: { namespace: string; labels: Record<string, string> }[] }>;
  /** Where the shift of `host` keeps its record. */
  shiftRecords<R, Q extends { id: string }>(host: string): ShiftRecordStore<R, Q>;
  /** Releases what reading the mesh left open (a cluster's port-forwards); the command calls it when it ends. */
  close?(): Promise<void>;
}
