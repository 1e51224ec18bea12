// A cluster's traffic figures from the sidecars and gateways themselves, without a Prometheus: the one
// reader behind both `top` on a cluster and route shift's gates with `--metrics envoy`, so that the
// numbers a shift gates on are by construction the numbers top shows. Each pod's merged Prometheus
// stats (istio-agent's port 15020, /stats/prometheus: Istio's standard metrics) are read through the
// API server's pod proxy — one plain GET per pod, cheaper than opening a port-forward — at most 8 pods
// at once. A request is counted once, by the proxy that sent it (reporter="source"), in
// istio_requests_total and istio_request_duration_milliseconds.
// Istio's counters run from each proxy's start, so a window's figures are the differences between two
// readings of them (a counter that went down is a restarted proxy: its new value is the increase, as
// Prometheus' increase() takes it; a pod first read in the later reading counted before the window, so
// it is left out), and p99 comes from the bucket differences with histogram_quantile's interpolation.
// A reading in which no pod reports any istio_* series means Istio's metrics are hidden, which meshctl
// says by naming the setting.
// What the resilience policy did comes from the same readings: the refusals and failures by the
// response_flags label of Istio's request counter (a rate limit as its destination flagged it, RL; the
// others as the sender flagged them), and, where the sidecars' stats carry them (Istio's default
// proxyStatsMatcher hides them), Envoy's per-cluster upstream_rq_retry and
// outlier_detection.ejections_active and each destination pod's rbac.denied.
import { EXIT, MeshctlError } from '../errors.js';
import { mapBounded } from '../mesh/proxy-status.js';
import { UPSTREAM_FAILURE_FLAGS, percentOf, perSecond, statusClassOf, type ResilienceFigures, type StatusClasses, type TrafficFigures, type TrafficWindow, type UpstreamFigures } from '../runtime/figures.js';
import { ISTIO_REQUEST_DURATION, ISTIO_REQUESTS_TOTAL } from '../runtime/istio-metrics.js';
import { bucketsOf, histogramQuantile, parsePrometheusText, type Sample } from '../runtime/prometheus.js';
import { KubeApiError, type KubeClient } from './client.js';

/** istio-agent's merged stats port (Envoy's stats with the application's). */
export const MERGED_STATS_PORT = 15020;
/** Istio's merged stats as a pod's sidecar serves them. */
export const MERGED_STATS_PATH = '/stats/prometheus';
/** How many pods are read at once. */
export const POD_READ_CONCURRENCY = 8;
/** A first window without an earlier reading: how far apart its two readings are (at most the window). */
export const FIRST_SAMPLE_MS = 5000;

export interface StatsPod {
  namespace: string;
  name: string;
}

export interface SidecarStatsSource {
  /** Every sidecar and gateway pod read (the pods whose proxies may call the hosts). */
  pods(): Promise<StatsPod[]>;
  /** The exposition text of one pod's merged stats. */
  read(pod: StatsPod): Promise<string>;
  /** Istio's version label → the DestinationRule subset it stands for (empty: each version is a subset). */
  subsetsByVersion(host: string): Promise<Map<string, string>>;
  /** How reports name the cluster, for the sentences of an unreadable reading. */
  where: string;
}

/** The pods' merged stats read through the API server's pod proxy. */
export function podProxyStats(client: KubeClient, pods: () => Promise<StatsPod[]>, subsetsByVersion: (host: string) => Promise<Map<string, string>>): SidecarStatsSource {
  return {
    where: client.where,
    pods,
    read: (pod) => client.request<string>('GET', `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}:${MERGED_STATS_PORT}/proxy${MERGED_STATS_PATH}`, {
      text: true,
      accept: 'text/plain',
      timeoutMs: 5000,
      about: { verb: 'get', resource: 'pods/proxy', group: '', namespace: pod.namespace, name: pod.name },
    }),
    subsetsByVersion,
  };
}

/** No figures can be read from the sidecars; `reason` is the clause a shift's hold quotes. */
export class SidecarStatsUnavailable extends MeshctlError {
  constructor(readonly reason: string) {
    super(`${reason[0]!.toUpperCase()}${reason.slice(1)}.`, EXIT.environment);
  }
}

