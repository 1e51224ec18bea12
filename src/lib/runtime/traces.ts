// Spans from the access logs: every line a proxy logged with a span id is one span (a sending proxy's
// line the CLIENT span, a receiving sidecar's the SERVER span), in Zipkin v2's shape with Istio's tags,
// and a trace's spans as a tree with durations, as Jaeger's timeline shows it, in a terminal.
import type { AccessLogEntry } from './haproxy/access-log.js';

/** The mesh id Istio tags spans with when none is configured. */
const MESH_ID = 'cluster.local';

/** A span with Zipkin v2's fields (timestamps and durations in microseconds). */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind: 'CLIENT' | 'SERVER';
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName: string };
  tags: Record<string, string>;
}

/** Who a proxy is, for the spans it logs (its workload and namespace). */
export interface SpanProxy {
  name: string;
  namespace: string;
  workload: string | null;
}

/** The span a log line records; null for a line without one (a proxy older than tracing, a mirrored copy). */
export function spanOf(e: AccessLogEntry, proxies: ReadonlyMap<string, SpanProxy>): ZipkinSpan | null {
  if (!e.traceId || !e.spanId || e.mirror) return null;
  const inbound = e.direction === 'inbound';
  const proxy = proxies.get(e.proxy);
  const service = `${proxy?.workload ?? e.proxy}.${proxy?.namespace ?? 'default'}`;
  const upstream = inbound ? `inbound|${e.host}` : `outbound|${e.destinationHost || e.host}${e.destinationSubset ? `|${e.destinationSubset}` : ''}`;
  return {
    traceId: e.traceId,
    id: e.spanId,
    ...(e.parentSpanId ? { parentId: e.parentSpanId } : {}),
    name: `${e.destinationHost || e.host}${e.path}`.slice(0, 200),
    kind: inbound ? 'SERVER' : 'CLIENT',
    timestamp: e.startMs * 1000,
    // Zipkin counts a duration under a microsecond as one; the log's resolution is a millisecond.
    duration: Math.max(1, Math.max(0, e.durationMs) * 1000),
    localEndpoint: { serviceName: service },
    tags: {
      'istio.mesh_id': MESH_ID,
      'istio.namespace': proxy?.namespace ?? 'default',
      'istio.canonical_service': proxy?.workload ?? e.proxy,
      node_id: `sidecar~127.0.0.1~${e.proxy}.${proxy?.namespace ?? 'default'}~${proxy?.namespace ?? 'default'}.svc.cluster.local`,
      upstream_cluster: upstream,
      'http.method': e.method,
      'http.url': `http://${e.host}${e.path}`,
      'http.status_code': String(e.status > 0 ? e.status : 0),
      response_flags: e.responseFlags?.length ? e.responseFlags.join(',') : '-',
      guid: e.requestId,
      'guid:x-request-id': e.requestId,
      component: 'proxy',
      ...(e.status >= 500 || e.status <= 0 ? { error: 'true' } : {}),
    },
  };
}

/** The spans of one trace, parents before children, siblings by start. */
export function orderSpans(spans: ZipkinSpan[]): ZipkinSpan[] {
  const ids = new Set(spans.map((s) => s.id));
  const children = new Map<string, ZipkinSpan[]>();
  const roots: ZipkinSpan[] = [];
  for (const s of spans) {
    if (s.parentId && ids.has(s.parentId)) {
      const list = children.get(s.parentId) ?? [];
      list.push(s);
      children.set(s.parentId, list);
    } else {
      roots.push(s);
    }
  }
  const out: ZipkinSpan[] = [];
  const walk = (list: ZipkinSpan[]) => {
    for (const s of [...list].sort((a, b) => a.timestamp - b.timestamp)) {
      out.push(s);
      walk(children.get(s.id) ?? []);
    }
  };
  walk(roots);
  return out;
}

/** A trace as a tree, one span a line: indentation by depth, the offset from the trace's start, the duration. */
export function traceTreeText(traceId: string, spans: ZipkinSpan[]): string {
  const ordered = orderSpans(spans);
  const start = Math.min(...ordered.map((s) => s.timestamp));
  const end = Math.max(...ordered.map((s) => s.timestamp + s.duration));
  const depth = new Map<string, number>();
  const lines = [`trace ${traceId}: ${ordered.length} span${ordered.length === 1 ? '' : 's'}, ${ms(end - start)}`];
  for (const s of ordered) {
    const d = s.parentId && depth.has(s.parentId) ? depth.get(s.parentId)! + 1 : 0;
    depth.set(s.id, d);
    const status = s.tags['http.status_code'];
    const flags = s.tags.response_flags !== '-' ? ` ${s.tags.response_flags}` : '';
    lines.push(`${'  '.repeat(d)}${s.kind === 'CLIENT' ? '→' : '⇢'} ${s.localEndpoint.serviceName} ${s.kind.toLowerCase()} ${s.name}  ${status}${flags}  +${ms(s.timestamp - start)} ${ms(s.duration)}`);
  }
  return `${lines.join('\n')}\n`;
}

function ms(micros: number): string {
  return `${Math.round(micros / 100) / 10} ms`;
}
