// The route specs of the local mesh's model: a VirtualService's http routes and an Istio Gateway's
// servers, which the Gateway API translation (gateway-api/translate.ts) produces too. mesh-model.ts
// re-exports them; they sit here so that the translation reads them without an import cycle.
import type { Resource } from './load.js';
import type { GatewayApiRouteExtras } from './gateway-api/types.js';

export type StringMatch = { exact: string } | { prefix: string } | { regex: string };

export interface HttpMatch {
  uri?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  /** Lower-case header name → match. */
  headers: Record<string, StringMatch>;
  withoutHeaders: Record<string, StringMatch>;
  queryParams: Record<string, StringMatch>;
  ignoreUriCase: boolean;
}

export interface HeaderOperations {
  set: Record<string, string>;
  add: Record<string, string>;
  remove: string[];
}

export interface RouteHeaders {
  request: HeaderOperations;
  response: HeaderOperations;
}

export interface RouteDestination {
  /** The host as written. */
  host: string;
  /** The host resolved against the VirtualService's namespace. */
  fqdn: string;
  subset: string;
  port: number | null;
  weight: number;
  headers: RouteHeaders;
}

export interface HttpRoute {
  name: string;
  /** Position in the VirtualService's `http` list. */
  index: number;
  match: HttpMatch[];
  route: RouteDestination[];
  rewrite: { uri?: string; authority?: string } | null;
  headers: RouteHeaders;
  timeoutMs: number | null;
  /** As written (absent: null, Istio's default policy); `retryOn` null when not given. See policy/retry-conditions.ts. */
  retries: { attempts: number; retryOn: string[] | null; perTryTimeoutMs: number | null } | null;
  redirect: { uri?: string; authority?: string; code: number } | null;
  directResponse: { status: number; body: string } | null;
  /** Fault injection: a delay and/or an abort, each for a percentage (0–100) of the route's requests. */
  fault: { delayMs: number | null; delayPercent: number; abortStatus: number | null; abortPercent: number } | null;
  /** Traffic mirroring (`mirror` + `mirrorPercentage`, or `mirrors`): where copies of the route's requests go. */
  mirrors: RouteMirror[];
  /** What an HTTPRoute rule asks beyond a VirtualService route (absent for VirtualServices). */
  gatewayApi?: GatewayApiRouteExtras;
}

export interface RouteMirror {
  /** The host as written. */
  host: string;
  /** The host resolved against the VirtualService's namespace. */
  fqdn: string;
  subset: string;
  port: number | null;
  /** Share of the route's requests copied, 0–100 (100 when not given, as in Istio). */
  percent: number;
}

export interface VirtualServiceSpec {
  name: string;
  namespace: string;
  hosts: string[];
  /** `mesh`, or `<namespace>/<name>` of a Gateway. */
  gateways: string[];
  /** Routes of an HTTPRoute attached to a Gateway listener: the listener's port (absent: every port of the gateway). */
  gatewayPort?: number;
  /**
   * Routes of HTTPRoutes in a namespace other than their Service's (GAMMA consumer routes): they apply
   * to the clients of that namespace alone, and for them ahead of the Service's own routes.
   */
  consumerNamespace?: string;
  /** Routes of HTTPRoutes whose Service parentRef names a port: they apply to requests to that port of the Service alone. */
  servicePort?: number;
  /**
   * servicePort is the port a call that names none goes to: the Service's port 80, or its first port
   * when it has no port 80 (local apps call a Service by name alone).
   */
  servicePortIsDefault?: boolean;
  http: HttpRoute[];
  resource: Resource;
}

export interface GatewayServerSpec {
  port: number;
  protocol: string;
  /** Hosts with any `namespace/` prefix removed. */
  hosts: string[];
}

export interface GatewaySpec {
  name: string;
  namespace: string;
  selector: Record<string, string>;
  servers: GatewayServerSpec[];
  resource: Resource;
}
