// Istio's standard metrics (istio_requests_total and its histograms, the TCP families) made from the
// requests the proxies logged: the names, types, buckets and labels every Istio dashboard, alert and
// canary analysis is written in. A sending proxy's line is the `source` report, a receiving sidecar's
// line the `destination` report, as Envoy's stats filter reports at each end of a hop.
import type { AccessLogEntry } from './haproxy/access-log.js';

export const ISTIO_REQUESTS_TOTAL = 'istio_requests_total';
export const ISTIO_REQUEST_DURATION = 'istio_request_duration_milliseconds';
export const ISTIO_REQUEST_BYTES = 'istio_request_bytes';
export const ISTIO_RESPONSE_BYTES = 'istio_response_bytes';
export const ISTIO_TCP_FAMILIES = [
  'istio_tcp_connections_opened_total',
  'istio_tcp_connections_closed_total',
  'istio_tcp_sent_bytes_total',
  'istio_tcp_received_bytes_total',
] as const;

/** Envoy's default histogram bounds, which Istio's histograms keep unless a pod overrides them. */
export const ISTIO_DEFAULT_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000] as const;

/** The labels of Istio's TCP metrics, in the order Envoy prints them. */
export const ISTIO_TCP_LABELS = [
  'reporter',
  'source_workload', 'source_canonical_service', 'source_canonical_revision', 'source_workload_namespace', 'source_principal', 'source_app', 'source_version', 'source_cluster',
  'destination_workload', 'destination_workload_namespace', 'destination_principal', 'destination_app', 'destination_version',
  'destination_service', 'destination_canonical_service', 'destination_canonical_revision', 'destination_service_name', 'destination_service_namespace', 'destination_cluster',
  'request_protocol', 'response_flags', 'connection_security_policy',
] as const;

