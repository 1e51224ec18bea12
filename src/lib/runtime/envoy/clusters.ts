// Envoy's /clusters, in both of its formats, into live cluster state: circuit-breaker thresholds and every
// host with its health flags, weight, locality and active connections/requests.
//
// /clusters?format=json has two shapes in the wild: older Envoys wrote lowerCamelCase keys, 64-bit counters
// as strings and left zero values out; current ones write snake_case and plain numbers. Both are read.
// The text format is `cluster::host:port::stat::value`; cluster names are taken whole from the first field
// and never split on "." (Istio names such as outbound|9080||reviews.default.svc.cluster.local).
import type { CircuitBreakerThreshold, Endpoint } from '../model.js';
import { ENVOY_DEFAULT_THRESHOLDS, thresholdsOf } from './config-dump.js';
import { JSON_HEALTH_FLAGS, edsStatusFlag, endpointHealthFromFlags, parseHealthFlags } from './health-flags.js';
import { asArray, asNumber, asObject, asString, describeAddress, describeLocality, field } from './proto-json.js';

export interface ClusterStatus {
  name: string;
  observabilityName: string | null;
  edsServiceName: string | null;
  addedViaApi: boolean;
  /** Null when this /clusters output does not report them (older Envoys). */
  thresholds: CircuitBreakerThreshold[] | null;
  hosts: Endpoint[];
}

/** Parses /clusters?format=json (either shape). */
export function parseClustersJson(doc: unknown): ClusterStatus[] {
  return asArray(field(doc, 'cluster_statuses')).map((c): ClusterStatus => {
    const name = asString(field(c, 'name')) ?? '';
    const breakers = field(c, 'circuit_breakers');
    return {
      name,
      observabilityName: asString(field(c, 'observability_name')),
      edsServiceName: asString(field(c, 'eds_service_name')),
      addedViaApi: field(c, 'added_via_api') === true,
      thresholds: breakers ? thresholdsOf(breakers) : null,
      hosts: asArray(field(c, 'host_statuses')).map((h) => hostFromJson(name, h)),
    };
  });
}

function hostFromJson(cluster: string, host: unknown): Endpoint {
  const { address, port } = describeAddress(field(host, 'address'));
  const status = asObject(field(host, 'health_status')) ?? {};
  const flags: string[] = [];
  for (const [jsonName, flag] of Object.entries(JSON_HEALTH_FLAGS)) {
    if (field(status, jsonName) === true) flags.push(flag);
  }
  const eds = asString(field(status, 'eds_health_status'));
  flags.push(...edsStatusFlag(eds));
  // A stat listed without a value is a zero the encoder left out; a stat not listed at all is unknown.
  const stats = new Map<string, number>();
  for (const s of asArray(field(host, 'stats'))) {
    const statName = asString(field(s, 'name'));
    if (statName) stats.set(statName, asNumber(field(s, 'value')) ?? 0);
  }
  return {
    cluster,
    address,
    port,
    weight: asNumber(field(host, 'weight')),
    health: endpointHealthFromFlags(flags),
    flags,
    edsHealthStatus: eds,
    activeConnections: stats.get('cx_active') ?? null,
    activeRequests: stats.get('rq_active') ?? null,
    locality: describeLocality(field(host, 'locality')),
    hostname: asString(field(host, 'hostname')),
    priority: asNumber(field(host, 'priority')) ?? 0,
  };
}

const CLUSTER_LEVEL_PREFIXES = new Set(['default_priority', 'high_priority', 'outlier']);

