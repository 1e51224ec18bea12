// Envoy's /config_dump (live, or saved and read with --from-file) into the normalized model: listeners,
// routes, clusters, endpoints, certificates and the build/revision half of health. Rows come out in the
// order istioctl proxy-config prints them, so the two tools can be compared line by line.
import { usageError } from '../../errors.js';
import type {
  Certificate,
  CircuitBreakerThreshold,
  CircuitBreakers,
  Cluster,
  ConfigRevision,
  Endpoint,
  FilterChainSummary,
  Listener,
  MeshBuild,
  Route,
  RouteConfig,
  RouteDestination,
} from '../model.js';
import { parseSubsetKey } from '../model.js';
import { certificateFromPem, emptyCertificate } from '../x509.js';
import { endpointHealthFromFlags, edsStatusFlag } from './health-flags.js';
import {
  asArray,
  asNumber,
  asObject,
  asString,
  asWrappedNumber,
  describeAddress,
  describeLocality,
  field,
  path,
  typeName,
  type Json,
} from './proto-json.js';

/** A config dump split by resource type, with each resource's origin kept. */
export interface ConfigDump {
  raw: unknown;
  bootstrap: Json | null;
  clusters: { cluster: Json; dynamic: boolean }[];
  listeners: { listener: Json; dynamic: boolean }[];
  routeConfigs: { routeConfig: Json; dynamic: boolean }[];
  /** Null when the dump carries no EndpointsConfigDump (taken without ?include_eds). */
  loadAssignments: { assignment: Json; dynamic: boolean }[] | null;
  secrets: { name: string; secret: Json | null; status: 'ACTIVE' | 'WARMING' | 'UNINITIALIZED'; static: boolean }[];
  hasSecretsDump: boolean;
  versions: Record<string, string>;
}

/** Splits a parsed /config_dump document; `origin` (a file or URL) names it in errors. */
export function readConfigDump(doc: unknown, origin: string): ConfigDump {
  const configs = field(doc, 'configs');
  if (!Array.isArray(configs)) {
    throw usageError(`${origin} is not an Envoy config dump: it has no "configs" list (save one with \`curl localhost:15000/config_dump?include_eds\`).`);
  }
  const dump: ConfigDump = {
    raw: doc,
    bootstrap: null,
    clusters: [],
    listeners: [],
    routeConfigs: [],
    loadAssignments: null,
    secrets: [],
    hasSecretsDump: false,
    versions: {},
  };
  for (const config of configs) {
    const version = asString(field(config, 'version_info'));
    switch (typeName(config)) {
      case 'BootstrapConfigDump':
        dump.bootstrap = asObject(field(config, 'bootstrap'));
        break;
      case 'ClustersConfigDump':
        if (version) dump.versions.clusters = version;
        for (const c of asArray(field(config, 'static_clusters'))) pushIf(dump.clusters, asObject(field(c, 'cluster')), false);
        for (const c of asArray(field(config, 'dynamic_active_clusters'))) pushIf(dump.clusters, asObject(field(c, 'cluster')), true);
        break;
      case 'ListenersConfigDump':
        if (version) dump.versions.listeners = version;
        for (const l of asArray(field(config, 'dynamic_listeners'))) {
          const listener = asObject(path(l, 'active_state', 'listener'));
          if (listener) dump.listeners.push({ listener, dynamic: true });
        }
        for (const l of asArray(field(config, 'static_listeners'))) {
          const listener = asObject(field(l, 'listener'));
          if (listener) dump.listeners.push({ listener, dynamic: false });
        }
        break;
      case 'RoutesConfigDump':
        for (const r of asArray(field(config, 'dynamic_route_configs'))) {
          const routeConfig = asObject(field(r, 'route_config'));
          if (!routeConfig) continue;
          dump.routeConfigs.push({ routeConfig, dynamic: true });
          const v = asString(field(r, 'version_info'));
          if (v) dump.versions.routes = v;
        }
        for (const r of asArray(field(config, 'static_route_configs'))) {
          const routeConfig = asObject(field(r, 'route_config'));
          if (routeConfig) dump.routeConfigs.push({ routeConfig, dynamic: false });
        }
        break;
      case 'EndpointsConfigDump': {
        const list: { assignment: Json; dynamic: boolean }[] = (dump.loadAssignments ??= []);
        for (const e of asArray(field(config, 'dynamic_endpoint_configs'))) {
          const assignment = asObject(field(e, 'endpoint_config'));
          if (assignment) list.push({ assignment, dynamic: true });
          const v = asString(field(e, 'version_info'));
          if (v) dump.versions.endpoints = v;
        }
        for (const e of asArray(field(config, 'static_endpoint_configs'))) {
          const assignment = asObject(field(e, 'endpoint_config'));
          if (assignment) list.push({ assignment, dynamic: false });
        }
        break;
      }
      case 'SecretsConfigDump':
        dump.hasSecretsDump = true;
        // Warming first, then active: the order istioctl prints them in.
        for (const s of asArray(field(config, 'dynamic_warming_secrets'))) {
          dump.secrets.push({ name: asString(field(s, 'name')) ?? '', secret: asObject(field(s, 'secret')), status: 'WARMING', static: false });
        }
        for (const s of asArray(field(config, 'dynamic_active_secrets'))) {
          const status = asString(field(s, 'version_info')) === 'uninitialized' ? 'UNINITIALIZED' : 'ACTIVE';
          dump.secrets.push({ name: asString(field(s, 'name')) ?? '', secret: asObject(field(s, 'secret')), status, static: false });
        }
        for (const s of asArray(field(config, 'static_secrets'))) {
          dump.secrets.push({ name: asString(field(s, 'name')) ?? '', secret: asObject(field(s, 'secret')), status: 'ACTIVE', static: true });
        }
        break;
      default:
        break;
    }
  }
  return dump;
}