/** What one calling pod reported: request counts and duration buckets, keyed by destination. */
export interface PodCounters {
  /** `service|version|code` → requests. */
  requests: Map<string, number>;
  /** `service|version|le` → cumulative count. */
  buckets: Map<string, number>;
  /** `service|version|figure` → requests of a resilience figure (overflows, timeouts, noRoute, upstreamFailures, rateLimited), by their response flags. */
  outcomes: Map<string, number>;
  /** `host|subset` → Envoy's upstream_rq_retry of the pod's outbound cluster for that destination. */
  retries: Map<string, number>;
  /** `host|subset` → Envoy's outlier_detection.ejections_active of that cluster (a gauge). */
  ejected: Map<string, number>;
  /** RBAC denials of the pod's own listeners (Envoy's rbac.denied); absent when its stats do not carry them. */
  denied: Map<string, number>;
}

type CountedFigure = 'overflows' | 'timeouts' | 'noRoute' | 'upstreamFailures' | 'rateLimited';

/** The figures a request's response flags put it in, as the proxy that reported it flagged it. */
function flaggedFigures(flags: string, reporter: string): CountedFigure[] {
  const list = flags.split(',');
  if (reporter === 'destination') return list.includes('RL') ? ['rateLimited'] : [];
  const out: CountedFigure[] = [];
  if (list.includes('UO')) out.push('overflows');
  if (list.includes('UT')) out.push('timeouts');
  if (list.includes('NR')) out.push('noRoute');
  if (list.some((f) => UPSTREAM_FAILURE_FLAGS.includes(f))) out.push('upstreamFailures');
  return out;
}

/** `outbound|9080|v1|reviews.default.svc.cluster.local` → its destination; null for any other cluster. */
function outboundCluster(name: string | undefined): string | null {
  const parts = (name ?? '').split('|');
  return parts.length === 4 && parts[0] === 'outbound' ? [parts[3], parts[2]].join(SEP) : null;
}

/** Envoy's own cluster label, or Istio's name for it. */
const clusterOf = (s: Sample) => outboundCluster(s.labels.cluster_name ?? s.labels.envoy_cluster_name);

interface Reading {
  at: number;
  pods: Map<string, PodCounters>;
}

const SEP = '|';

/** The source-reported counters of one pod's exposition text; null when it holds no istio_* series at all. */
export function podCounters(text: string): PodCounters | null {
  const families = parsePrometheusText(text);
  if (!families.some((f) => f.name.startsWith('istio_') && f.samples.length)) return null;
  const counters: PodCounters = { requests: new Map(), buckets: new Map(), outcomes: new Map(), retries: new Map(), ejected: new Map(), denied: new Map() };
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + (Number.isFinite(v) ? v : 0));
  const source = (s: Sample) => s.labels.reporter === 'source' && s.labels.destination_service;
  const destination = (s: Sample) => [s.labels.destination_service, s.labels.destination_version ?? ''].join(SEP);
  // The destination this pod serves, as its own reports name it (where its RBAC denials belong).
  const served = new Set<string>();
  let denied: number | null = null;
  for (const f of families) {
    if (f.name === ISTIO_REQUESTS_TOTAL) {
      for (const s of f.samples) {
        if (!s.labels.destination_service) continue;
        if (s.labels.reporter === 'destination') served.add(destination(s));
        if (source(s)) add(counters.requests, [destination(s), s.labels.response_code ?? '0'].join(SEP), s.value);
        for (const figure of flaggedFigures(s.labels.response_flags ?? '-', s.labels.reporter ?? '')) add(counters.outcomes, [destination(s), figure].join(SEP), s.value);
      }
    } else if (f.name === ISTIO_REQUEST_DURATION) {
      for (const s of f.samples) if (source(s) && s.name.endsWith('_bucket') && s.labels.le !== undefined) add(counters.buckets, [destination(s), s.labels.le].join(SEP), s.value);
    } else if (f.name === 'envoy_cluster_upstream_rq_retry' || f.name === 'envoy_cluster_outlier_detection_ejections_active') {
      const into = f.name === 'envoy_cluster_upstream_rq_retry' ? counters.retries : counters.ejected;
      for (const s of f.samples) {
        const cluster = clusterOf(s);
        if (cluster !== null) add(into, cluster, s.value);
      }
    } else if (f.name === 'envoy_http_rbac_denied') {
      denied = f.samples.reduce((n, s) => n + (Number.isFinite(s.value) ? s.value : 0), denied ?? 0);
    }
  }
  if (denied !== null && served.size === 1) counters.denied.set([...served][0]!, denied);
  return counters;
}

