// `top` on a cluster: the traffic figures of every destination (service and subset) from the sidecars
// and gateways themselves, without a Prometheus. Each pod's merged Prometheus stats (istio-agent's
// port 15020, /stats/prometheus: Istio's standard metrics) are read through the API server's pod proxy
// — one plain GET per pod, cheaper than opening a port-forward — at most 8 pods at once. A request is
// counted once, by the proxy that sent it (reporter="source"), as top counts on the local mesh.
// Istio's counters run from each proxy's start, so a window's figures are the difference between two
// readings: the one nearest the window's start, or, on a first snapshot, one taken a few seconds
// before (the span the figures then cover is that sample's, and the rate is per second of it).
import { EXIT, MeshctlError, usageError } from '../errors.js';
import { mapBounded } from '../mesh/proxy-status.js';
import { resolveShortName } from '../policy/hosts.js';
import { percentOf, perSecond, upstreamKey, type StatusClasses, type TrafficWindow, type UpstreamFigures } from '../runtime/figures.js';
import { ISTIO_REQUEST_DURATION, ISTIO_REQUESTS_TOTAL } from '../runtime/istio-metrics.js';
import { histogramQuantile, parsePrometheusText, samplesOf, type Bucket } from '../runtime/prometheus.js';
import { KubeApiError, type KubeClient } from './client.js';
import { KINDS, listObjects } from './resources.js';

/** istio-agent's merged stats port (Envoy's stats with the application's). */
export const MERGED_STATS_PORT = 15020;
/** How many pods are read at once. */
export const POD_READ_CONCURRENCY = 8;
/** A first snapshot's sample: how far apart its two readings are (at most the window). */
export const FIRST_SAMPLE_MS = 5000;

interface DestinationCounts {
  host: string;
  version: string;
  byCode: Map<string, number>;
  /** Cumulative bucket counts by upper bound (ms). */
  buckets: Map<number, number>;
}

/** One reading of every pod: per pod, per destination (host|version), the counters. */
interface Reading {
  atMs: number;
  pods: Map<string, Map<string, DestinationCounts>>;
}

export interface SidecarTrafficSource {
  client: KubeClient;
  /** The namespace read (undefined: every namespace). */
  namespace: string | undefined;
  proxies(): Promise<{ name: string; namespace: string }[]>;
}

/** The counters of istio_requests_total and its duration histogram that a proxy reported as the sender. */
export function sentRequestCounts(text: string): Map<string, DestinationCounts> {
  const families = parsePrometheusText(text);
  const out = new Map<string, DestinationCounts>();
  const entry = (labels: Record<string, string>) => {
    const host = labels.destination_service ?? 'unknown';
    const version = labels.destination_version ?? 'unknown';
    const k = `${host}|${version}`;
    let e = out.get(k);
    if (!e) out.set(k, (e = { host, version, byCode: new Map(), buckets: new Map() }));
    return e;
  };
  for (const s of samplesOf(families, ISTIO_REQUESTS_TOTAL, { reporter: 'source' })) {
    const e = entry(s.labels);
    const code = s.labels.response_code ?? '0';
    e.byCode.set(code, (e.byCode.get(code) ?? 0) + (Number.isFinite(s.value) ? s.value : 0));
  }
  for (const s of samplesOf(families, ISTIO_REQUEST_DURATION, { reporter: 'source' })) {
    if (!s.name.endsWith('_bucket') || s.labels.le === undefined) continue;
    const e = entry(s.labels);
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    e.buckets.set(le, (e.buckets.get(le) ?? 0) + (Number.isFinite(s.value) ? s.value : 0));
  }
  return out;
}

/** A counter's increase between two readings; a smaller value means the proxy restarted and counted anew. */
function increase(now: number, before: number | undefined): number {
  if (before === undefined) return now;
  return now >= before ? now - before : now;
}

export class SidecarStatsTraffic {
  private readonly readings: Reading[] = [];
  private subsets: Map<string, string> | null = null;

  constructor(private readonly source: SidecarTrafficSource) {}

  async startNow(): Promise<void> {
    this.readings.push(await this.read());
  }

  async figures(window: TrafficWindow): Promise<UpstreamFigures[]> {
    const now = Date.now();
    if (window.untilMs < now - FIRST_SAMPLE_MS) throw usageError('A cluster\'s sidecars count from their start and keep no history, so a past window (--until) needs Prometheus; pass --prometheus-url, or drop --until.');
    if (!this.readings.length) {
      this.readings.push(await this.read());
      await new Promise((resolve) => setTimeout(resolve, Math.min(FIRST_SAMPLE_MS, window.untilMs - window.sinceMs)));
    }
    const current = await this.read();
    // The reading nearest the window's start, not after it: the newest one at or before it, else the oldest.
    const before = [...this.readings].reverse().find((r) => r.atMs <= window.sinceMs) ?? this.readings[0]!;
    this.readings.push(current);
    // Readings older than the one a window of the same length would start at next time are not needed.
    while (this.readings.length > 2 && this.readings[1]!.atMs <= window.sinceMs) this.readings.shift();
    return this.between(before, current);
  }

