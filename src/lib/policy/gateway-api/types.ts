// What an HTTPRoute rule asks of the data plane beyond what a VirtualService route carries: the
// Gateway API's own redirect, URL rewrite and timeout semantics, and the backends it refers to that
// do not resolve. The mesh model keeps these beside the route (HttpRoute.gatewayApi); the HAProxy
// compiler turns them into rules in runtime/haproxy/gateway-api-filters.ts. Beside them, what tells a
// route bound to Services (GAMMA) from one bound to a Gateway.

export type PathModifier = { type: 'ReplaceFullPath'; value: string } | { type: 'ReplacePrefixMatch'; value: string };

export interface GatewayApiRedirect {
  scheme: string | null;
  hostname: string | null;
  port: number | null;
  path: PathModifier | null;
  statusCode: number;
  /** The port the parent listens on as declared (listener or Service port): a redirect without scheme or port keeps it. */
  parentPort: number;
}

export interface GatewayApiRewrite {
  hostname: string | null;
  path: PathModifier | null;
}

export interface GatewayApiCors {
  allowOrigins: string[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  allowCredentials: boolean;
  maxAgeSeconds: number;
}

export interface GatewayApiRouteExtras {
  /** The prefix the route's one match tests (segment-wise), '' for none: ReplacePrefixMatch replaces it. */
  matchedPrefix: string | null;
  redirect: GatewayApiRedirect | null;
  rewrite: GatewayApiRewrite | null;
  cors: GatewayApiCors | null;
  /** Destinations (by position) whose backendRef is invalid: their share of requests is answered 500. */
  invalidDestinations: number[];
  /** A backendRef's own RequestRedirect and URLRewrite filters, by destination position. */
  destinationFilters: { redirect: GatewayApiRedirect | null; rewrite: GatewayApiRewrite | null }[];
}

/** Why a backendRef does not resolve (the ResolvedRefs reasons). */
export type BackendProblem = 'InvalidKind' | 'RefNotPermitted' | 'BackendNotFound';

/** A parentRef naming a Service (GAMMA): group "" (or "core") and kind Service; an absent group is the Gateway API's. */
export function namesService(ref: { group?: unknown; kind?: unknown }): boolean {
  return (ref.group === '' || ref.group === 'core') && ref.kind === 'Service';
}

/**
 * A route bound to Services alone: it only adds to what its callers reach already, so its backendRefs
 * may name a Service of any namespace without a ReferenceGrant (GEP-1294). A route bound to a Gateway
 * too exposes what it names, and needs one.
 */
export function boundToServicesAlone(parentRefs: { group?: unknown; kind?: unknown }[]): boolean {
  return parentRefs.length > 0 && parentRefs.every(namesService);
}
