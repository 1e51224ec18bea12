// The gates' figures from the calling sidecars' own stats: only what a caller reported sending counts,
// counters that went down are restarted proxies, and p99 is interpolated in its bucket as Prometheus'
// histogram_quantile does.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EnvoyStatsTraffic, figuresOf, podCounters, type EnvoyStatsSource } from '../../../src/lib/shift/envoy-stats.js';

const HOST = 'reviews.default.svc.cluster.local';

/** Exposition text as a sidecar's merged stats port serves it. */
function stats(reporter: string, series: { version: string; code: number; n: number; buckets: Record<string, number> }[]): string {
  const lines = ['# TYPE istio_requests_total counter', '# TYPE istio_request_duration_milliseconds histogram'];
  for (const s of series) {
    const l = `reporter="${reporter}",destination_service="${HOST}",destination_version="${s.version}",response_code="${s.code}"`;
    lines.push(`istio_requests_total{${l}} ${s.n}`);
    for (const [le, c] of Object.entries(s.buckets)) lines.push(`istio_request_duration_milliseconds_bucket{${l},le="${le}"} ${c}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('figures from the calling sidecars\' stats', () => {
  it('counts only what callers reported sending, by version and status class', () => {
    const caller = podCounters(stats('source', [{ version: 'v2', code: 200, n: 90, buckets: { 10: 0, 25: 90, '+Inf': 90 } }, { version: 'v2', code: 503, n: 10, buckets: { 10: 0, 25: 10, '+Inf': 10 } }]))!;
    const f = figuresOf(caller, HOST, ['v2'], 10_000);
    assert.equal(f.requests, 100);
    assert.equal(f.statusClasses['5xx'], 10);
    assert.equal(f.successRate, 90);
    // rank 99 of 100 in (10, 25]: 10 + 15 × 99/100, as histogram_quantile interpolates.
    assert.equal(f.latencyMs.p99, 24.85);
    const destination = podCounters(stats('destination', [{ version: 'v2', code: 200, n: 50, buckets: { 25: 50, '+Inf': 50 } }]))!;
    assert.equal(figuresOf(destination, HOST, ['v2'], 10_000).requests, 0, 'a destination report is not a caller\'s');
    assert.equal(podCounters('# TYPE envoy_cluster_upstream_rq counter\nenvoy_cluster_upstream_rq{envoy_cluster_name="x"} 4\n'), null, 'no istio_* series at all');
  });

  it('a window is the difference of two readings; a restarted proxy\'s counter counts from zero', async () => {
    const texts = [
      stats('source', [{ version: 'v1', code: 200, n: 1000, buckets: { 25: 1000, '+Inf': 1000 } }]),
      stats('source', [{ version: 'v1', code: 200, n: 1040, buckets: { 25: 1040, '+Inf': 1040 } }]),
      stats('source', [{ version: 'v1', code: 200, n: 30, buckets: { 25: 30, '+Inf': 30 } }]),
    ];
    let reads = 0;
    const source: EnvoyStatsSource = {
      where: 'a test cluster',
      pods: async () => [{ namespace: 'default', name: 'productpage-0' }],
      read: async () => texts[Math.min(reads++, texts.length - 1)]!,
      subsetsByVersion: async () => new Map([['v1', 'stable']]),
    };
    const reader = new EnvoyStatsTraffic(source, HOST);
    await reader.startNow();
    const start = Date.now();
    const [first] = await reader.figures({ sinceMs: start, untilMs: start + 1 });
    assert.deepEqual([first!.subset, first!.requests], ['stable', 40]);
    const [second] = await reader.figures({ sinceMs: Date.now(), untilMs: Date.now() + 1 });
    assert.equal(second!.requests, 30, 'the counter went down: a new proxy, its value is the increase');
  });
});

describe('what the policy did, from the sidecars\' stats', () => {
  const CLUSTER = `outbound|9080|v2|${HOST}`;
  const text = (n: number, extra: string[] = []) => [
    '# TYPE istio_requests_total counter',
    `istio_requests_total{reporter="source",destination_service="${HOST}",destination_version="v2",response_code="200",response_flags="-"} ${100 * n}`,
    `istio_requests_total{reporter="source",destination_service="${HOST}",destination_version="v2",response_code="503",response_flags="UO"} ${3 * n}`,
    `istio_requests_total{reporter="source",destination_service="${HOST}",destination_version="v2",response_code="503",response_flags="UF,URX"} ${2 * n}`,
    `istio_requests_total{reporter="source",destination_service="${HOST}",destination_version="v2",response_code="504",response_flags="UT"} ${n}`,
    ...extra,
  ].join('\n');

  it('refusals and failures by response flag; retries and ejections from Envoy\'s cluster stats where shown, else not reported (null)', async () => {
    const callerTexts = [
      text(1, ['# TYPE envoy_cluster_upstream_rq_retry counter', `envoy_cluster_upstream_rq_retry{cluster_name="${CLUSTER}"} 10`, '# TYPE envoy_cluster_outlier_detection_ejections_active gauge', `envoy_cluster_outlier_detection_ejections_active{cluster_name="${CLUSTER}"} 0`]),
      text(2, ['# TYPE envoy_cluster_upstream_rq_retry counter', `envoy_cluster_upstream_rq_retry{cluster_name="${CLUSTER}"} 17`, '# TYPE envoy_cluster_outlier_detection_ejections_active gauge', `envoy_cluster_outlier_detection_ejections_active{cluster_name="${CLUSTER}"} 1`]),
    ];
    // The destination pod: its own reports name what it serves, its rate limit flags RL, its RBAC filter counts denials.
    const destination = (n: number) => [
      '# TYPE istio_requests_total counter',
      `istio_requests_total{reporter="destination",destination_service="${HOST}",destination_version="v2",response_code="429",response_flags="RL"} ${4 * n}`,
      `istio_requests_total{reporter="destination",destination_service="${HOST}",destination_version="v2",response_code="403",response_flags="-"} ${5 * n}`,
      '# TYPE envoy_http_rbac_denied counter',
      `envoy_http_rbac_denied{http_conn_manager_prefix="inbound_0.0.0.0_9080"} ${5 * n}`,
    ].join('\n');
    const reads = new Map<string, number>();
    const source: EnvoyStatsSource = {
      where: 'a test cluster',
      pods: async () => [{ namespace: 'default', name: 'productpage-0' }, { namespace: 'default', name: 'reviews-v2-0' }],
      read: async (pod) => {
        const n = reads.get(pod.name) ?? 0;
        reads.set(pod.name, n + 1);
        return pod.name === 'productpage-0' ? callerTexts[Math.min(n, 1)]! : destination(n + 1);
      },
      subsetsByVersion: async () => new Map([['v2', 'v2']]),
    };
    const reader = new EnvoyStatsTraffic(source, HOST);
    await reader.startNow();
    const [v2] = await reader.figures({ sinceMs: Date.now(), untilMs: Date.now() + 1 });
    assert.deepEqual(v2!.resilience, { retried: null, retries: 7, denied: 5, rateLimited: 4, overflows: 3, timeouts: 1, noRoute: 0, upstreamFailures: 2, ejected: 1 });
    assert.equal(v2!.retries, 7, 'the retries a shift records are the ones top shows');

    // Istio's default stats matcher hides Envoy's cluster and RBAC stats: those figures are not reported.
    let hidden = 0;
    const plain = new EnvoyStatsTraffic({ ...source, pods: async () => [{ namespace: 'default', name: 'productpage-0' }], read: async () => text(++hidden) }, HOST);
    await plain.startNow();
    const [bare] = await plain.figures({ sinceMs: Date.now(), untilMs: Date.now() + 1 });
    assert.deepEqual(bare!.resilience, { retried: null, retries: null, denied: null, rateLimited: 0, overflows: 3, timeouts: 1, noRoute: 0, upstreamFailures: 2, ejected: null });
    assert.equal(bare!.retries, 0);
  });
});
