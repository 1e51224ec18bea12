// meshctl trace: a request's path through the local mesh, from the spans its proxies logged (kept in
// the mesh's span store, and the access logs' newest lines), and the slowest recent traces through a host.
import { EXIT, MeshctlError } from '../errors.js';
import { readAccessLog, readRecentAccessLog } from '../runtime/haproxy/access-log.js';
import { orderSpans, spanOf, type SpanProxy, type ZipkinSpan } from '../runtime/traces.js';
import type { HomeLayout } from './home.js';
import { readLocalProxies } from './proxies.js';
import { readSpanCursor, readStoredSpans, spanStorePaths } from './addons/span-store.js';

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

/**
 * Every span the mesh keeps: the span store's segments (bounded by size and age), then the lines the
 * agent has not stored yet, read from where it stopped in each proxy's access log. The cursor is read
 * before the store, so a span stored meanwhile is read twice (and kept once), never missed.
 */
async function meshSpans(layout: HomeLayout): Promise<ZipkinSpan[]> {
  const cursor = await readSpanCursor(layout);
  const stored = await readStoredSpans(spanStorePaths(layout).dir);
  const proxies = await readLocalProxies(layout);
  const directory = new Map<string, SpanProxy>(proxies.map((p) => [p.name, { name: p.name, namespace: p.namespace, workload: p.workload ?? p.name }]));
  const tails = await Promise.all(proxies.map(async (p) => {
    const from = cursor[p.paths.accessLog];
    return from === undefined ? (await readRecentAccessLog(p.paths.accessLog)).entries : (await readAccessLog(p.paths.accessLog, from)).entries;
  }));
  const fresh = tails.flat().map((e) => spanOf(e, directory)).filter((s): s is ZipkinSpan => s !== null);
  const seen = new Set<string>();
  const spans: ZipkinSpan[] = [];
  for (const s of [...stored, ...fresh]) {
    const key = `${s.traceId}/${s.id}/${s.kind}`;
    if (seen.has(key)) continue;
    seen.add(key);
    spans.push(s);
  }
  return spans;
}

/** The trace of a request id (x-request-id) or a trace id (32 hex digits). */
export async function findTrace(layout: HomeLayout, id: string): Promise<TraceResult> {
  const spans = await meshSpans(layout);
  const wanted = id.toLowerCase();
  const traceId = spans.find((s) => s.traceId === wanted)?.traceId ?? spans.find((s) => s.tags['guid:x-request-id'] === id)?.traceId;
  if (!traceId) {
    throw new MeshctlError(`No span of the mesh's access logs has the trace id or request id ${id}; pass the x-request-id of a request sent through the mesh, or a trace id (meshctl trace --slowest HOST lists some).`, EXIT.negative);
  }
  return { traceId, spans: orderSpans(spans.filter((s) => s.traceId === traceId)) };
}

/** The short names of the hosts a span's hop went to (its upstream cluster's and its URL's). */
function spanHosts(s: ZipkinSpan): string[] {
  const cluster = (s.tags.upstream_cluster ?? '').split('|')[1] ?? '';
  const url = /^https?:\/\/([^/:]+)/.exec(s.tags['http.url'] ?? '')?.[1] ?? '';
  return [cluster, url].filter(Boolean).map((h) => h.split('.')[0]!.toLowerCase());
}

/** The slowest traces of the recent requests to `host` (its short name or FQDN), slowest first. */
export async function slowestTraces(layout: HomeLayout, host: string, limit: number): Promise<SlowestResult> {
  const spans = await meshSpans(layout);
  const short = host.split('.')[0]!.toLowerCase();
  const touching = new Set(spans.filter((s) => spanHosts(s).includes(short)).map((s) => s.traceId));
  const byTrace = new Map<string, ZipkinSpan[]>();
  for (const s of spans) if (touching.has(s.traceId)) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
  const traces = [...byTrace.entries()].map(([traceId, list]): SlowTrace => {
    const start = Math.min(...list.map((s) => s.timestamp));
    const end = Math.max(...list.map((s) => s.timestamp + s.duration));
    const first = list.find((s) => s.timestamp === start)!;
    return { traceId, requestId: first.tags['guid:x-request-id'] ?? '', durationMs: Math.round((end - start) / 1000), spans: list.length };
  });
  traces.sort((a, b) => b.durationMs - a.durationMs || a.traceId.localeCompare(b.traceId));
  return { host, traces: traces.slice(0, limit) };
}

export function slowestText(r: SlowestResult): string {
  if (!r.traces.length) return `No trace through ${r.host} in the mesh's access logs.\n`;
  const rows = r.traces.map((t) => `${t.traceId}  ${String(t.durationMs).padStart(6)} ms  ${String(t.spans).padStart(3)} spans  request ${t.requestId}`);
  return `Slowest traces through ${r.host}:\n${rows.join('\n')}\n`;
}