/** A counter's increase between two readings: a value that went down is a restarted proxy, and its new value is the increase. */
function increase(before: number | undefined, after: number): number {
  if (before === undefined) return after;
  return after >= before ? after - before : after;
}

/** The increases of every counter of the pods present in both readings; a gauge (ejections) as the later reading has it, the most any pod reports. */
function differences(before: Reading, after: Reading): PodCounters {
  const out: PodCounters = { requests: new Map(), buckets: new Map(), outcomes: new Map(), retries: new Map(), ejected: new Map(), denied: new Map() };
  for (const [pod, now] of after.pods) {
    for (const [k, v] of now.ejected) out.ejected.set(k, Math.max(out.ejected.get(k) ?? 0, v));
    const then = before.pods.get(pod);
    // A pod first read in this reading: its counters since it started are not the window's.
    if (!then) continue;
    for (const field of ['requests', 'buckets', 'outcomes', 'retries', 'denied'] as const) {
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
  // Success is non-5xx over all, as the gates' Prometheus query counts it.
  const failed = statusClasses['5xx'];
  return {
    requests,
    statusClasses,
    successRate: requests > 0 ? percentOf(requests - failed, requests) : null,
    ratePerSecond: perSecond(requests, spanMs),
    latencyMs: { p50: quantile(0.5), p90: quantile(0.9), p95: quantile(0.95), p99: quantile(0.99) },
    // Istio's metrics do not count a sidecar's retries: Envoy's cluster stats do, where they are shown.
    retries: 0,
  };
}

/**
 * What the policy did to the requests to `service` whose version is one of `versions` (all when null),
 * through the callers' clusters for `subset`: null where no sidecar's stats carry the figure.
 */
export function resilienceOf(delta: PodCounters, service: string, subset: string, versions: readonly string[] | null): ResilienceFigures {
  const wanted = (k: string) => {
    const [s, v] = k.split(SEP) as [string, string];
    return s === service && (versions === null || versions.includes(v));
  };
  const counted = (figure: CountedFigure) => [...delta.outcomes].reduce((n, [k, v]) => (wanted(k) && k.endsWith(`${SEP}${figure}`) ? n + v : n), 0);
  const cluster = [service, subset].join(SEP);
  const denials = [...delta.denied].filter(([k]) => wanted(k));
  return {
    // Envoy counts attempts, not the requests that needed them.
    retried: null,
    retries: delta.retries.get(cluster) ?? null,
    denied: denials.length ? denials.reduce((n, [, v]) => n + v, 0) : null,
    rateLimited: counted('rateLimited'),
    overflows: counted('overflows'),
    timeouts: counted('timeouts'),
    noRoute: counted('noRoute'),
    upstreamFailures: counted('upstreamFailures'),
    ejected: delta.ejected.get(cluster) ?? null,
  };
}

/** The figures and resilience figures of one destination. */
function upstreamFigures(delta: PodCounters, host: string, subset: string, versions: readonly string[] | null, spanMs: number): UpstreamFigures {
  const resilience = resilienceOf(delta, host, subset, versions);
  return { host, subset, ...figuresOf(delta, host, versions, spanMs), retries: resilience.retries ?? 0, resilience };
}

/** Which destinations a window's figures are for. */
export type Destinations =
  /** Every destination any sidecar sent to, per subset (top). */
  | { every: true }
  /** These hosts, per subset (a VirtualService shift). */
  | { hosts: string[]; bySubset: true }
  /** These hosts, one destination each whatever its versions (an HTTPRoute's backends). */
  | { hosts: string[]; bySubset: false };

/**
 * The sidecars' readings: one at the start (or, on a first window, one taken a sample before), one at
 * each window's end; a window is judged on the difference from the latest reading taken at or before
 * its start, else the oldest.
 */
export class SidecarStatsTraffic {
  private readings: Reading[] = [];
  private readonly subsets = new Map<string, Map<string, string>>();

  constructor(private readonly source: SidecarStatsSource) {}

  async startNow(): Promise<void> {
    this.readings = [await this.reading()];
  }

  async figures(window: TrafficWindow, destinations: Destinations = { every: true }): Promise<UpstreamFigures[]> {
    if (!this.readings.length) {
      this.readings = [await this.reading()];
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(FIRST_SAMPLE_MS, window.untilMs - window.sinceMs))));
    }
    const now = await this.reading();
    const base = [...this.readings].reverse().find((r) => r.at <= window.sinceMs) ?? this.readings[0]!;
    // Readings before the base are no window's start any more.
    this.readings = [...this.readings.filter((r) => r.at >= base.at), now];
    const delta = differences(base, now);
    const spanMs = now.at - base.at;
    const out: UpstreamFigures[] = [];
    const hosts = 'every' in destinations ? [...new Set([...delta.requests.keys()].map((k) => k.split(SEP)[0]!))] : destinations.hosts;
    for (const host of hosts) {
      if ('bySubset' in destinations && !destinations.bySubset) {
        out.push(upstreamFigures(delta, host, '', null, spanMs));
        continue;
      }
      for (const [subset, versions] of await this.versionsBySubset(host, delta)) out.push(upstreamFigures(delta, host, subset, versions, spanMs));
    }
    return out.filter((f) => f.requests > 0);
  }

  /** The host's DestinationRule subsets with the versions they stand for; a version no subset names is its own. */
  private async versionsBySubset(host: string, delta: PodCounters): Promise<Map<string, string[]>> {
    if (!this.subsets.has(host)) this.subsets.set(host, await this.source.subsetsByVersion(host));
    const named = this.subsets.get(host)!;
    const out = new Map<string, string[]>();
    const add = (subset: string, version: string) => out.set(subset, [...(out.get(subset) ?? []), version]);
    for (const [version, subset] of named) add(subset, version);
    for (const k of delta.requests.keys()) {
      const [s, v] = k.split(SEP) as [string, string];
      // Istio's label for a pod without a version.
      const subset = v === 'unknown' ? '' : v;
      if (s === host && !named.has(v) && !out.get(subset)?.includes(v)) add(subset, v);
    }
    return out;
  }

  /** Every sidecar and gateway read once; a pod that does not answer is left out of this reading. */
  private async reading(): Promise<Reading> {
    const pods = await this.source.pods();
    const failures: string[] = [];
    const read = await mapBounded(pods, POD_READ_CONCURRENCY, async (pod) => {
      try {
        return podCounters(await this.source.read(pod));
      } catch (err) {
        // RBAC and credentials concern every pod: the user's to fix (exit 3, the rule to add), not a gap in the figures.
        if (err instanceof KubeApiError && (err.statusCode === 401 || err.statusCode === 403)) throw err;
        failures.push(`${pod.namespace}/${pod.name}: ${(err as Error).message.replace(/\.$/, '')}`);
        return undefined;
      }
    });
    const answered = read.filter((c) => c !== undefined).length;
    if (!answered) {
      const why = pods.length ? `none of the ${pods.length} sidecar pods answered at :${MERGED_STATS_PORT}${MERGED_STATS_PATH} (${failures[0]})` : 'no sidecar or gateway pod runs in the namespaces read';
      throw new SidecarStatsUnavailable(`the Envoy stats of ${this.source.where}: ${why}`);
    }
    if (read.every((c) => c === null || c === undefined)) {
      throw new SidecarStatsUnavailable(`none of the ${answered} sidecars read on ${this.source.where} reports any istio_* metric, so Istio's standard metrics are hidden: allow istio_requests_total and istio_request_duration_milliseconds in meshConfig.defaultConfig.proxyStatsMatcher (or the pods' proxy.istio.io/config annotation), and check that no Telemetry resource disables metrics`);
    }
    const out: Reading = { at: Date.now(), pods: new Map() };
    pods.forEach((p, i) => {
      const c = read[i];
      if (c) out.pods.set(`${p.namespace}/${p.name}`, c);
    });
    return out;
  }
}
