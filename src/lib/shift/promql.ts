// Route shift's gates in PromQL: the queries Flagger's Istio provider runs (request success rate from
// istio_requests_total, request duration from istio_request_duration_milliseconds), scoped to one
// subset, and the figures a window of them gives. One text for every mesh target: the local mesh's
// Prometheus and a cluster's Istio Prometheus are asked the same questions; only how a subset's requests
// are told apart differs (the local mesh's Workloads, or a cluster service's destination_version).
import { perSecond, type StatusClasses, type TrafficFigures, type TrafficWindow } from '../runtime/figures.js';

/** Which requests a query counts: those the destination sidecars of these workloads received. */
export interface PromqlScope {
  namespace: string;
  /** The workloads (Deployments, or the local mesh's Workloads) whose pods a subset selects. */
  workloads: string[];
}

/**
 * A cluster's subset: the requests one service's sidecars received from pods of these versions (a
 * DestinationRule subset selects pods by their version label, which Istio reports as destination_version).
 */
export interface VersionScope {
  service: string;
  /** Empty: every version. */
  versions: string[];
}

/** How a query picks one subset's requests. */
export type SubsetSelection = PromqlScope | VersionScope;

/** Where queries go: a Prometheus URL, or a way to reach one (a cluster's through the API server) and its name. */
export type PrometheusEndpoint = string | { where: string; query: (query: string, timeSeconds: number) => Promise<unknown> };

/** A Prometheus that did not answer, or answered with an error: the gates cannot judge ("metrics unavailable"). */
export class MetricsUnavailable extends Error {}

/** A label value inside a PromQL string literal. */
function literal(v: string): string {
  return JSON.stringify(v);
}

/** An RE2 alternation matching exactly these names. */
function exactAlternation(names: readonly string[]): string {
  return names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

/** The label matchers of a scope, as Flagger writes them for Istio. */
export function scopeMatchers(scope: SubsetSelection): string {
  // No versions: every request to the service (an HTTPRoute's backend Service is one destination).
  if ('versions' in scope) return `reporter="destination",destination_service=${literal(scope.service)}${scope.versions.length ? `,destination_version=~${literal(exactAlternation(scope.versions))}` : ''}`;
  return `reporter="destination",destination_workload_namespace=${literal(scope.namespace)},destination_workload=~${literal(exactAlternation(scope.workloads))}`;
}

/** A range as PromQL writes it, in whole seconds (at least one). */
export function promqlRange(windowMs: number): string {
  return `${Math.max(1, Math.ceil(windowMs / 1000))}s`;
}

/** Flagger's Istio request-success-rate: the percentage of requests not answered with a 5xx. */
export function successRateQuery(scope: SubsetSelection, range: string): string {
  const m = scopeMatchers(scope);
  return `sum(rate(istio_requests_total{${m},response_code!~"5.*"}[${range}])) / sum(rate(istio_requests_total{${m}}[${range}])) * 100`;
}

/** Flagger's Istio request-duration: a quantile (0.99 for the gate) of the duration histogram, in milliseconds. */
export function requestDurationQuery(scope: SubsetSelection, range: string, quantile = 0.99): string {
  return `histogram_quantile(${quantile}, sum(rate(istio_request_duration_milliseconds_bucket{${scopeMatchers(scope)}}[${range}])) by (le))`;
}

/** Requests in the window by response code (for the request count and status classes a gate reports). */
export function requestsByCodeQuery(scope: SubsetSelection, range: string): string {
  return `sum by (response_code) (increase(istio_requests_total{${scopeMatchers(scope)}}[${range}]))`;
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The instant vector of `query` at `atMs`; an empty vector when no series matches. Throws MetricsUnavailable on any failure. */
export async function promqlVector(endpoint: PrometheusEndpoint, query: string, atMs: number, timeoutMs = 5000): Promise<VectorSample[]> {
  if (typeof endpoint !== 'string') return vectorOf(await askThrough(endpoint, query, atMs), endpoint.where);
  const url = endpoint;
  const params = new URLSearchParams({ query, time: (atMs / 1000).toFixed(3), timeout: `${Math.max(1, Math.floor(timeoutMs / 1000))}s` });
  let body: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } };
  try {
    const r = await fetch(`${url.replace(/\/+$/, '')}/api/v1/query`, { method: 'POST', body: params, signal: AbortSignal.timeout(timeoutMs) });
    body = (await r.json()) as typeof body;
  } catch (err) {
    throw new MetricsUnavailable(`Prometheus at ${url} did not answer (${(err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message})`);
  }
  return vectorOf(body, `Prometheus at ${url}`);
}

