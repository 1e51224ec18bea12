// The normalized proxy model: what one sidecar knows about itself, in the same shape whether HAProxy or
// Envoy answered. Plain data only (JSON-safe), so `-o json` prints it as is. A value the proxy does not
// expose is null, and the reason is written beside it: never a zero that was not read.

export type RuntimeName = 'envoy' | 'haproxy';

export const SECTIONS = ['health', 'listeners', 'routes', 'clusters', 'endpoints', 'stats', 'certs', 'config'] as const;
export type Section = (typeof SECTIONS)[number];

/** Where a snapshot was read from. */
export interface ProxySource {
  runtime: RuntimeName;
  /** admin: a live admin API; config-dump: a saved Envoy /config_dump; metrics: a saved metrics scrape; local: a local mesh pod. */
  kind: 'admin' | 'config-dump' | 'metrics' | 'local';
  /** The URL, file or pod that was read. */
  target: string;
}

// ---------------------------------------------------------------- health

/** Envoy's server states (the `server.state` gauge: LIVE=0, DRAINING=1, PRE_INITIALIZING=2, INITIALIZING=3). */
export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';

export interface Health {
  /** Ready to take traffic; null when the source cannot say (a saved config dump). */
  ready: boolean | null;
  /** One sentence: why ready or not, or why unknown. */
  reason: string;
  state: ServerState | null;
  uptimeSeconds: number | null;
  runtime: RuntimeName;
  /** The proxy's build, e.g. "1.31.0/Clean/RELEASE/BoringSSL"; null when the source names none. */
  version: string | null;
  /** The mesh distribution the proxy belongs to, when its bootstrap says (Istio, Kuma…). */
  mesh: MeshBuild | null;
  config: ConfigRevision;
}

export interface MeshBuild {
  name: 'istio' | 'kuma' | string;
  version: string | null;
  /** Istio's proxy build SHA (ISTIO_PROXY_SHA). */
  proxySha: string | null;
}

export interface ConfigRevision {
  /** The revision the proxy serves (Envoy: version_info of its listeners or clusters). */
  served: string | null;
  /** The revision the control plane applied, when known. */
  applied: string | null;
  /** SYNCED when served = applied, STALE when not, UNKNOWN when either side is unknown. */
  status: 'SYNCED' | 'STALE' | 'UNKNOWN';
  /** version_info per xDS type, as the proxy reports it. */
  byType: Record<string, string>;
}

// ---------------------------------------------------------------- listeners

export interface Listener {
  /** Empty for Envoy listeners that have none (static bootstrap listeners). */
  name: string;
  /** Socket address; empty for an Envoy internal listener. */
  address: string;
  additionalAddresses: string[];
  /** Null when the listener has no socket (Envoy internal listeners). */
  port: number | null;
  internal: boolean;
  /** HTTP when every chain is HTTP, TCP when every chain proxies TCP, HTTP+TCP, or UNKNOWN. */
  protocol: 'HTTP' | 'TCP' | 'HTTP+TCP' | 'UNKNOWN';
  direction: 'INBOUND' | 'OUTBOUND' | null;
  filterChains: FilterChainSummary[];
}

export interface FilterChainSummary {
  name: string | null;
  /** What the chain matches: "ALL", "SNI: …", "Trans: tls", "App: HTTP", "Addr: 10.0.0.0/8:9080", joined with "; ". */
  match: string;
  /** Where it sends traffic: "Cluster: NAME", "Route: NAME", "Inline Route: /healthz/ready*", "Non-HTTP/Non-TCP". */
  destination: string;
}

// ---------------------------------------------------------------- routes

export interface RouteConfig {
  /** The route configuration's name; empty for unnamed inline or static ones. */
  name: string;
  source: 'dynamic' | 'static';
  virtualHosts: VirtualHost[];
}

export interface VirtualHost {
  name: string;
  domains: string[];
  routes: Route[];
}

export interface Route {
  name: string | null;
  /** "/reviews*" (prefix), "/exact" (path), "PathPrefix:/get", "regex …"; headers are not summarized. */
  match: string;
  /** allow = route to destinations; redirect; direct_response; filter_action; unknown. */
  action: 'route' | 'redirect' | 'direct_response' | 'filter_action' | 'unknown';
  destinations: RouteDestination[];
  /** "name.namespace" of the Istio VirtualService the route came from, when it says. */
  virtualService: string | null;
  /** Istio's PassthroughCluster route: traffic to unknown hosts. */
  passthrough: boolean;
}

export interface RouteDestination {
  cluster: string;
  /** Weight as configured; null for a single destination (all traffic). */
  weight: number | null;
}

// ---------------------------------------------------------------- clusters

export interface Cluster {
  name: string;
  /** Service FQDN when the name is an Istio subset key (direction|port|subset|host). */
  host: string | null;
  subset: string | null;
  port: number | null;
  direction: string | null;
  /** Discovery type: STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST, or a custom cluster type's name. */
  type: string | null;
  /** "name.namespace" of the Istio DestinationRule behind the cluster, when it says. */
  destinationRule: string | null;
  circuitBreakers: CircuitBreakers | null;
  outlierDetection: boolean | null;
  /** Endpoints the proxy knows for this cluster right now; null when the source does not list them. */
  endpointCount: number | null;
}

export interface CircuitBreakers {
  thresholds: CircuitBreakerThreshold[];
  /** open when any breaker of the cluster tripped; null (with stateReason) when the proxy does not expose it. */
  state: 'closed' | 'open' | null;
  /** The breakers that are open, e.g. ["default.rq_pending_open"]. */
  open: string[];
  stateReason: string | null;
}

