import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketsOf, histogramQuantile, parsePrometheusText, samplesOf, summaryQuantile } from '../../../../src/lib/runtime/prometheus.js';
import { prometheusClusterNames, trafficFromPrometheus } from '../../../../src/lib/runtime/envoy/prometheus-stats.js';
import { hiddenStatsReason } from '../../../../src/lib/runtime/envoy/adapter.js';
import { fixture } from './fixture-server.js';

test('/stats/prometheus of every metric type: counters, gauges, a histogram, tags as labels, no HELP lines', () => {
  const families = parsePrometheusText(fixture('stats_prometheus.envoy-test-all-metric-types.txt'));
  const type = (n: string) => families.find((f) => f.name === n)?.type;
  assert.equal(type('envoy_cluster_test_1_upstream_cx_total'), 'counter');
  assert.equal(type('envoy_cluster_test_3_upstream_cx_total'), 'gauge');
  assert.equal(type('MYAPP_test_bar'), 'gauge');
  assert.equal(type('envoy_cluster_test_1_upstream_rq_time'), 'histogram');
  // A dotted tag value stays whole.
  assert.equal(samplesOf(families, 'envoy_cluster_test_1_upstream_cx_total')[0]!.labels.a_tag_name, 'a.tag-value');
  const rqTime = samplesOf(families, 'envoy_cluster_test_1_upstream_rq_time');
  assert.equal(samplesOf(families, 'envoy_cluster_test_1_upstream_rq_time', {}, 'envoy_cluster_test_1_upstream_rq_time_count')[0]!.value, 7);
  const buckets = bucketsOf(rqTime);
  assert.equal(buckets.length, 20);
  assert.equal(buckets.at(-1)!.le, Infinity);
  assert.equal(histogramQuantile(buckets, 0.5), 62.5);
  assert.equal(Math.round(histogramQuantile(buckets, 0.99)! * 1000) / 1000, 4825);
  // Per-endpoint families carry the cluster name as a label.
  const c1 = samplesOf(families, 'envoy_cluster_endpoint_c1', { envoy_cluster_name: 'cluster2', envoy_endpoint_address: '127.0.0.3:80' });
  assert.equal(c1[0]!.value, 31);
});

test('/stats/prometheus in summary mode with no data: every quantile is NaN, read as null', () => {
  const families = parsePrometheusText(fixture('stats_prometheus.envoy-test-summary-mode-empty.txt'));
  const h = families.find((f) => f.name === 'envoy_histogram1')!;
  assert.equal(h.type, 'summary');
  assert.equal(h.samples.length, 12);
  assert.equal(summaryQuantile(h.samples, 0.99), null);
  assert.equal(samplesOf(families, 'envoy_histogram1', {}, 'envoy_histogram1_count')[0]!.value, 0);
});

test("Kuma's /stats/prometheus: cluster names from labels, connect-time quantiles, request stats missing with the reason", () => {
  const families = parsePrometheusText(fixture('stats_prometheus.kuma-histograms.txt'));
  const clusters = prometheusClusterNames(families);
  assert.equal(clusters.length, 12);
  assert.ok(clusters.includes('echo-server_kuma-test_svc_8080-369bce2d30623ffb'));
  const connect = bucketsOf(samplesOf(families, 'envoy_cluster_upstream_cx_connect_ms', { envoy_cluster_name: 'echo-server_kuma-test_svc_8080-369bce2d30623ffb' }));
  assert.equal(Math.round(histogramQuantile(connect, 0.5)! * 1000) / 1000, 3.667);
  assert.equal(histogramQuantile(bucketsOf(samplesOf(families, 'envoy_cluster_upstream_cx_connect_ms', { envoy_cluster_name: 'demo-client' })), 0.5), null);
  const stats = trafficFromPrometheus(families, { hiddenReason: hiddenStatsReason(false), source: '/stats/prometheus' });
  assert.equal(stats.upstreams.length, 12);
  for (const u of stats.upstreams) {
    assert.equal(u.requests, null, `${u.name}: no upstream_rq_total exported, so no number`);
    assert.match(u.missing.requests!, /stats_matcher/);
  }
});

test('Envoy Prometheus request stats per cluster and inbound, response classes from labels', () => {
  const text = [
    '# TYPE envoy_cluster_upstream_rq_total counter',
    'envoy_cluster_upstream_rq_total{envoy_cluster_name="outbound|9080||reviews.default.svc.cluster.local"} 40',
    '# TYPE envoy_cluster_upstream_rq_xx counter',
    'envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="outbound|9080||reviews.default.svc.cluster.local"} 36',
    'envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="outbound|9080||reviews.default.svc.cluster.local"} 4',
    '# TYPE envoy_http_downstream_rq_total counter',
    'envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="admin"} 9',
    'envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="ingress_http"} 10',
    '# TYPE envoy_http_downstream_rq_xx counter',
    'envoy_http_downstream_rq_xx{envoy_response_code_class="2",envoy_http_conn_manager_prefix="ingress_http"} 10',
    '',
  ].join('\n');
  const stats = trafficFromPrometheus(parsePrometheusText(text), { hiddenReason: hiddenStatsReason(true), source: '/stats/prometheus' });
  const reviews = stats.upstreams[0]!;
  assert.equal(reviews.name, 'outbound|9080||reviews.default.svc.cluster.local');
  assert.equal(reviews.requests, 40);
  assert.equal(reviews.responses['5xx'], 4);
  assert.equal(reviews.successRate, 90);
  assert.equal(stats.inbound!.requests, 10, 'the admin listener is not inbound traffic');
});
