// meshctl trace: a request's path through the local mesh, from the spans its proxies logged (every
// proxy's access log, read back from its end), and the slowest recent traces through a host.
import { EXIT, MeshctlError } from '../errors.js';
import { readRecentAccessLog, type AccessLogEntry } from '../runtime/haproxy/access-log.js';
import { orderSpans, spanOf, type SpanProxy, type ZipkinSpan } from '../runtime/traces.js';
import type { HomeLayout } from './home.js';
import { readLocalProxies } from './proxies.js';

export interface TraceResult {
  traceId: string;
  spans: ZipkinSpan[];
}

export interface SlowTrace {
  traceId: string;
  requestId: string;
  /** From the first span's start to the last span's end. */
  durationMs: number;
  spans: number;
}

export interface SlowestResult {
  host: string;
  traces: SlowTrace[];
}

async function meshSpans(layout: HomeLayout): Promise<{ entries: AccessLogEntry[]; proxies: Map<string, SpanProxy> }> {
  const proxies = await readLocalProxies(layout);
  const logs = await Promise.all(proxies.map((p) => readRecentAccessLog(p.paths.accessLog)));
  return { entries: logs.flatMap((l) => l.entries), proxies: new Map(proxies.map((p) => [p.name, { name: p.name, namespace: p.namespace, workload: p.workload ?? p.name }])) };
}

/** The trace of a request id (x-request-id) or a trace id (32 hex digits). */
export async function findTrace(layout: HomeLayout, id: string): Promise<TraceResult> {
  const { entries, proxies } = await meshSpans(layout);
  const wanted = id.toLowerCase();
  const traceId = entries.find((e) => e.traceId === wanted)?.traceId ?? entries.find((e) => e.requestId === id && e.traceId)?.traceId;
  if (!traceId) {
    throw new MeshctlError(`No span of the mesh's access logs has the trace id or request id ${id}; pass the x-request-id of a request sent through the mesh, or a trace id (meshctl trace --slowest HOST lists some).`, EXIT.negative);
  }
  const spans = entries.filter((e) => e.traceId === traceId).map((e) => spanOf(e, proxies)).filter((s): s is ZipkinSpan => s !== null);
  return { traceId, spans: orderSpans(spans) };
}

/** The slowest traces of the recent requests to `host` (its short name or FQDN), slowest first. */
export async function slowestTraces(layout: HomeLayout, host: string, limit: number): Promise<SlowestResult> {
  const { entries } = await meshSpans(layout);
  const short = host.split('.')[0]!.toLowerCase();
  const touching = new Set(entries.filter((e) => e.traceId && (e.destinationHost.split('.')[0] === short || e.host.split('.')[0] === short)).map((e) => e.traceId!));
  const byTrace = new Map<string, AccessLogEntry[]>();
  for (const e of entries) if (e.traceId && touching.has(e.traceId)) byTrace.set(e.traceId, [...(byTrace.get(e.traceId) ?? []), e]);
  const traces = [...byTrace.entries()].map(([traceId, list]): SlowTrace => {
    const start = Math.min(...list.map((e) => e.startMs));
    const end = Math.max(...list.map((e) => e.startMs + Math.max(0, e.durationMs)));
    const first = list.find((e) => e.startMs === start)!;
    return { traceId, requestId: first.requestId, durationMs: end - start, spans: list.length };
  });
  traces.sort((a, b) => b.durationMs - a.durationMs || a.traceId.localeCompare(b.traceId));
  return { host, traces: traces.slice(0, limit) };
}

export function slowestText(r: SlowestResult): string {
  if (!r.traces.length) return `No trace through ${r.host} in the mesh's access logs.\n`;
  const rows = r.traces.map((t) => `${t.traceId}  ${String(t.durationMs).padStart(6)} ms  ${String(t.spans).padStart(3)} spans  request ${t.requestId}`);
  return `Slowest traces through ${r.host}:\n${rows.join('\n')}\n`;
}
