// Traffic figures from HAProxy access logs: the recent part of a log read from its end, and per
// (destination host, subset) request counts, status classes, success rate, rate and latency
// percentiles, for inspect's stats section and for top.
import { promises as fs } from 'node:fs';
import { parseAccessLog, percentile, type AccessLogEntry } from './access-log.js';

/** How much of a log is read at most, from its end (a busy proxy's log is large; recent requests are at its end). */
export const DEFAULT_READ_LIMIT_BYTES = 64 * 1024 * 1024;

export interface RecentLog {
  entries: AccessLogEntry[];
  /** Offset just after the last complete line (where to read new lines from next time). */
  nextOffset: number;
  /** True when the log holds older lines that were not read. */
  truncated: boolean;
  /** The log does not exist (yet). */
  missing: boolean;
}

const CHUNK = 1024 * 1024;

/**
 * The entries of an access log that started at or after `sinceMs` (all of them without it), read
 * backwards from the end in chunks so that a long log costs only its recent part; never more than
 * `limitBytes`.
 */
export async function readRecentAccessLog(file: string, options: { sinceMs?: number; limitBytes?: number } = {}): Promise<RecentLog> {
  const limit = options.limitBytes ?? DEFAULT_READ_LIMIT_BYTES;
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], nextOffset: 0, truncated: false, missing: true };
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const chunks: Buffer[] = [];
    let start = size;
    let truncated = false;
    for (;;) {
      if (start === 0) break;
      if (size - start >= limit) {
        truncated = true;
        break;
      }
      const length = Math.min(CHUNK, start, limit - (size - start));
      start -= length;
      const buf = Buffer.alloc(length);
      await handle.read(buf, 0, length, start);
      chunks.unshift(buf);
      if (options.sinceMs !== undefined && start > 0) {
        // Enough once the oldest complete line read so far is older than the window.
        const first = firstCompleteLine(Buffer.concat(chunks.slice(0, 2)));
        const startMs = first ? lineStartMs(first) : null;
        if (startMs !== null && startMs < options.sinceMs) {
          truncated = true;
          break;
        }
      }
    }
    let text = Buffer.concat(chunks);
    // A read that began mid-file starts with a partial line; the last line may still be being written.
    if (start > 0) {
      const nl = text.indexOf(0x0a);
      text = nl < 0 ? Buffer.alloc(0) : text.subarray(nl + 1);
    }
    const end = text.lastIndexOf(0x0a);
    const complete = end < 0 ? Buffer.alloc(0) : text.subarray(0, end + 1);
    const nextOffset = size - (text.length - complete.length);
    let entries = withUnsetFields(parseAccessLog(complete.toString('utf8')).entries);
    if (options.sinceMs !== undefined) entries = entries.filter((e) => e.startMs >= options.sinceMs!);
    return { entries, nextOffset, truncated, missing: false };
  } finally {
    await handle.close();
  }
}

/**
 * HAProxy logs a variable that was never set as "-": a request that matched no route has destination
 * host "-", one routed to a destination without subset has subset "-". Those become "".
 */
export function withUnsetFields(entries: AccessLogEntry[]): AccessLogEntry[] {
  for (const e of entries) {
    if (e.destinationHost === '-') e.destinationHost = '';
    if (e.destinationSubset === '-') e.destinationSubset = '';
    if (e.route === '-') e.route = '';
  }
  return entries;
}

function firstCompleteLine(buf: Buffer): string | null {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return null;
  const next = buf.indexOf(0x0a, nl + 1);
  return next < 0 ? null : buf.subarray(nl + 1, next).toString('utf8');
}

function lineStartMs(line: string): number | null {
  const m = /"start_ms":(\d+)/.exec(line);
  return m ? Number(m[1]) : null;
}

export interface TrafficFigures {
  requests: number;
  responses: { '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number; other: number };
  /** Non-5xx (and not cut off without a status) over all requests, in percent; null without requests. */
  successRate: number | null;
  /** Requests per second over the window. */
  ratePerSecond: number | null;
  latencyMs: { p50: number | null; p90: number | null; p95: number | null; p99: number | null; max: number | null };
  retries: number;
  /** When the first and last of these requests started (epoch ms); null without requests. */
  firstMs: number | null;
  lastMs: number | null;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Figures of a set of requests; `windowSeconds` turns the count into a rate. */
export function trafficFigures(entries: AccessLogEntry[], windowSeconds?: number): TrafficFigures {
  const responses = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 };
  let retries = 0;
  let firstMs: number | null = null;
  let lastMs: number | null = null;
  const durations: number[] = [];
  for (const e of entries) {
    const c = Math.floor(e.status / 100);
    if (c >= 1 && c <= 5) responses[`${c}xx` as '2xx'] += 1;
    else responses.other += 1;
    retries += e.retries;
    if (e.durationMs >= 0) durations.push(e.durationMs);
    firstMs = firstMs === null ? e.startMs : Math.min(firstMs, e.startMs);
    lastMs = lastMs === null ? e.startMs : Math.max(lastMs, e.startMs);
  }
  durations.sort((a, b) => a - b);
  const q = (p: number) => (durations.length ? percentile(durations, p) : null);
  const failures = responses['5xx'] + responses.other;
  return {
    requests: entries.length,
    responses,
    successRate: entries.length ? round(((entries.length - failures) / entries.length) * 100, 2) : null,
    ratePerSecond: windowSeconds && windowSeconds > 0 ? round(entries.length / windowSeconds, 2) : null,
    latencyMs: { p50: q(50), p90: q(90), p95: q(95), p99: q(99), max: durations.length ? durations[durations.length - 1]! : null },
    retries,
    firstMs,
    lastMs,
  };
}

/** The key of an upstream: destination host and subset ("" when the route names none). */
export function upstreamKey(host: string, subset: string): string {
  return `${host}|${subset}`;
}

/** Entries grouped by destination (host, subset); requests with no destination (no route: 404) are left out. */
export function byUpstream(entries: AccessLogEntry[]): Map<string, AccessLogEntry[]> {
  const out = new Map<string, AccessLogEntry[]>();
  for (const e of entries) {
    if (!e.destinationHost) continue;
    const key = upstreamKey(e.destinationHost, e.destinationSubset);
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push(e);
  }
  return out;
}
