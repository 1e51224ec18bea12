// A shift's gates on a cluster, read from Prometheus with Istio's standard metrics, as Flagger's Istio
// provider reads them: requests and 5xx from istio_requests_total, p99 from histogram_quantile over
// istio_request_duration_milliseconds_bucket, reported by the destination's sidecar, per
// destination_version. The answer is the same per-subset figures the local access logs give, so the
// gates do not know where they came from. No series is "not enough traffic"; an error or a timeout is
// "metrics unavailable", which holds a shift (exit 4) and never rolls it back.
import { EXIT, MeshctlError } from '../errors.js';
import { noRequests, type TrafficWindow, type UpstreamFigures } from '../runtime/figures.js';

export const METRICS_UNAVAILABLE = 'metrics unavailable';

/** How a PromQL query reaches Prometheus: a URL, or the API server's service proxy. */
export type PromQuery = (query: string, timeSeconds: number) => Promise<unknown>;

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The three queries of one window for one destination service, grouped by destination_version. */
export function gateQueries(service: string, windowSeconds: number): { requests: string; errors: string; p99: string } {
  const selector = `reporter="destination",destination_service="${service}"`;
  const range = `[${windowSeconds}s]`;
  return {
    requests: `sum by (destination_version) (increase(istio_requests_total{${selector}}${range}))`,
    errors: `sum by (destination_version) (increase(istio_requests_total{${selector},response_code=~"5.."}${range}))`,
    p99: `histogram_quantile(0.99, sum by (le, destination_version) (rate(istio_request_duration_milliseconds_bucket{${selector}}${range})))`,
  };
}

function vector(answer: unknown, query: string): VectorSample[] {
  const a = answer as { status?: string; error?: string; data?: { resultType?: string; result?: VectorSample[] } };
  if (a?.status !== 'success' || a.data?.resultType !== 'vector') throw new Error(a?.error ?? `an answer that is not a vector to ${query}`);
  return a.data.result ?? [];
}

/** Per-subset figures of `host` in the window; `subsetOfVersion` maps Istio's version label to a subset. */
export async function prometheusFigures(query: PromQuery, host: string, window: TrafficWindow, subsetOfVersion: (version: string) => string | undefined, where: string): Promise<UpstreamFigures[]> {
  const seconds = Math.max(1, Math.round((window.untilMs - window.sinceMs) / 1000));
  const at = window.untilMs / 1000;
  const q = gateQueries(host, seconds);
  let requests: VectorSample[];
  let errors: VectorSample[];
  let p99: VectorSample[];
  try {
    [requests, errors, p99] = await Promise.all([
      query(q.requests, at).then((a) => vector(a, q.requests)),
      query(q.errors, at).then((a) => vector(a, q.errors)),
      query(q.p99, at).then((a) => vector(a, q.p99)),
    ]);
  } catch (err) {
    throw new MeshctlError(`${METRICS_UNAVAILABLE}: ${where} did not answer the gate's query (${(err as Error).message.replace(/\.$/, '')}); the shift holds where it is`, EXIT.held);
  }
  const byVersion = (samples: VectorSample[], version: string) => {
    const s = samples.find((x) => (x.metric.destination_version ?? '') === version);
    const n = s ? Number(s.value[1]) : NaN;
    return Number.isFinite(n) ? n : null;
  };
  const out: UpstreamFigures[] = [];
  for (const sample of requests) {
    const version = sample.metric.destination_version ?? '';
    const subset = subsetOfVersion(version);
    if (subset === undefined) continue;
    const total = Math.round(Number(sample.value[1]));
    if (!(total > 0)) continue;
    const failed = Math.min(total, Math.round(byVersion(errors, version) ?? 0));
    const latency = byVersion(p99, version);
    const figures = noRequests();
    out.push({
      ...figures,
      host,
      subset,
      requests: total,
      statusClasses: { ...figures.statusClasses, '2xx': total - failed, '5xx': failed },
      successRate: Math.floor(((total - failed) / total) * 10_000) / 100,
      ratePerSecond: Math.round((total / seconds) * 100) / 100,
      latencyMs: { p50: null, p90: null, p95: null, p99: latency },
    });
  }
  return out;
}