async function askThrough(endpoint: Exclude<PrometheusEndpoint, string>, query: string, atMs: number): Promise<PrometheusAnswer> {
  try {
    return (await endpoint.query(query, atMs / 1000)) as PrometheusAnswer;
  } catch (err) {
    throw new MetricsUnavailable(`${endpoint.where} did not answer (${(err as Error).message.replace(/\.$/, '')})`);
  }
}

type PrometheusAnswer = { status?: string; error?: string; data?: { resultType?: string; result?: unknown } } | null;

function vectorOf(body: PrometheusAnswer, where: string): VectorSample[] {
  if (body?.status !== 'success') throw new MetricsUnavailable(`${where} refused the query (${body?.error ?? 'no reason given'})`);
  if (body.data?.resultType === 'scalar') {
    const [t, v] = body.data.result as [number, string];
    return [{ metric: {}, value: [t, v] }];
  }
  return (body.data?.result as VectorSample[] | undefined) ?? [];
}

/** The single value of a query that sums everything; null when no series matched or the value is NaN. */
export async function promqlScalar(endpoint: PrometheusEndpoint, query: string, atMs: number, timeoutMs?: number): Promise<number | null> {
  const [first] = await promqlVector(endpoint, query, atMs, timeoutMs);
  const v = first ? Number(first.value[1]) : NaN;
  return Number.isFinite(v) ? v : null;
}

/**
 * Which scrape job holds the series a window is read from: Prometheus knows a window only once it has
 * scraped every target of the job after the window's end (with Istio's 15 s interval, a window read
 * right after its traffic misses up to 15 s of it).
 */
export interface ScrapeFreshness {
  job: string;
  /** The interval to assume when the targets API does not say (Prometheus before 2.33). */
  defaultIntervalMs?: number;
  /** How long to wait for the scrapes at most (default: two intervals and 5 s); past it the figures are "metrics unavailable". */
  maxWaitMs?: number;
}

interface ActiveTarget {
  labels?: Record<string, string>;
  health?: string;
  lastScrape?: string;
  scrapeInterval?: string;
}

