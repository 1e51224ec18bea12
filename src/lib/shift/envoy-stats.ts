// Gates without Prometheus: the figures of a shift read from the Envoy sidecars of the calling pods
// themselves, at Istio's merged stats port (15020, /stats/prometheus) through the API server's pod proxy.
// Each caller's sidecar reports the requests it sent (reporter="source") in istio_requests_total and
// istio_request_duration_milliseconds; a window's figures are the differences between two readings of
// those counters (a counter that went down is a restarted proxy: its new value is the increase, as
// Prometheus' increase() takes it), and p99 comes from the bucket differences with histogram_quantile's
// interpolation. An empty difference is "not enough traffic"; a reading in which no pod reports any
// istio_* series means Istio's metrics are hidden, which meshctl says by naming the setting.
import { MetricsUnavailable } from './promql.js';
import { bucketsOf, histogramQuantile, parsePrometheusText, type Sample } from '../runtime/prometheus.js';
import { ISTIO_REQUESTS_TOTAL, ISTIO_REQUEST_DURATION } from '../runtime/istio-metrics.js';
import { percentOf, perSecond, statusClassOf, type StatusClasses, type TrafficFigures, type TrafficWindow, type UpstreamFigures } from '../runtime/figures.js';
import type { TrafficReader } from '../target/target.js';
import { mapBounded } from '../mesh/proxy-status.js';
import { MERGED_STATS_PORT, POD_READ_CONCURRENCY } from '../kube/sidecar-traffic.js';

/** Istio's merged stats (Envoy's and the agent's) as a pod's sidecar serves them, on the port top reads too. */
export const MERGED_STATS_PATH = '/stats/prometheus';
export { MERGED_STATS_PORT };

export interface StatsPod {
  namespace: string;
  name: string;
}

/** What one calling pod reported: request counts and duration buckets, keyed by destination. */
interface PodCounters {
  /** `service|version|code` → requests. */
  requests: Map<string, number>;
  /** `service|version|le` → cumulative count. */
  buckets: Map<string, number>;
}

interface Reading {
  at: number;
  pods: Map<string, PodCounters>;
}

export interface EnvoyStatsSource {
  /** The pods whose sidecars may call the host (every sidecar and gateway pod read). */
  pods(): Promise<StatsPod[]>;
  /** The exposition text of one pod's merged stats. */
  read(pod: StatsPod): Promise<string>;
  /** Istio's version label → the DestinationRule subset it stands for (empty: each version is a subset). */
  subsetsByVersion(host: string): Promise<Map<string, string>>;
  /** How reports name the cluster, for the sentences of an unreadable reading. */
  where: string;
}

const SEP = '|';

/** The source-reported counters of one pod's exposition text; null when it holds no istio_* series at all. */
export function podCounters(text: string): PodCounters | null {
  const families = parsePrometheusText(text);
  if (!families.some((f) => f.name.startsWith('istio_') && f.samples.length)) return null;
  const requests = new Map<string, number>();
  const buckets = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + (Number.isFinite(v) ? v : 0));
  const source = (s: Sample) => s.labels.reporter === 'source' && s.labels.destination_service;
  for (const f of families) {
    if (f.name === ISTIO_REQUESTS_TOTAL) {
      for (const s of f.samples) if (source(s)) add(requests, [s.labels.destination_service, s.labels.destination_version ?? '', s.labels.response_code ?? '0'].join(SEP), s.value);
    } else if (f.name === ISTIO_REQUEST_DURATION) {
      for (const s of f.samples) if (source(s) && s.name.endsWith('_bucket') && s.labels.le !== undefined) add(buckets, [s.labels.destination_service, s.labels.destination_version ?? '', s.labels.le].join(SEP), s.value);
    }
  }
  return { requests, buckets };
}

/** A counter's increase between two readings: a value that went down is a restarted proxy, and its new value is the increase. */
function increase(before: number | undefined, after: number): number {
  if (before === undefined) return after;
  return after >= before ? after - before : after;
}

/** The increases of every counter of the pods present in both readings. */
function differences(before: Reading, after: Reading): PodCounters {
  const out: PodCounters = { requests: new Map(), buckets: new Map() };
  for (const [pod, now] of after.pods) {
    const then = before.pods.get(pod);
    // A pod first read in this reading: its counters since it started are not the window's.
    if (!then) continue;
    for (const field of ['requests', 'buckets'] as const) {
      for (const [k, v] of now[field]) out[field].set(k, (out[field].get(k) ?? 0) + increase(then[field].get(k), v));
    }
  }
  return out;
}