/** The labels of Istio's HTTP metrics: the TCP ones and the response's code and gRPC status. */
export const ISTIO_HTTP_LABELS = [...ISTIO_TCP_LABELS.slice(0, -2), 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy'] as const;

type HttpLabel = (typeof ISTIO_HTTP_LABELS)[number];

/** Istio's word for a label it cannot fill. */
const UNKNOWN = 'unknown';
/** The cluster name Istio reports when none is configured. */
const DEFAULT_CLUSTER = 'Kubernetes';

/** A proxy of the mesh, as its metrics name it (a pod's sidecar, or a gateway proxy). */
export interface MeshPeer {
  name: string;
  namespace: string;
  workload: string;
  labels: Record<string, string>;
  /** The proxy's SPIFFE ID. */
  principal: string;
}

/** Who is who: the mesh's proxies by the name their log lines carry. */
export type PeerDirectory = ReadonlyMap<string, MeshPeer>;

interface HistogramCounts {
  /** Per bound of ISTIO_DEFAULT_BUCKETS (not cumulative); observations above the last bound count in +Inf only. */
  buckets: number[];
  sum: number;
}

interface HttpSeries {
  labels: string[];
  requests: number;
  duration: HistogramCounts;
  requestBytes: HistogramCounts;
  responseBytes: HistogramCounts;
}

function histogram(): HistogramCounts {
  return { buckets: ISTIO_DEFAULT_BUCKETS.map(() => 0), sum: 0 };
}

function observe(h: HistogramCounts, value: number): void {
  const v = Math.max(0, value);
  h.sum += v;
  const i = ISTIO_DEFAULT_BUCKETS.findIndex((bound) => v <= bound);
  if (i >= 0) h.buckets[i]! += 1;
}

/** A Host as Istio's destination_service spells it: the service's FQDN in the namespace of the pod that served it. */
export function destinationServiceOf(host: string, namespace: string): string {
  const h = host.toLowerCase();
  if (!h) return UNKNOWN;
  const parts = h.split('.');
  if (parts.length === 1) return `${h}.${namespace}.svc.cluster.local`;
  if (parts.length === 2) return `${h}.svc.cluster.local`;
  if (parts.length === 3 && parts[2] === 'svc') return `${h}.cluster.local`;
  return h;
}

function serviceNameAndNamespace(service: string): [string, string] {
  const m = /^([^.]+)\.([^.]+)\.svc\.cluster\.local$/.exec(service);
  return m ? [m[1]!, m[2]!] : [service, UNKNOWN];
}

function peerLabels(side: 'source' | 'destination', peer: MeshPeer | undefined, principal?: string): Partial<Record<HttpLabel, string>> {
  const labels = peer?.labels ?? {};
  return {
    [`${side}_workload`]: peer?.workload ?? UNKNOWN,
    [`${side}_canonical_service`]: labels['service.istio.io/canonical-name'] ?? labels.app ?? peer?.workload ?? UNKNOWN,
    [`${side}_canonical_revision`]: labels['service.istio.io/canonical-revision'] ?? labels.version ?? 'latest',
    [`${side}_workload_namespace`]: peer?.namespace ?? UNKNOWN,
    [`${side}_principal`]: principal ?? peer?.principal ?? UNKNOWN,
    [`${side}_app`]: labels.app ?? UNKNOWN,
    [`${side}_version`]: labels.version ?? UNKNOWN,
    [`${side}_cluster`]: peer ? DEFAULT_CLUSTER : UNKNOWN,
  };
}

/**
 * The report a log line makes, with its labels; null for a line no Istio proxy reports (a mirrored copy,
 * which Envoy's stats filter never sees, or a line of an unknown proxy).
 */
export function istioReportOf(e: AccessLogEntry, peers: PeerDirectory): { reporter: 'source' | 'destination'; proxy: string; labels: Record<HttpLabel, string> } | null {
  if (e.mirror) return null;
  const self = peers.get(e.proxy);
  if (!self) return null;
  const inbound = e.direction === 'inbound';
  if (!inbound && e.direction !== 'outbound' && e.direction !== 'ingress') return null;
  let source: Partial<Record<HttpLabel, string>>;
  let destination: Partial<Record<HttpLabel, string>>;
  let service: string;
  if (inbound) {
    const verified = e.source.startsWith('spiffe://');
    source = peerLabels('source', verified && e.peer ? peers.get(e.peer) : undefined, verified ? e.source : UNKNOWN);
    destination = peerLabels('destination', self);
    service = destinationServiceOf(e.destinationHost || e.host, self.namespace);
  } else {
    source = peerLabels('source', self);
    const server = peers.get(e.server);
    destination = peerLabels('destination', server, server ? undefined : UNKNOWN);
    service = e.destinationHost ? destinationServiceOf(e.destinationHost, server?.namespace ?? self.namespace) : UNKNOWN;
  }
  const [serviceName, serviceNamespace] = service === UNKNOWN ? [UNKNOWN, UNKNOWN] : serviceNameAndNamespace(service);
  const status = e.status >= 100 && e.status <= 599 ? e.status : 0;
  const all: Record<string, string> = {
    reporter: inbound ? 'destination' : 'source',
    ...source,
    ...destination,
    destination_service: service,
    destination_service_name: serviceName,
    destination_service_namespace: serviceNamespace,
    request_protocol: 'http',
    response_code: String(status),
    grpc_response_status: '',
    response_flags: responseFlagsLabel(e),
    // A sending proxy cannot tell what policy the receiver enforced, so Istio's source report says unknown.
    connection_security_policy: inbound ? (e.source.startsWith('spiffe://') ? 'mutual_tls' : 'none') : UNKNOWN,
  };
  return { reporter: inbound ? 'destination' : 'source', proxy: e.proxy, labels: all as Record<HttpLabel, string> };
}

/** Envoy prints its flags comma-separated, and `-` for none. */
function responseFlagsLabel(e: AccessLogEntry): string {
  return e.responseFlags?.length ? e.responseFlags.join(',') : '-';
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(values: readonly string[], extra = ''): string {
  const pairs = ISTIO_HTTP_LABELS.map((name, i) => `${name}="${escapeLabel(values[i]!)}"`);
  return `{${pairs.join(',')}${extra}}`;
}

/** Counts what every proxy of the mesh reported, per proxy, and prints it in Prometheus' text format. */
export class IstioMetrics {
  private readonly byProxy = new Map<string, Map<string, HttpSeries>>();

  /** Series by the log fields their labels come from: most lines repeat a few label sets, which are worked out once. */
  private readonly byLineShape = new Map<string, HttpSeries | null>();
  private shapesOf: PeerDirectory | null = null;

  /** Counts one log line; returns whether it was reported. */
  record(e: AccessLogEntry, peers: PeerDirectory): boolean {
    if (peers !== this.shapesOf) {
      this.byLineShape.clear();
      this.shapesOf = peers;
    }
    const shape = `${e.proxy}\u0000${e.direction}\u0000${e.mirror}\u0000${e.source}\u0000${e.peer ?? ''}\u0000${e.server}\u0000${e.destinationHost}\u0000${e.host}\u0000${e.status}\u0000${e.responseFlags?.join(',') ?? ''}`;
    let s = this.byLineShape.get(shape);
    if (s === undefined) {
      s = this.seriesOf(e, peers);
      this.byLineShape.set(shape, s);
    }
    if (!s) return false;
    s.requests += 1;
    observe(s.duration, e.durationMs);
    observe(s.requestBytes, e.requestBytes ?? 0);
    observe(s.responseBytes, e.bytes);
    return true;
  }

  private seriesOf(e: AccessLogEntry, peers: PeerDirectory): HttpSeries | null {
    const report = istioReportOf(e, peers);
    if (!report) return null;
    const values = ISTIO_HTTP_LABELS.map((name) => report.labels[name]);
    const key = values.join('\u0000');
    let series = this.byProxy.get(report.proxy);
    if (!series) this.byProxy.set(report.proxy, (series = new Map()));
    let s = series.get(key);
    if (!s) series.set(key, (s = { labels: values, requests: 0, duration: histogram(), requestBytes: histogram(), responseBytes: histogram() }));
    return s;
  }

  /** Forgets the series of proxies no longer in the mesh. */
  retain(proxies: ReadonlySet<string>): void {
    for (const name of [...this.byProxy.keys()]) if (!proxies.has(name)) this.byProxy.delete(name);
    this.byLineShape.clear();
  }

  /** The exposition text of one proxy's reports (every proxy's without `proxy`). */
  render(proxy?: string): string {
    const series = proxy === undefined ? [...this.byProxy.values()].flatMap((m) => [...m.values()]) : [...(this.byProxy.get(proxy)?.values() ?? [])];
    const out: string[] = [];
    out.push(`# HELP ${ISTIO_REQUESTS_TOTAL} Requests handled by the mesh's proxies.`, `# TYPE ${ISTIO_REQUESTS_TOTAL} counter`);
    for (const s of series) out.push(`${ISTIO_REQUESTS_TOTAL}${labelText(s.labels)} ${s.requests}`);
    const histogramLines = (name: string, help: string, pick: (s: HttpSeries) => HistogramCounts) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
      for (const s of series) {
        const h = pick(s);
        let cumulative = 0;
        ISTIO_DEFAULT_BUCKETS.forEach((bound, i) => {
          cumulative += h.buckets[i]!;
          out.push(`${name}_bucket${labelText(s.labels, `,le="${bound}"`)} ${cumulative}`);
        });
        out.push(`${name}_bucket${labelText(s.labels, ',le="+Inf"')} ${s.requests}`);
        out.push(`${name}_sum${labelText(s.labels)} ${h.sum}`);
        out.push(`${name}_count${labelText(s.labels)} ${s.requests}`);
      }
    };
    histogramLines(ISTIO_REQUEST_DURATION, 'Duration of requests, in milliseconds.', (s) => s.duration);
    histogramLines(ISTIO_REQUEST_BYTES, 'Sizes of requests (headers and body), in bytes.', (s) => s.requestBytes);
    histogramLines(ISTIO_RESPONSE_BYTES, 'Sizes of responses (headers and body), in bytes.', (s) => s.responseBytes);
    // The local mesh routes HTTP only: the TCP families are declared, and hold no series.
    for (const name of ISTIO_TCP_FAMILIES) out.push(`# HELP ${name} TCP traffic through the mesh's proxies (the local mesh routes HTTP only).`, `# TYPE ${name} counter`);
    return `${out.join('\n')}\n`;
  }
}