function pushIf(list: { cluster: Json; dynamic: boolean }[], cluster: Json | null, dynamic: boolean): void {
  if (cluster) list.push({ cluster, dynamic });
}

// ---------------------------------------------------------------- health (build and revision)

/** The Envoy build from the bootstrap node, e.g. "1.18.3/Clean/RELEASE/BoringSSL"; null when the node names none. */
export function envoyVersionOf(node: unknown): string | null {
  const build = field(node, 'user_agent_build_version');
  const version = field(build, 'version');
  if (version) {
    const major = asNumber(field(version, 'major_number')) ?? 0;
    const minor = asNumber(field(version, 'minor_number')) ?? 0;
    const patch = asNumber(field(version, 'patch')) ?? 0;
    const meta = asObject(field(build, 'metadata')) ?? {};
    const label = asString(meta['build.label']);
    let text = `${major}.${minor}.${patch}${label ? `-${label}` : ''}`;
    const details = [meta['revision.status'], meta['build.type'], meta['ssl.version']].map(asString).filter((x): x is string => !!x);
    if (details.length) text += `/${details.join('/')}`;
    return text;
  }
  const legacy = asString(field(node, 'build_version')) ?? asString(field(node, 'hidden_envoy_deprecated_build_version'));
  return legacy ? stripBuildSha(legacy) : null;
}

/** Envoy's build strings start with the commit ("sha/1.31.0/Clean/RELEASE/BoringSSL"): keep what follows it. */
export function stripBuildSha(version: string): string {
  const parts = version.split('/');
  return parts.length > 1 && /^[0-9a-f]{7,40}$/.test(parts[0]!) ? parts.slice(1).join('/') : version;
}