async function jobTargets(url: string, job: string, timeoutMs: number): Promise<{ lastScrapeMs: number; intervalMs: number | null }[]> {
  let body: { status?: string; data?: { activeTargets?: ActiveTarget[] } };
  try {
    const r = await fetch(`${url.replace(/\/+$/, '')}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(timeoutMs) });
    body = (await r.json()) as typeof body;
  } catch (err) {
    throw new MetricsUnavailable(`Prometheus at ${url} did not answer (${(err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message})`);
  }
  if (body.status !== 'success') throw new MetricsUnavailable(`Prometheus at ${url} did not list its targets`);
  return (body.data?.activeTargets ?? [])
    .filter((t) => t.labels?.job === job && t.health !== 'down')
    .map((t) => ({ lastScrapeMs: t.lastScrape ? Date.parse(t.lastScrape) : 0, intervalMs: t.scrapeInterval ? parseGoDurationMs(t.scrapeInterval) : null }));
}

/** Prometheus' interval text (`15s`, `1m`, `1m30s`) in milliseconds; null when it is none. */
function parseGoDurationMs(text: string): number | null {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (!parts.length) return null;
  const scale: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return parts.reduce((n, p) => n + Number(p[1]) * scale[p[2]!]!, 0);
}

/**
 * When a window's queries are evaluated and over what range, once every target of the job has been
 * scraped after the window's end: at the newest of those scrapes, over a range that reaches back one
 * interval before the window's start, so that the sample before the window is in it and a window
 * shorter than the interval still has two samples. Without targets of the job (a Prometheus that does
 * not scrape the mesh under that name) the window is read as it is.
 */
export async function freshWindow(url: string, window: TrafficWindow, freshness: ScrapeFreshness, pollMs = 250): Promise<{ atMs: number; range: string }> {
  const started = Date.now();
  for (;;) {
    const targets = await jobTargets(url, freshness.job, 5000);
    if (!targets.length) return { atMs: window.untilMs, range: promqlRange(window.untilMs - window.sinceMs) };
    const intervalMs = Math.max(...targets.map((t) => t.intervalMs ?? freshness.defaultIntervalMs ?? 15_000));
    const oldest = Math.min(...targets.map((t) => t.lastScrapeMs));
    if (oldest >= window.untilMs) {
      const atMs = Math.max(...targets.map((t) => t.lastScrapeMs)) + 1;
      return { atMs, range: promqlRange(atMs - window.sinceMs + intervalMs) };
    }
    const maxWaitMs = freshness.maxWaitMs ?? 2 * intervalMs + 5000;
    if (Date.now() - started >= maxWaitMs) {
      throw new MetricsUnavailable(`Prometheus at ${url} has not scraped every target of job ${freshness.job} since the window ended (the oldest scrape is from ${new Date(oldest).toISOString()}); the gates wait for its next scrape`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * The figures of one subset over `window`, from Prometheus: request count and status classes from
 * the counter's increase, the success rate from Flagger's query (rounded down to 0.01 as every other
 * reader rounds), p50/p90/p95/p99 from the histogram. No series at all is a window without requests
 * ("not enough traffic"), never a failure.
 */
export async function promqlFigures(url: PrometheusEndpoint, scope: SubsetSelection, window: TrafficWindow, freshness?: ScrapeFreshness): Promise<TrafficFigures> {
  const { atMs: at, range } = freshness && typeof url === 'string' ? await freshWindow(url, window, freshness) : { atMs: window.untilMs, range: promqlRange(window.untilMs - window.sinceMs) };
  const [byCode, rate, p50, p90, p95, p99] = await Promise.all([
    promqlVector(url, requestsByCodeQuery(scope, range), at),
    promqlScalar(url, successRateQuery(scope, range), at),
    ...[0.5, 0.9, 0.95, 0.99].map((q) => promqlScalar(url, requestDurationQuery(scope, range, q), at)),
  ]);
  const statusClasses: StatusClasses = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 };
  for (const s of byCode) {
    const n = Math.round(Number(s.value[1]));
    if (!(n > 0)) continue;
    const c = `${String(s.metric.response_code ?? '0')[0]}xx`;
    if (c in statusClasses && c !== '0xx') statusClasses[c as keyof StatusClasses] += n;
    else statusClasses.other += n;
  }
  const requests = Object.values(statusClasses).reduce((a, b) => a + b, 0);
  const enough = requests > 0 && rate !== null;
  const round = (v: number | null) => (enough && v !== null ? Math.round(v * 100) / 100 : null);
  return {
    requests: enough ? requests : 0,
    statusClasses,
    successRate: enough ? Math.floor(rate * 100 + 1e-9) / 100 : null,
    ratePerSecond: perSecond(enough ? requests : 0, window.untilMs - window.sinceMs),
    latencyMs: { p50: round(p50), p90: round(p90), p95: round(p95), p99: round(p99) },
    // Istio's metrics do not count a sidecar's retries.
    retries: 0,
  };
}

/** The destination_version values of a service's requests in the window (a cluster whose DestinationRule names no subsets). */
export async function servedVersions(endpoint: PrometheusEndpoint, service: string, window: TrafficWindow): Promise<string[]> {
  const range = promqlRange(window.untilMs - window.sinceMs);
  const query = `sum by (destination_version) (increase(istio_requests_total{reporter="destination",destination_service=${literal(service)}}[${range}]))`;
  const samples = await promqlVector(endpoint, query, window.untilMs);
  return samples.filter((s) => Number(s.value[1]) > 0 && s.metric.destination_version).map((s) => s.metric.destination_version!).sort();
}