export interface CircuitBreakerThreshold {
  priority: 'DEFAULT' | 'HIGH';
  maxConnections: number | null;
  maxPendingRequests: number | null;
  maxRequests: number | null;
  maxRetries: number | null;
  /** True when the values are Envoy's built-in defaults because the config sets none. */
  defaulted: boolean;
}

// ---------------------------------------------------------------- endpoints

/** What meshctl concludes about an endpoint. */
export type EndpointHealth = 'healthy' | 'ejected' | 'failing_health_check' | 'draining' | 'down' | 'unknown';

export interface Endpoint {
  cluster: string;
  /** IP or hostname, a unix socket path, or envoy://listener/id for an internal address. */
  address: string;
  port: number | null;
  weight: number | null;
  health: EndpointHealth;
  /** The proxy's own flags behind `health` (Envoy's health_flags names, e.g. failed_outlier_check). */
  flags: string[];
  /** The control plane's word on the endpoint (EDS health_status: HEALTHY, UNHEALTHY, DRAINING, TIMEOUT, DEGRADED, UNKNOWN). */
  edsHealthStatus: string | null;
  activeConnections: number | null;
  activeRequests: number | null;
  /** region/zone/subzone. */
  locality: string;
  hostname: string | null;
  priority: number | null;
}

// ---------------------------------------------------------------- stats

export interface Stats {
  /** One row per upstream cluster, in the proxy's order. */
  upstreams: TrafficStats[];
  /** Traffic received by the proxy's own listeners (inbound to the workload), or null with a reason in `notes`. */
  inbound: TrafficStats | null;
  /** Where the numbers came from, e.g. "/stats?format=json". */
  source: string;
  /** Sentences that apply to the whole section (e.g. Istio's stats matcher). */
  notes: string[];
}

export interface TrafficStats {
  /** Cluster name for an upstream; "inbound" for the inbound aggregate. */
  name: string;
  direction: 'inbound' | 'outbound';
  host: string | null;
  subset: string | null;
  requests: number | null;
  /** Requests per second over the last minute. */
  ratePerSecond: number | null;
  responses: { '2xx': number | null; '3xx': number | null; '4xx': number | null; '5xx': number | null };
  /** Non-5xx over all responses, in percent. */
  successRate: number | null;
  latencyMs: { p50: number | null; p90: number | null; p99: number | null };
  retries: number | null;
  ejections: number | null;
  /**
   * What the resilience and security policy did, where the runtime's access log tells it (top's figures
   * for the same requests): requests retried, refused by an AuthorizationPolicy (403), a rate limit (RL),
   * a connection pool (UO), cut at a timeout (UT), without a route (NR), failed upstream (UF, UC, UH, URX);
   * and the endpoints outlier detection has ejected now (null for inbound traffic).
   */
  resilience?: { retried: number; overflows: number; rateLimited: number; denied: number; timeouts: number; noRoute: number; upstreamFailures: number; ejected: number | null };
  /** For each field that is null, why (keys are field paths like "latencyMs.p99"). */
  missing: Record<string, string>;
}

// ---------------------------------------------------------------- certs

export interface Certificate {
  /** The secret or file the certificate came from ("default", "ROOTCA", a path). */
  resource: string;
  /** Null when the slot holds no readable certificate (a secret still warming). */
  kind: 'cert_chain' | 'ca' | null;
  /** ACTIVE, WARMING (requested, not yet delivered) or UNINITIALIZED. */
  status: 'ACTIVE' | 'WARMING' | 'UNINITIALIZED';
  spiffeId: string | null;
  trustDomain: string | null;
  subject: string | null;
  issuer: string | null;
  /** Lower-case hex. */
  serial: string | null;
  /** ISO-8601, second precision, UTC. */
  notBefore: string | null;
  notAfter: string | null;
  /** Seconds until notAfter when read; negative once expired. */
  secondsLeft: number | null;
  /** now is within [notBefore, notAfter]. */
  valid: boolean;
  /** Certificates in the chain or bundle, the first of which is described here. */
  chainLength: number;
  /** For fields that are null although a certificate exists: why. */
  missing: Record<string, string>;
}

// ---------------------------------------------------------------- the snapshot

export interface ProxySnapshot {
  source: ProxySource;
  /** When the proxy was read (ISO-8601). */
  readAt: string;
  sections: Section[];
  health?: Health | null;
  listeners?: Listener[] | null;
  routes?: RouteConfig[] | null;
  clusters?: Cluster[] | null;
  endpoints?: Endpoint[] | null;
  stats?: Stats | null;
  certs?: Certificate[] | null;
  /** The proxy's effective configuration, raw (Envoy: the /config_dump document). */
  config?: unknown;
  /** For each requested section that is null: why the source cannot provide it. */
  unavailable: Partial<Record<Section, string>>;
}

/** Splits an Istio cluster name "direction|port|subset|host" (e.g. outbound|9080|v1|reviews.default.svc.cluster.local). */
export function parseSubsetKey(name: string): { direction: string; port: number; subset: string; host: string } | null {
  const parts = name.split('|');
  if (parts.length < 4) return null;
  const port = Number.parseInt(parts[1] ?? '', 10);
  return { direction: parts[0] ?? '', port: Number.isFinite(port) ? port : 0, subset: parts[2] ?? '', host: parts[3] ?? '' };
}