/** The mesh the proxy belongs to, from its node metadata (Istio's ISTIO_VERSION, Kuma's version block). */
export function meshBuildOf(node: unknown): MeshBuild | null {
  const meta = asObject(field(node, 'metadata'));
  if (!meta) return null;
  if ('ISTIO_VERSION' in meta || 'ISTIO_PROXY_SHA' in meta) {
    const sha = asString(meta.ISTIO_PROXY_SHA);
    return { name: 'istio', version: asString(meta.ISTIO_VERSION), proxySha: sha ? sha.replace(/^istio-proxy:/, '') : null };
  }
  const kuma = path(meta, 'version', 'kumaDp');
  if (kuma) return { name: 'kuma', version: asString(field(kuma, 'version')), proxySha: null };
  return null;
}

export function revisionOf(versions: Record<string, string>): ConfigRevision {
  return {
    served: versions.listeners ?? versions.clusters ?? null,
    applied: null,
    status: 'UNKNOWN',
    byType: { ...versions },
  };
}

// ---------------------------------------------------------------- listeners

const HTTP_CONNECTION_MANAGER = ['envoy.filters.network.http_connection_manager', 'envoy.http_connection_manager'];
const TCP_PROXY = ['envoy.filters.network.tcp_proxy', 'envoy.tcp_proxy'];

function filterKind(filter: unknown): 'http' | 'tcp' | 'other' {
  const name = asString(field(filter, 'name')) ?? '';
  const type = typeName(field(filter, 'typed_config'));
  if (HTTP_CONNECTION_MANAGER.includes(name) || type === 'HttpConnectionManager') return 'http';
  if (TCP_PROXY.includes(name) || type === 'TcpProxy') return 'tcp';
  return 'other';
}

/** A TCP proxy to Istio's BlackHoleCluster drops traffic: it does not make a listener a TCP listener. */
function isBlackHole(filter: unknown): boolean {
  return JSON.stringify(field(filter, 'typed_config') ?? {}).includes('BlackHoleCluster');
}

function filterChainsOf(listener: Json): unknown[] {
  const chains = [...asArray(field(listener, 'filter_chains'))];
  const fallback = field(listener, 'default_filter_chain');
  if (fallback) chains.push(fallback);
  return chains;
}

function protocolOf(chains: unknown[]): Listener['protocol'] {
  let http = 0;
  let tcp = 0;
  for (const chain of chains) {
    for (const filter of asArray(field(chain, 'filters'))) {
      const kind = filterKind(filter);
      if (kind === 'http') http++;
      else if (kind === 'tcp' && !isBlackHole(filter)) tcp++;
    }
  }
  if (http > 0) return tcp > 0 ? 'HTTP+TCP' : 'HTTP';
  return tcp > 0 ? 'TCP' : 'UNKNOWN';
}

