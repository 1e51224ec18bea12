// A sidecar's per-upstream resilience counters under Envoy's stat names, made from the access-log lines
// it writes anyway (their retry count, response flags, status and authorization decision), so that no
// request pays for them and no rule of the sidecar changes:
//
//   envoy_cluster_upstream_rq_retry{cluster_name}             retries the sidecar made (outbound lines' %rc)
//   envoy_cluster_upstream_rq_pending_overflow{cluster_name}  requests refused by a connection pool (flag UO)
//   envoy_http_local_rate_limit_rate_limited{cluster_name}    requests refused by a rate limit (flag RL, 429)
//   envoy_http_rbac_denied{cluster_name}                      requests an AuthorizationPolicy denied (403)
//
//   envoy_cluster_outlier_detection_ejections_active{cluster_name}          endpoints ejected now (HAProxy's
//   envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name}  view of the upstream's servers)
//
// cluster_name is the upstream as the sidecar's spans name it: `outbound|HOST|SUBSET` for what it sends,
// `inbound|HOST` for what it receives.
import type { AccessLogEntry } from './haproxy/access-log.js';
import { isEjected, isObservedServer } from './haproxy/ejections.js';
import { statNumber, type StatRow } from './haproxy/runtime-api.js';
import { isPolicyDenial, isPoolOverflow, isRateLimited, isSentRequest } from './haproxy/traffic.js';

export interface ResilienceCounts {
  retries: number;
  overflows: number;
  rateLimited: number;
  denied: number;
}

export const RESILIENCE_METRICS: { key: keyof ResilienceCounts; name: string; help: string }[] = [
  { key: 'retries', name: 'envoy_cluster_upstream_rq_retry', help: 'Retries the sidecar made to the upstream.' },
  { key: 'overflows', name: 'envoy_cluster_upstream_rq_pending_overflow', help: 'Requests refused because the upstream\'s connection pool was full (response flag UO).' },
  { key: 'rateLimited', name: 'envoy_http_local_rate_limit_rate_limited', help: 'Requests refused by a rate limit (response flag RL).' },
  { key: 'denied', name: 'envoy_http_rbac_denied', help: 'Requests an AuthorizationPolicy denied (403, RBAC: access denied).' },
];

/** The upstream a line counts for, as the sidecar's spans name it. */
export function resilienceCluster(e: AccessLogEntry): string {
  if (e.direction === 'inbound') return `inbound|${e.host}`;
  return `outbound|${e.destinationHost || e.host}${e.destinationSubset ? `|${e.destinationSubset}` : ''}`;
}

/** What one line adds to its upstream's counters. */
export function resilienceOf(e: AccessLogEntry): ResilienceCounts {
  return {
    retries: e.direction === 'inbound' ? 0 : e.retries,
    overflows: isPoolOverflow(e) ? 1 : 0,
    rateLimited: isRateLimited(e) ? 1 : 0,
    denied: isPolicyDenial(e) ? 1 : 0,
  };
}

/** The agent's running counters, by proxy then upstream. */
export class ResilienceCounters {
  private readonly byProxy = new Map<string, Map<string, ResilienceCounts>>();
  /** Each proxy's HAProxy backends by the upstream they serve, as its lines name them. */
  private readonly backends = new Map<string, Map<string, string>>();

  /**
   * Counts lines read together. A request refused before routing finished (an overflow) logs no
   * destination, only its backend: it counts for the upstream that backend's other lines name.
   */
  recordAll(entries: readonly AccessLogEntry[]): void {
    for (const e of entries) {
      if (!isSentRequest(e) || !e.backend) continue;
      const known = this.backends.get(e.proxy) ?? new Map<string, string>();
      this.backends.set(e.proxy, known);
      known.set(e.backend, resilienceCluster(e));
    }
    for (const e of entries) this.record(e);
  }

  private record(e: AccessLogEntry): void {
    if (e.mirror) return;
    const add = resilienceOf(e);
    if (!RESILIENCE_METRICS.some((m) => add[m.key] > 0) && e.direction === 'inbound') return;
    const clusters = this.byProxy.get(e.proxy) ?? new Map<string, ResilienceCounts>();
    this.byProxy.set(e.proxy, clusters);
    const key = (e.direction !== 'inbound' && !e.destinationHost ? this.backends.get(e.proxy)?.get(e.backend) : undefined) ?? resilienceCluster(e);
    const c = clusters.get(key) ?? { retries: 0, overflows: 0, rateLimited: 0, denied: 0 };
    for (const m of RESILIENCE_METRICS) c[m.key] += add[m.key];
    clusters.set(key, c);
  }

  /** Forgets the proxies that left the mesh. */
  retain(proxies: ReadonlySet<string>): void {
    for (const p of [...this.byProxy.keys()]) if (!proxies.has(p)) this.byProxy.delete(p);
    for (const p of [...this.backends.keys()]) if (!proxies.has(p)) this.backends.delete(p);
  }

  /** Prometheus text of one proxy's counters (every proxy's, with a `proxy` label, without one). */
  render(proxy?: string): string {
    const out: string[] = [];
    const rows = proxy === undefined
      ? [...this.byProxy.entries()].flatMap(([p, clusters]) => [...clusters.entries()].map(([cluster, c]) => ({ labels: `proxy=${JSON.stringify(p)},cluster_name=${JSON.stringify(cluster)}`, c })))
      : [...(this.byProxy.get(proxy)?.entries() ?? [])].map(([cluster, c]) => ({ labels: `cluster_name=${JSON.stringify(cluster)}`, c }));
    for (const m of RESILIENCE_METRICS) {
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} counter`);
      for (const r of rows) out.push(`${m.name}{${r.labels}} ${r.c[m.key]}`);
    }
    return `${out.join('\n')}\n`;
  }

  /**
   * A proxy's outlier ejections from its runtime API's `show stat`: a server taken down by its observed
   * responses is ejected (Envoy's ejections_active), and each fall to DOWN of an observed server is one
   * ejection enforced. Upstreams whose servers are not observed have no outlier detection: no series.
   */
  ejections(proxy: string, stat: readonly StatRow[]): string {
    const clusters = this.backends.get(proxy) ?? new Map<string, string>();
    const byCluster = new Map<string, { active: number; total: number }>();
    for (const row of stat) {
      if (!isObservedServer(row)) continue;
      const cluster = clusters.get(row.proxy);
      if (!cluster) continue;
      const c = byCluster.get(cluster) ?? { active: 0, total: 0 };
      if (isEjected(row)) c.active += 1;
      c.total += statNumber(row, 'chkdown');
      byCluster.set(cluster, c);
    }
    const out = [
      '# HELP envoy_cluster_outlier_detection_ejections_active Endpoints of the upstream ejected now.',
      '# TYPE envoy_cluster_outlier_detection_ejections_active gauge',
      ...[...byCluster].map(([cluster, c]) => `envoy_cluster_outlier_detection_ejections_active{cluster_name=${JSON.stringify(cluster)}} ${c.active}`),
      '# HELP envoy_cluster_outlier_detection_ejections_enforced_total Ejections of the upstream\'s endpoints so far.',
      '# TYPE envoy_cluster_outlier_detection_ejections_enforced_total counter',
      ...[...byCluster].map(([cluster, c]) => `envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name=${JSON.stringify(cluster)}} ${c.total}`),
    ];
    return `${out.join('\n')}\n`;
  }
}