  private async subsetOf(host: string, version: string): Promise<string> {
    if (!this.subsets) {
      this.subsets = new Map();
      for (const dr of await listObjects(this.source.client, KINDS.DestinationRule, { namespace: this.source.namespace })) {
        const spec = (dr.spec ?? {}) as { host?: string; subsets?: { name: string; labels?: Record<string, string> }[] };
        if (!spec.host) continue;
        const fqdn = resolveShortName(dr.metadata.namespace ?? 'default', spec.host);
        for (const s of spec.subsets ?? []) this.subsets.set(`${fqdn}|${s.labels?.version ?? s.name}`, s.name);
      }
    }
    return this.subsets.get(`${host}|${version}`) ?? (version === 'unknown' ? '' : version);
  }

  private async between(before: Reading, after: Reading): Promise<UpstreamFigures[]> {
    const spanMs = after.atMs - before.atMs;
    const totals = new Map<string, { host: string; subset: string; byCode: Map<string, number>; buckets: Map<number, number> }>();
    for (const [pod, destinations] of after.pods) {
      const earlier = before.pods.get(pod);
      for (const [k, d] of destinations) {
        const was = earlier?.get(k);
        const subset = await this.subsetOf(d.host, d.version);
        const key = upstreamKey(d.host, subset);
        let t = totals.get(key);
        if (!t) totals.set(key, (t = { host: d.host, subset, byCode: new Map(), buckets: new Map() }));
        for (const [code, n] of d.byCode) t.byCode.set(code, (t.byCode.get(code) ?? 0) + increase(n, was?.byCode.get(code)));
        for (const [le, n] of d.buckets) t.buckets.set(le, (t.buckets.get(le) ?? 0) + increase(n, was?.buckets.get(le)));
      }
    }
    const out: UpstreamFigures[] = [];
    for (const t of totals.values()) {
      const statusClasses: StatusClasses = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 };
      for (const [code, n] of t.byCode) {
        const c = `${code[0]}xx`;
        if (code.length === 3 && c in statusClasses) statusClasses[c as keyof StatusClasses] += Math.round(n);
        else statusClasses.other += Math.round(n);
      }
      const requests = Object.values(statusClasses).reduce((a, b) => a + b, 0);
      if (!requests) continue;
      const buckets: Bucket[] = [...t.buckets].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
      const quantile = (q: number) => {
        const v = histogramQuantile(buckets, q);
        return v === null ? null : Math.round(v * 100) / 100;
      };
      out.push({
        host: t.host,
        subset: t.subset,
        requests,
        statusClasses,
        successRate: percentOf(requests - statusClasses['5xx'] - statusClasses.other, requests),
        ratePerSecond: perSecond(requests, spanMs),
        latencyMs: { p50: quantile(0.5), p90: quantile(0.9), p95: quantile(0.95), p99: quantile(0.99) },
        // Istio's metrics do not count a sidecar's retries.
        retries: 0,
      });
    }
    return out;
  }

  /** Every sidecar and gateway read once; a pod that does not answer is left out of this reading. */
  private async read(): Promise<Reading> {
    const proxies = await this.source.proxies();
    const atMs = Date.now();
    const pods = new Map<string, Map<string, DestinationCounts>>();
    await mapBounded(proxies, POD_READ_CONCURRENCY, async (p) => {
      const path = `/api/v1/namespaces/${encodeURIComponent(p.namespace)}/pods/${encodeURIComponent(p.name)}:${MERGED_STATS_PORT}/proxy/stats/prometheus`;
      try {
        const text = await this.source.client.request<string>('GET', path, { text: true, accept: 'text/plain', timeoutMs: 5000, about: { verb: 'get', resource: 'pods/proxy', group: '', namespace: p.namespace, name: p.name } });
        pods.set(`${p.namespace}/${p.name}`, sentRequestCounts(text));
      } catch (err) {
        // RBAC and credentials concern every pod: one sentence for all. A pod that is not up is just not counted.
        if (err instanceof KubeApiError && (err.statusCode === 401 || err.statusCode === 403)) throw err;
        if (!(err instanceof MeshctlError) || err.exitCode !== EXIT.environment) throw err;
      }
    });
    return { atMs, pods };
  }
}