const ALPN_NAMES: [string, string[]][] = [
  ['App: HTTP TLS', ['http/1.0', 'http/1.1', 'h2c', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']],
  ['App: Istio HTTP Plain', ['istio', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']],
  ['App: TCP TLS', ['istio-peer-exchange', 'istio']],
  ['App: HTTP', ['http/1.0', 'http/1.1', 'h2c']],
];

function describeChainMatch(chain: unknown): string {
  const match = field(chain, 'filter_chain_match') ?? {};
  const parts: string[] = [];
  const sni = asArray(field(match, 'server_names')).map(String);
  if (sni.length) parts.push(`SNI: ${sni.join(',')}`);
  const transport = asString(field(match, 'transport_protocol'));
  if (transport) parts.push(`Trans: ${transport}`);
  const alpn = asArray(field(match, 'application_protocols')).map(String);
  if (alpn.length) {
    const known = ALPN_NAMES.find(([, list]) => list.length === alpn.length && list.every((p, i) => p === alpn[i]));
    parts.push(known ? known[0] : `App: ${alpn.join(',')}`);
  }
  const destinationPort = asWrappedNumber(field(match, 'destination_port'));
  const port = destinationPort !== null ? `:${destinationPort}` : '';
  const ranges = asArray(field(match, 'prefix_ranges'));
  if (ranges.length) {
    const cidrs = ranges.map((r) => `${asString(field(r, 'address_prefix')) ?? ''}/${asWrappedNumber(field(r, 'prefix_len')) ?? 0}`);
    parts.push(`Addr: ${cidrs.join(',')}${port}`);
  } else if (port) {
    parts.push(`Addr: *${port}`);
  }
  return parts.length ? parts.join('; ') : 'ALL';
}

function clusterTarget(cluster: string): string {
  // Istio's special clusters (PassthroughCluster, InboundPassthroughCluster…) read better bare.
  return cluster.includes('Cluster') ? cluster : `Cluster: ${cluster}`;
}

function describeChainDestination(chain: unknown): string {
  for (const filter of asArray(field(chain, 'filters'))) {
    const kind = filterKind(filter);
    const config = field(filter, 'typed_config');
    if (kind === 'http') {
      const inline = field(config, 'route_config');
      if (inline) return describeInlineRouteConfig(inline);
      const rds = asString(path(config, 'rds', 'route_config_name'));
      if (rds) return `Route: ${rds}`;
      return 'HTTP';
    }
    if (kind === 'tcp' && !isBlackHole(filter)) {
      const cluster = asString(field(config, 'cluster'));
      if (cluster !== null) return clusterTarget(cluster);
      const weighted = asArray(path(config, 'weighted_clusters', 'clusters'));
      if (weighted.length) {
        return `Clusters: ${weighted.map((w) => `${asString(field(w, 'name')) ?? ''} (${asNumber(field(w, 'weight')) ?? 0})`).join(', ')}`;
      }
      return 'Cluster: ';
    }
  }
  return 'Non-HTTP/Non-TCP';
}

function describeInlineRouteConfig(routeConfig: unknown): string {
  const vhosts = asArray(field(routeConfig, 'virtual_hosts'));
  // A single catch-all route to one cluster is shown as that cluster.
  if (vhosts.length === 1) {
    const vh = vhosts[0];
    const domains = asArray(field(vh, 'domains'));
    const routes = asArray(field(vh, 'routes'));
    if (domains.length === 1 && domains[0] === '*' && routes.length === 1) {
      const only = routes[0];
      const cluster = asString(path(only, 'route', 'cluster'));
      if (asString(path(only, 'match', 'prefix')) === '/' && cluster !== null) return clusterTarget(cluster);
    }
  }
  const described = vhosts.map((vh) => {
    const domains = asArray(field(vh, 'domains')).map(String);
    const routes = asArray(field(vh, 'routes'))
      .map((r) => describeRouteMatch(field(r, 'match')))
      .join(', ');
    const allDomains = domains.length === 1 && domains[0] === '*';
    return allDomains ? routes : `${domains.join('/')} ${routes}`;
  });
  return `Inline Route: ${described.join('; ')}`;
}

export function dumpListeners(dump: ConfigDump): Listener[] {
  const listeners = dump.listeners.map(({ listener }): Listener => {
    const socket = describeAddress(field(listener, 'address'));
    const hasSocket = field(path(listener, 'address'), 'socket_address') !== undefined;
    const chains = filterChainsOf(listener);
    const direction = asString(field(listener, 'traffic_direction'));
    return {
      name: asString(field(listener, 'name')) ?? '',
      address: hasSocket ? socket.address : '',
      additionalAddresses: asArray(field(listener, 'additional_addresses'))
        .map((a) => describeAddress(field(a, 'address')).address)
        .filter((a) => a !== 'unknown'),
      port: hasSocket ? socket.port ?? 0 : null,
      internal: field(listener, 'internal_listener') !== undefined || !hasSocket,
      protocol: protocolOf(chains),
      direction: direction === 'INBOUND' || direction === 'OUTBOUND' ? direction : null,
      filterChains: chains.map(
        (chain): FilterChainSummary => ({
          name: asString(field(chain, 'name')),
          match: describeChainMatch(chain),
          destination: describeChainDestination(chain),
        }),
      ),
    };
  });
  // Port, then address, then protocol.
  return stableSort(listeners, (a, b) => (a.port ?? 0) - (b.port ?? 0) || cmp(a.address, b.address) || cmp(a.protocol, b.protocol));
}

// ---------------------------------------------------------------- routes

/** A route match in one phrase: "/api*" (prefix), "/exact" (path), "PathPrefix:/get", "regex ^/v[0-9]+". */
export function describeRouteMatch(match: unknown): string {
  const parts: string[] = [];
  const prefix = asString(field(match, 'prefix'));
  if (prefix) parts.push(`${prefix}*`);
  const exact = asString(field(match, 'path'));
  if (exact) parts.push(exact);
  const separated = asString(field(match, 'path_separated_prefix'));
  if (separated) parts.push(`PathPrefix:${separated}`);
  const regex = field(match, 'safe_regex');
  if (regex) parts.push(`regex ${asString(field(regex, 'regex')) ?? ''}`);
  return parts.join(' ');
}

/** "name.namespace" of the Istio resource recorded in `metadata.filter_metadata.istio.config`. */
export function istioConfigOf(metadata: unknown): string | null {
  const config = asString(path(metadata, 'filter_metadata', 'istio', 'config'));
  if (!config) return null;
  const m = /^\/apis\/networking\.istio\.io\/[^/]+\/namespaces\/([^/]+)\/[^/]+\/([^/]+)$/.exec(config);
  return m ? `${m[2]}.${m[1]}` : null;
}

function routeOf(route: unknown): Route {
  const action = field(route, 'route');
  const destinations: RouteDestination[] = [];
  let kind: Route['action'] = 'unknown';
  if (action) {
    kind = 'route';
    const cluster = asString(field(action, 'cluster'));
    if (cluster !== null) destinations.push({ cluster, weight: null });
    for (const w of asArray(path(action, 'weighted_clusters', 'clusters'))) {
      destinations.push({ cluster: asString(field(w, 'name')) ?? '', weight: asWrappedNumber(field(w, 'weight')) ?? 0 });
    }
    const header = asString(field(action, 'cluster_header'));
    if (header) destinations.push({ cluster: `header:${header}`, weight: null });
  } else if (field(route, 'redirect')) kind = 'redirect';
  else if (field(route, 'direct_response')) kind = 'direct_response';
  else if (field(route, 'filter_action') || field(route, 'non_forwarding_action')) kind = 'filter_action';
  return {
    name: asString(field(route, 'name')),
    match: describeRouteMatch(field(route, 'match')),
    action: kind,
    destinations,
    virtualService: istioConfigOf(field(route, 'metadata')),
    passthrough: destinations.length === 1 && destinations[0]!.cluster === 'PassthroughCluster' && destinations[0]!.weight === null,
  };
}

export function dumpRoutes(dump: ConfigDump): RouteConfig[] {
  // Dynamic (RDS) first, then static, as the dump lists them; numeric names in numeric order.
  const ordered = [...dump.routeConfigs.filter((r) => r.dynamic), ...dump.routeConfigs.filter((r) => !r.dynamic)];
  const configs = ordered.map(
    ({ routeConfig, dynamic }): RouteConfig => ({
      name: asString(field(routeConfig, 'name')) ?? '',
      source: dynamic ? 'dynamic' : 'static',
      virtualHosts: asArray(field(routeConfig, 'virtual_hosts')).map((vh) => ({
        name: asString(field(vh, 'name')) ?? '',
        domains: asArray(field(vh, 'domains')).map(String),
        routes: asArray(field(vh, 'routes')).map(routeOf),
      })),
    }),
  );
  return stableSort(configs, (a, b) => {
    const x = /^\d+$/.test(a.name) ? Number(a.name) : NaN;
    const y = /^\d+$/.test(b.name) ? Number(b.name) : NaN;
    return Number.isNaN(x) || Number.isNaN(y) ? 0 : x - y;
  });
}

// ---------------------------------------------------------------- clusters

/** Envoy's thresholds when a cluster configures none. */
export const ENVOY_DEFAULT_THRESHOLDS = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };

export function thresholdsOf(circuitBreakers: unknown): CircuitBreakerThreshold[] {
  const configured = asArray(field(circuitBreakers, 'thresholds'));
  const byPriority = new Map<string, unknown>();
  for (const t of configured) byPriority.set(asString(field(t, 'priority')) ?? 'DEFAULT', t);
  const out: CircuitBreakerThreshold[] = [];
  for (const priority of ['DEFAULT', 'HIGH'] as const) {
    const t = byPriority.get(priority);
    if (!t && priority === 'HIGH') continue;
    const read = (name: string, fallback: number) => asWrappedNumber(field(t, name)) ?? fallback;
    out.push({
      priority,
      maxConnections: read('max_connections', ENVOY_DEFAULT_THRESHOLDS.maxConnections),
      maxPendingRequests: read('max_pending_requests', ENVOY_DEFAULT_THRESHOLDS.maxPendingRequests),
      maxRequests: read('max_requests', ENVOY_DEFAULT_THRESHOLDS.maxRequests),
      maxRetries: read('max_retries', ENVOY_DEFAULT_THRESHOLDS.maxRetries),
      defaulted: !t,
    });
  }
  return out;
}

/** Orders clusters (or anything named like one) as istioctl does: host, subset, port, direction. */
export function compareClusterNames(a: string, b: string): number {
  const ka = sortKey(a);
  const kb = sortKey(b);
  return cmp(ka.host, kb.host) || cmp(ka.subset, kb.subset) || ka.port - kb.port || cmp(ka.direction, kb.direction);
}

function sortKey(name: string): { host: string; subset: string; port: number; direction: string } {
  const key = parseSubsetKey(name);
  return key ? key : { host: name, subset: '', port: 0, direction: '' };
}

/**
 * Clusters in istioctl's order. Endpoint counts come from the dump's EndpointsConfigDump when it has one;
 * without it only clusters that carry their own load assignment can be counted (the others stay null).
 */
export function dumpClusters(dump: ConfigDump): Cluster[] {
  const counts = new Map<string, number>();
  for (const e of dumpEndpoints(dump)) counts.set(e.cluster, (counts.get(e.cluster) ?? 0) + 1);
  const countOf = (name: string, cluster: Json): number | null =>
    dump.loadAssignments || field(cluster, 'load_assignment') !== undefined ? counts.get(name) ?? 0 : null;
  // Dynamic, then static, as istioctl gathers them, then its sort.
  const ordered = [...dump.clusters.filter((c) => c.dynamic), ...dump.clusters.filter((c) => !c.dynamic)];
  const clusters = ordered.map(({ cluster }): Cluster => {
    const name = asString(field(cluster, 'name')) ?? '';
    const key = parseSubsetKey(name);
    const circuitBreakers: CircuitBreakers = {
      thresholds: thresholdsOf(field(cluster, 'circuit_breakers')),
      state: null,
      open: [],
      stateReason: 'a config dump holds configuration, not whether a breaker is open now',
    };
    return {
      name,
      host: key ? key.host : null,
      subset: key ? key.subset || null : null,
      port: key ? key.port : null,
      direction: key ? key.direction || null : null,
      type: asString(field(cluster, 'type')) ?? asString(path(cluster, 'cluster_type', 'name')) ?? 'STATIC',
      destinationRule: istioConfigOf(field(cluster, 'metadata')),
      circuitBreakers,
      outlierDetection: field(cluster, 'outlier_detection') !== undefined,
      endpointCount: countOf(name, cluster),
    };
  });
  return stableSort(clusters, (a, b) => compareClusterNames(a.name, b.name));
}

// ---------------------------------------------------------------- endpoints

function endpointsOfAssignment(assignment: unknown): Endpoint[] {
  const cluster = asString(field(assignment, 'cluster_name')) ?? '';
  const out: Endpoint[] = [];
  for (const group of asArray(field(assignment, 'endpoints'))) {
    const locality = describeLocality(field(group, 'locality'));
    const priority = asNumber(field(group, 'priority'));
    for (const lb of asArray(field(group, 'lb_endpoints'))) {
      const ep = field(lb, 'endpoint');
      const { address, port } = describeAddress(field(ep, 'address'));
      const eds = asString(field(lb, 'health_status')) ?? 'UNKNOWN';
      const flags = edsStatusFlag(eds);
      out.push({
        cluster,
        address,
        port,
        weight: asWrappedNumber(field(lb, 'load_balancing_weight')),
        health: eds === 'UNKNOWN' ? 'unknown' : endpointHealthFromFlags(flags),
        flags,
        edsHealthStatus: eds,
        activeConnections: null,
        activeRequests: null,
        locality,
        hostname: asString(field(ep, 'hostname')),
        priority: priority ?? 0,
      });
    }
  }
  return out;
}

/**
 * Endpoints as the dump's EndpointsConfigDump lists them, in istioctl's cluster order. A dump taken without
 * ?include_eds has none: then the static clusters' own load assignments are used.
 */
export function dumpEndpoints(dump: ConfigDump): Endpoint[] {
  const assignments =
    dump.loadAssignments?.map((a) => a.assignment) ??
    dump.clusters.map((c) => asObject(field(c.cluster, 'load_assignment'))).filter((a): a is Json => a !== null);
  const groups = assignments.map(endpointsOfAssignment).filter((g) => g.length > 0);
  const ordered = stableSort(groups, (a, b) => compareClusterNames(a[0]!.cluster, b[0]!.cluster));
  return ordered.flat();
}

// ---------------------------------------------------------------- certificates

function inlineText(source: unknown): string | null {
  const bytes = asString(field(source, 'inline_bytes'));
  if (bytes) return Buffer.from(bytes, 'base64').toString('utf8');
  return asString(field(source, 'inline_string'));
}

/** One certificate per secret (its leaf, or its CA), and one per SPIFFE trust domain bundle. */
export function dumpCertificates(dump: ConfigDump, now: Date): Certificate[] {
  const out: Certificate[] = [];
  for (const { name, secret, status } of dump.secrets) {
    const chainSource = path(secret, 'tls_certificate', 'certificate_chain');
    const chain = inlineText(chainSource);
    const trustedSource = path(secret, 'validation_context', 'trusted_ca');
    const trusted = inlineText(trustedSource);
    const trustDomains = asArray(path(secret, 'validation_context', 'custom_validator_config', 'typed_config', 'trust_domains'));
    if (chain) out.push(certificateFromPem(chain, { resource: name, status }, now));
    else if (trusted) out.push(certificateFromPem(trusted, { resource: name, status }, now));
    for (const domain of trustDomains) {
      const bundle = inlineText(field(domain, 'trust_bundle'));
      const trustDomain = asString(field(domain, 'name'));
      out.push(
        bundle
          ? certificateFromPem(bundle, { resource: name, status, trustDomain }, now)
          : emptyCertificate({ resource: name, status, trustDomain }, 'the trust bundle is not inline in the config dump'),
      );
    }
    if (!chain && !trusted && trustDomains.length === 0) {
      const file = asString(field(chainSource, 'filename')) ?? asString(field(trustedSource, 'filename'));
      const reason =
        status === 'WARMING'
          ? 'the secret was requested but not delivered yet'
          : file
            ? `the certificate is in a file (${file}) the dump does not include; read /certs with --admin-url`
            : 'the secret holds no certificate';
      out.push(emptyCertificate({ resource: name, status }, reason));
    }
  }
  return out;
}

// ---------------------------------------------------------------- helpers

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function stableSort<T>(list: T[], compare: (a: T, b: T) => number): T[] {
  return list
    .map((item, index) => ({ item, index }))
    .sort((x, y) => compare(x.item, y.item) || x.index - y.index)
    .map((x) => x.item);
}