/** The figures of the requests to `service` whose version is one of `versions` (all versions when null), from the counters' increases. */
export function figuresOf(delta: PodCounters, service: string, versions: readonly string[] | null, spanMs: number): TrafficFigures {
  const statusClasses: StatusClasses = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 };
  const wanted = (s: string, v: string) => s === service && (versions === null || versions.includes(v));
  for (const [k, n] of delta.requests) {
    const [s, v, code] = k.split(SEP) as [string, string, string];
    if (n > 0 && wanted(s, v)) statusClasses[statusClassOf(Number(code))] += n;
  }
  const requests = Object.values(statusClasses).reduce((a, b) => a + b, 0);
  const samples: Sample[] = [];
  for (const [k, n] of delta.buckets) {
    const [s, v, le] = k.split(SEP) as [string, string, string];
    if (wanted(s, v)) samples.push({ name: `${ISTIO_REQUEST_DURATION}_bucket`, labels: { le }, value: n });
  }
  const buckets = bucketsOf(samples);
  // As histogram_quantile: no +Inf bucket is no answer, and counts are made monotonic first.
  const usable = buckets.length >= 2 && !Number.isFinite(buckets[buckets.length - 1]!.le);
  for (let i = 1; i < buckets.length; i++) buckets[i]!.count = Math.max(buckets[i]!.count, buckets[i - 1]!.count);
  const quantile = (q: number) => {
    const v = requests > 0 && usable ? histogramQuantile(buckets, q) : null;
    return v === null ? null : Math.round(v * 100) / 100;
  };
  const failed = statusClasses['5xx'];
  return {
    requests,
    statusClasses,
    successRate: requests > 0 ? percentOf(requests - failed, requests) : null,
    ratePerSecond: perSecond(requests, spanMs),
    latencyMs: { p50: quantile(0.5), p90: quantile(0.9), p95: quantile(0.95), p99: quantile(0.99) },
    // Istio's metrics do not count a sidecar's retries.
    retries: 0,
  };
}

/**
 * A shift's figures from the calling pods' sidecars: a reading at the start, one at each window's end;
 * a window is judged on the difference from the latest reading taken at or before its start.
 */
export class EnvoyStatsTraffic implements TrafficReader {
  private readings: Reading[] = [];
  private subsets = new Map<string, Map<string, string>>();

  constructor(private readonly source: EnvoyStatsSource, private readonly host?: string, private readonly hosts: string[] = []) {}

  private async reading(): Promise<Reading> {
    const pods = await this.source.pods();
    const failures: string[] = [];
    const read = await mapBounded(pods, POD_READ_CONCURRENCY, async (pod) => {
      try {
        return podCounters(await this.source.read(pod));
      } catch (err) {
        // A forbidden pod proxy is the user's to fix (exit 3, the rule to add), not a gap in the figures.
        if ((err as { statusCode?: number }).statusCode === 403) throw err;
        failures.push(`${pod.namespace}/${pod.name}: ${(err as Error).message.replace(/\.$/, '')}`);
        return undefined;
      }
    });
    const answered = read.filter((c) => c !== undefined).length;
    if (!answered) {
      const why = pods.length ? `none of the ${pods.length} sidecar pods answered at :${MERGED_STATS_PORT}${MERGED_STATS_PATH} (${failures[0]})` : 'no sidecar or gateway pod runs in the namespaces read';
      throw new MetricsUnavailable(`the Envoy stats of ${this.source.where}: ${why}`);
    }
    if (read.every((c) => c === null || c === undefined)) {
      throw new MetricsUnavailable(`none of the ${answered} sidecars read on ${this.source.where} reports any istio_* metric, so Istio's standard metrics are hidden: allow istio_requests_total and istio_request_duration_milliseconds in meshConfig.defaultConfig.proxyStatsMatcher (or the pods' proxy.istio.io/config annotation), and check that no Telemetry resource disables metrics`);
    }
    const out: Reading = { at: Date.now(), pods: new Map() };
    pods.forEach((p, i) => {
      const c = read[i];
      if (c) out.pods.set(`${p.namespace}/${p.name}`, c);
    });
    return out;
  }

  async startNow(): Promise<void> {
    this.readings = [await this.reading()];
  }

  async figures(window: TrafficWindow, options: { host?: string; mirrored?: boolean } = {}): Promise<UpstreamFigures[]> {
    // Mirrored copies are not told apart in Istio's standard metrics.
    if (options.mirrored) return [];
    const host = options.host ?? this.host;
    const hosts = host ? [host] : this.hosts;
    if (!hosts.length) return [];
    if (!this.readings.length) this.readings = [await this.reading()];
    const now = await this.reading();
    const base = [...this.readings].reverse().find((r) => r.at <= window.sinceMs) ?? this.readings[0]!;
    // Readings before the base are no window's start any more.
    this.readings = [...this.readings.filter((r) => r.at >= base.at), now];
    const delta = differences(base, now);
    const spanMs = now.at - base.at;
    const out: UpstreamFigures[] = [];
    for (const h of hosts) {
      if (!host) {
        // An HTTPRoute's backends: one destination each, whatever its versions.
        out.push({ host: h, subset: '', ...figuresOf(delta, h, null, spanMs) });
        continue;
      }
      if (!this.subsets.has(h)) this.subsets.set(h, await this.source.subsetsByVersion(h));
      const bySubset = new Map<string, string[]>();
      for (const [version, subset] of this.subsets.get(h)!) bySubset.set(subset, [...(bySubset.get(subset) ?? []), version]);
      if (!bySubset.size) {
        for (const k of delta.requests.keys()) {
          const [s, v] = k.split(SEP) as [string, string];
          if (s === h) bySubset.set(v, [v]);
        }
      }
      for (const [subset, versions] of bySubset) out.push({ host: h, subset, ...figuresOf(delta, h, versions, spanMs) });
    }
    return out.filter((f) => f.requests > 0);
  }
}