/** Parses the text /clusters output (also a grep of it: lines it does not know are skipped). */
export function parseClustersText(text: string): ClusterStatus[] {
  const clusters = new Map<string, ClusterStatus & { hostIndex: Map<string, HostLines> }>();
  const get = (name: string) => {
    let c = clusters.get(name);
    if (!c) {
      c = { name, observabilityName: null, edsServiceName: null, addedViaApi: false, thresholds: null, hosts: [], hostIndex: new Map() };
      clusters.set(name, c);
    }
    return c;
  };
  const thresholds = new Map<string, Map<string, number>>();
  for (const line of text.split('\n')) {
    const parts = line.trim().split('::');
    if (parts.length < 3) continue;
    const [name, second, ...rest] = parts as [string, string, ...string[]];
    const c = get(name);
    if (parts.length === 3) {
      const value = rest[0]!;
      if (second === 'observability_name') c.observabilityName = value;
      else if (second === 'eds_service_name') c.edsServiceName = value;
      else if (second === 'added_via_api') c.addedViaApi = value === 'true';
      continue;
    }
    if (CLUSTER_LEVEL_PREFIXES.has(second)) {
      if (second !== 'outlier') {
        const priority = second === 'high_priority' ? 'HIGH' : 'DEFAULT';
        const byField = thresholds.get(`${name}\u0000${priority}`) ?? new Map<string, number>();
        byField.set(rest[0]!, Number(rest[1]));
        thresholds.set(`${name}\u0000${priority}`, byField);
      }
      continue;
    }
    // Host line: second is the host address; the stat name and value follow.
    let host = c.hostIndex.get(second);
    if (!host) {
      host = { address: second, values: new Map() };
      c.hostIndex.set(second, host);
    }
    host.values.set(rest[0]!, rest.slice(1).join('::'));
  }
  const out: ClusterStatus[] = [];
  for (const c of clusters.values()) {
    const list: CircuitBreakerThreshold[] = [];
    for (const priority of ['DEFAULT', 'HIGH'] as const) {
      const byField = thresholds.get(`${c.name}\u0000${priority}`);
      if (!byField) continue;
      list.push({
        priority,
        maxConnections: byField.get('max_connections') ?? ENVOY_DEFAULT_THRESHOLDS.maxConnections,
        maxPendingRequests: byField.get('max_pending_requests') ?? ENVOY_DEFAULT_THRESHOLDS.maxPendingRequests,
        maxRequests: byField.get('max_requests') ?? ENVOY_DEFAULT_THRESHOLDS.maxRequests,
        maxRetries: byField.get('max_retries') ?? ENVOY_DEFAULT_THRESHOLDS.maxRetries,
        defaulted: false,
      });
    }
    out.push({
      name: c.name,
      observabilityName: c.observabilityName,
      edsServiceName: c.edsServiceName,
      addedViaApi: c.addedViaApi,
      thresholds: list.length ? list : null,
      hosts: [...c.hostIndex.values()].map((h) => hostFromText(c.name, h)),
    });
  }
  return out;
}

interface HostLines {
  address: string;
  values: Map<string, string>;
}

function hostFromText(cluster: string, host: HostLines): Endpoint {
  const { address, port } = splitHostPort(host.address);
  const flags = parseHealthFlags(host.values.get('health_flags') ?? '');
  const num = (k: string) => (host.values.has(k) ? asNumber(host.values.get(k)) : null);
  const region = host.values.get('region') ?? '';
  const zone = host.values.get('zone') ?? '';
  const subzone = host.values.get('sub_zone') ?? '';
  return {
    cluster,
    address,
    port,
    weight: num('weight'),
    health: host.values.has('health_flags') ? endpointHealthFromFlags(flags) : 'unknown',
    flags,
    edsHealthStatus: null,
    activeConnections: num('cx_active'),
    activeRequests: num('rq_active'),
    locality: describeLocality({ region, zone, sub_zone: subzone }),
    hostname: host.values.get('hostname') || null,
    priority: num('priority'),
  };
}

/** "10.0.0.1:80" → address and port; "[::1]:80" for IPv6; a pipe path has no port. */
function splitHostPort(hostPort: string): { address: string; port: number | null } {
  const m = /^(.*):(\d+)$/.exec(hostPort);
  if (!m || hostPort.startsWith('/')) return { address: hostPort, port: null };
  return { address: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}
