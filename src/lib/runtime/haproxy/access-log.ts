// Reading a proxy's JSON-lines access log, and the per-upstream figures a traffic shift gates on
// (HAProxy's own counters give averages only; percentiles need every request's duration).
import { promises as fs } from 'node:fs';

export interface AccessLogEntry {
  time: string;
  /** Accept time, epoch milliseconds. */
  startMs: number;
  requestId: string;
  proxy: string;
  direction: 'inbound' | 'outbound' | 'ingress' | string;
  /** Caller: its SPIFFE ID (outbound: this proxy's own; inbound: the verified peer's; ingress: the client address). */
  source: string;
  method: string;
  host: string;
  path: string;
  route: string;
  destinationHost: string;
  destinationSubset: string;
  backend: string;
  server: string;
  status: number;
  durationMs: number;
  upstreamMs: number;
  retries: number;
  redispatched: boolean;
  bytes: number;
  termination: string;
  /** A mirrored copy of a request (logged by the proxy's mirror listener, direction `mirror`). */
  mirror: boolean;
}

export interface ConnectionErrorEntry {
  time: string;
  startMs: number;
  proxy: string;
  direction: string;
  error: string;
  client: string;
}

function toEntry(o: Record<string, unknown>): AccessLogEntry {
  const retries = String(o.retries ?? '0');
  return {
    time: String(o.time ?? ''),
    startMs: Number(o.start_ms ?? 0),
    requestId: String(o.request_id ?? ''),
    proxy: String(o.proxy ?? ''),
    direction: String(o.direction ?? ''),
    source: String(o.source ?? ''),
    method: String(o.method ?? ''),
    host: String(o.host ?? ''),
    path: String(o.path ?? ''),
    route: String(o.route ?? ''),
    destinationHost: unsetAsEmpty(o.destination_host),
    destinationSubset: unsetAsEmpty(o.destination_subset),
    backend: String(o.backend ?? ''),
    server: String(o.server ?? ''),
    status: Number(o.status ?? -1),
    durationMs: Number(o.duration_ms ?? -1),
    upstreamMs: Number(o.upstream_ms ?? -1),
    retries: Number(retries.replace(/^\+/, '')) || 0,
    redispatched: retries.startsWith('+'),
    bytes: Number(o.bytes ?? 0),
    termination: String(o.termination ?? ''),
    mirror: o.mirror === true || o.direction === 'mirror',
  };
}

/** Parses access-log text; lines that are not meshctl JSON (e.g. a truncated last line) are skipped. */
export function parseAccessLog(text: string): { entries: AccessLogEntry[]; connectionErrors: ConnectionErrorEntry[] } {
  const entries: AccessLogEntry[] = [];
  const connectionErrors: ConnectionErrorEntry[] = [];
  for (const lineText of text.split('\n')) {
    if (!lineText.startsWith('{')) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(lineText) as Record<string, unknown>;
    } catch {
      continue;
    }
    if ('connection_error' in o) {
      connectionErrors.push({ time: String(o.time ?? ''), startMs: Number(o.start_ms ?? 0), proxy: String(o.proxy ?? ''), direction: String(o.direction ?? ''), error: String(o.connection_error ?? ''), client: String(o.client ?? '') });
    } else if ('status' in o) {
      entries.push(toEntry(o));
    }
  }
  return { entries, connectionErrors };
}

/**
 * Reads the complete lines of an access log from byte `offset` on; returns them and the offset to
 * read from next time (a partial last line is left for then).
 */
export async function readAccessLog(file: string, offset = 0): Promise<{ entries: AccessLogEntry[]; connectionErrors: ConnectionErrorEntry[]; nextOffset: number }> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], connectionErrors: [], nextOffset: offset };
    throw err;
  }
  try {
    const { size } = await handle.stat();
    // A log truncated (rotated) since the last read starts over.
    const from = offset > size ? 0 : offset;
    const length = size - from;
    const buf = Buffer.alloc(length);
    if (length > 0) await handle.read(buf, 0, length, from);
    const end = buf.lastIndexOf(0x0a);
    if (end === -1) return { entries: [], connectionErrors: [], nextOffset: from };
    return { ...parseAccessLog(buf.subarray(0, end + 1).toString('utf8')), nextOffset: from + end + 1 };
  } finally {
    await handle.close();
  }
}

/** HAProxy writes `-` for a variable never set (no route chose a destination, a destination without subset). */
function unsetAsEmpty(v: unknown): string {
  const text = v === undefined || v === null ? '' : String(v);
  return text === '-' ? '' : text;
}

/** Upper bounds (ms) of the latency histogram buckets; the last bucket is everything slower. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** The `p`-th percentile (0–100) of ascending `sorted` values, nearest-rank; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export interface UpstreamFigures {
  destinationHost: string;
  destinationSubset: string;
  requests: number;
  statusClasses: { '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number; other: number };
  /** Non-5xx / total × 100 (Flagger's definition); NaN without requests. */
  successRate: number;
  retries: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Cumulative counts per upper bound in LATENCY_BUCKETS_MS (Prometheus `le` semantics), then +Inf. */
  latencyHistogram: { le: (number | '+Inf')[]; counts: number[] };
}

/** Cumulative bucket counts of ascending `sorted` durations. */
function histogram(sorted: number[]): UpstreamFigures['latencyHistogram'] {
  const counts: number[] = [];
  let i = 0;
  for (const bound of LATENCY_BUCKETS_MS) {
    while (i < sorted.length && sorted[i]! <= bound) i++;
    counts.push(i);
  }
  counts.push(sorted.length);
  return { le: [...LATENCY_BUCKETS_MS, '+Inf'], counts };
}

/**
 * Per (destination host, subset) figures from access-log entries: requests, status classes, success
 * rate and latency percentiles. Entries without a destination (404 no route) are left out.
 */
export function upstreamFigures(entries: AccessLogEntry[], options: { sinceMs?: number; untilMs?: number; direction?: string } = {}): UpstreamFigures[] {
  const groups = new Map<string, AccessLogEntry[]>();
  for (const e of entries) {
    if (!e.destinationHost) continue;
    if (options.direction && e.direction !== options.direction) continue;
    if (options.sinceMs !== undefined && e.startMs < options.sinceMs) continue;
    if (options.untilMs !== undefined && e.startMs >= options.untilMs) continue;
    const key = `${e.destinationHost}\0${e.destinationSubset}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(e);
  }
  const out: UpstreamFigures[] = [];
  for (const [key, list] of groups) {
    const [destinationHost, destinationSubset] = key.split('\0');
    const statusClasses = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 };
    for (const e of list) {
      const c = Math.floor(e.status / 100);
      if (c >= 1 && c <= 5) statusClasses[`${c}xx` as '1xx'] += 1;
      else statusClasses.other += 1;
    }
    const durations = list.map((e) => e.durationMs).filter((d) => d >= 0).sort((a, b) => a - b);
    const failures = statusClasses['5xx'] + statusClasses.other;
    out.push({
      destinationHost,
      destinationSubset,
      requests: list.length,
      statusClasses,
      successRate: list.length ? ((list.length - failures) / list.length) * 100 : NaN,
      retries: list.reduce((n, e) => n + e.retries, 0),
      latencyMs: {
        p50: percentile(durations, 50),
        p90: percentile(durations, 90),
        p99: percentile(durations, 99),
        max: durations.length ? durations[durations.length - 1] : NaN,
        mean: durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : NaN,
      },
      latencyHistogram: histogram(durations),
    });
  }
  return out.sort((a, b) => (a.destinationHost + a.destinationSubset).localeCompare(b.destinationHost + b.destinationSubset));
}
