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
  /** Absent where the reader reports none of them (Prometheus' standard metrics). */
  resilience?: ResilienceFigures;
}

/**
 * What the mesh's resilience and security policy did to the requests of a window, as the proxy that
 * sent them saw it (a request may count in several). null: the runtime does not report that figure.
 */
export interface ResilienceFigures {
  /** Requests that took more than one attempt. */
  retried: number | null;
  /** Attempts beyond the first, over every request. */
  retries: number | null;
  /** Answered 403 by an AuthorizationPolicy (RBAC: access denied). */
  denied: number | null;
  /** Refused by a rate limit (429, flag RL). */
  rateLimited: number | null;
  /** Refused at once because the destination's connection pool was full (503, flag UO). */
  overflows: number | null;
  /** Cut off at the route's timeout or an attempt's (504, flag UT). */
  timeouts: number | null;
  /** Refused for want of a route (flag NR, e.g. a host outside a REGISTRY_ONLY sidecar's registry). */
  noRoute: number | null;
  /** Failed upstream: connection failure or reset, no healthy endpoint, retries exhausted (UF, UC, UH, URX). */
  upstreamFailures: number | null;
  /** Endpoints of the destination that outlier detection has ejected now, in any proxy's view. */
  ejected: number | null;
}

/** The response flags of each failure class, as Envoy names them. */
export const UPSTREAM_FAILURE_FLAGS: readonly string[] = ['UF', 'UC', 'UH', 'URX'];

/** The figures of a runtime that reports none of the resilience figures. */
export function resilienceNotReported(): ResilienceFigures {
  return { retried: null, retries: null, denied: null, rateLimited: null, overflows: null, timeouts: null, noRoute: null, upstreamFailures: null, ejected: null };
}

/** One request as a proxy counted it (a runtime with per-request records, e.g. an access log line). */
export interface RequestSample {
  startMs: number;
  /** HTTP status; not 100–599 when the request ended without one. */
  status: number;
  /** Total duration; negative when unknown. */
  durationMs: number;
  retries: number;
  /** Envoy's response flags of the request; absent when the runtime logs none. */
  responseFlags?: readonly string[];
}

/** How a sample counts in the resilience figures; `denied` and `rateLimited` may be known beyond the sample (the destination decided them). */
export interface SampleOutcome {
  denied: boolean;
  rateLimited: boolean;
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

/**
 * The resilience figures of the samples that started within `window`; `outcome` says which were
 * denied or rate-limited where the sample alone cannot (a refusal the destination's proxy logged).
 * Ejections are a state, not a count of requests: null here, filled by whoever reads that state.
 */
export function resilienceFiguresOf<S extends RequestSample>(samples: Iterable<S>, window: TrafficWindow, outcome: (s: S) => SampleOutcome): ResilienceFigures {
  const out = { retried: 0, retries: 0, denied: 0, rateLimited: 0, overflows: 0, timeouts: 0, noRoute: 0, upstreamFailures: 0 };
  for (const s of samples) {
    if (s.startMs < window.sinceMs || s.startMs >= window.untilMs) continue;
    const flags = s.responseFlags ?? [];
    const { denied, rateLimited } = outcome(s);
    if (s.retries > 0) out.retried += 1;
    out.retries += s.retries;
    if (denied) out.denied += 1;
    if (rateLimited || flags.includes('RL')) out.rateLimited += 1;
    if (flags.includes('UO')) out.overflows += 1;
    if (flags.includes('UT')) out.timeouts += 1;
    if (flags.includes('NR')) out.noRoute += 1;
    if (flags.some((f) => UPSTREAM_FAILURE_FLAGS.includes(f))) out.upstreamFailures += 1;
  }
  return { ...out, ejected: null };
}

/** The figures of a window without requests. */
export function noRequests(): TrafficFigures {
  return figuresOf([], { sinceMs: 0, untilMs: 0 });
}

/** Just the figures of a row that carries more (an upstream's host and subset, top's service). */
export function figuresPart(f: TrafficFigures): TrafficFigures {
  return { requests: f.requests, statusClasses: { ...f.statusClasses }, successRate: f.successRate, ratePerSecond: f.ratePerSecond, latencyMs: { ...f.latencyMs }, retries: f.retries };
}
