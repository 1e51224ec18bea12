// Traffic figures: what route shift's gates judge, what top shows and what inspect's stats report, in one
// shape whatever runtime counted the requests, with one rounding and one word for a window without
// requests, so that the numbers a shift gates on are the numbers an operator reads before promoting.

/** What every reader says where a window holds no request (in JSON the figure is null). */
export const NOT_ENOUGH_TRAFFIC = 'not enough traffic';

/** The requests that started in [sinceMs, untilMs) (epoch milliseconds). */
export interface TrafficWindow {
  sinceMs: number;
  untilMs: number;
}

export interface StatusClasses {
  '1xx': number;
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
  /** Requests that ended without a status (cut off before any response). */
  other: number;
}

export interface TrafficFigures {
  requests: number;
  statusClasses: StatusClasses;
  /** Requests answered with anything but 5xx over all requests, in percent rounded down to 0.01; null: not enough traffic. */
  successRate: number | null;
  /** Requests per second over the window, rounded to 0.01. */
  ratePerSecond: number;
  /** Nearest-rank percentiles of the requests' total durations; null: not enough traffic. */
  latencyMs: { p50: number | null; p90: number | null; p95: number | null; p99: number | null };
  retries: number;
}

/** The figures of the requests sent to one destination host and subset ("" when the route names none). */
export interface UpstreamFigures extends TrafficFigures {
  host: string;
  subset: string;
}

/** One request as a proxy counted it (a runtime with per-request records, e.g. an access log line). */
export interface RequestSample {
  startMs: number;
  /** HTTP status; not 100–599 when the request ended without one. */
  status: number;
  /** Total duration; negative when unknown. */
  durationMs: number;
  retries: number;
}

/** The one way an upstream is keyed, wherever figures are grouped. */
export function upstreamKey(host: string, subset: string): string {
  return `${host}|${subset}`;
}

/** `part` of `total` in percent, rounded down to 0.01 so that a rate never reads better than it is; null without a total. */
export function percentOf(part: number, total: number): number | null {
  if (!(total > 0)) return null;
  return Math.floor((part * 10_000) / total + 1e-9) / 100;
}

/** A count over a span as a rate per second, rounded to 0.01. */
export function perSecond(count: number, spanMs: number): number {
  return spanMs > 0 ? Math.round((count * 100_000) / spanMs) / 100 : 0;
}

/** The `p`-th percentile (0–100) of ascending `sorted` values, nearest rank; null when empty. */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (!sorted.length) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function statusClassOf(status: number): keyof StatusClasses {
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 ? (`${c}xx` as keyof StatusClasses) : 'other';
}

/** The figures of the samples that started within `window`. */
export function figuresOf(samples: Iterable<RequestSample>, window: TrafficWindow): TrafficFigures {
  const statusClasses: StatusClasses = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 };
  const durations: number[] = [];
  let requests = 0;
  let retries = 0;
  for (const s of samples) {
    if (s.startMs < window.sinceMs || s.startMs >= window.untilMs) continue;
    requests += 1;
    statusClasses[statusClassOf(s.status)] += 1;
    retries += s.retries;
    if (s.durationMs >= 0) durations.push(s.durationMs);
  }
  durations.sort((a, b) => a - b);
  const failures = statusClasses['5xx'] + statusClasses.other;
  return {
    requests,
    statusClasses,
    successRate: percentOf(requests - failures, requests),
    ratePerSecond: perSecond(requests, window.untilMs - window.sinceMs),
    latencyMs: { p50: nearestRank(durations, 50), p90: nearestRank(durations, 90), p95: nearestRank(durations, 95), p99: nearestRank(durations, 99) },
    retries,
  };
}

/** The figures of a window without requests. */
export function noRequests(): TrafficFigures {
  return figuresOf([], { sinceMs: 0, untilMs: 0 });
}

/** Just the figures of a row that carries more (an upstream's host and subset, top's service). */
export function figuresPart(f: TrafficFigures): TrafficFigures {
  return { requests: f.requests, statusClasses: { ...f.statusClasses }, successRate: f.successRate, ratePerSecond: f.ratePerSecond, latencyMs: { ...f.latencyMs }, retries: f.retries };
}
