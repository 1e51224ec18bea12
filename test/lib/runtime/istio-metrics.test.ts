// Istio's standard metrics as the local mesh prints them: the names, types, buckets and label sets of
// Istio's reference (Observability → Metrics → Standard Metrics, and Envoy's default histogram
// bounds), and one report per log line at the end of the hop that logged it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IstioMetrics, destinationServiceOf, type MeshPeer } from '../../../src/lib/runtime/istio-metrics.js';
import { parsePrometheusText, samplesOf, sumOf } from '../../../src/lib/runtime/prometheus.js';
import type { AccessLogEntry } from '../../../src/lib/runtime/haproxy/access-log.js';

/** Istio's standard metrics and their types, as its reference lists them. */
const ISTIO_DOC_METRICS: Record<string, string> = {
  istio_requests_total: 'counter',
  istio_request_duration_milliseconds: 'histogram',
  istio_request_bytes: 'histogram',
  istio_response_bytes: 'histogram',
  istio_tcp_sent_bytes_total: 'counter',
  istio_tcp_received_bytes_total: 'counter',
  istio_tcp_connections_opened_total: 'counter',
  istio_tcp_connections_closed_total: 'counter',
};

/** The labels of Istio's reference, each under the name Prometheus shows. */
const ISTIO_DOC_HTTP_LABELS = [
  'reporter', 'source_workload', 'source_workload_namespace', 'source_principal', 'source_app', 'source_version',
  'destination_workload', 'destination_workload_namespace', 'destination_principal', 'destination_app', 'destination_version',
  'destination_service', 'destination_service_name', 'destination_service_namespace', 'request_protocol', 'response_code',
  'connection_security_policy', 'response_flags', 'source_canonical_service', 'source_canonical_revision',
  'destination_canonical_service', 'destination_canonical_revision', 'destination_cluster', 'source_cluster', 'grpc_response_status',
].sort();

/** Envoy's default histogram bounds (Istio's default buckets). */
const ENVOY_DEFAULT_BUCKETS = ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '60000', '300000', '600000', '1800000', '3600000', '+Inf'];

const peers = new Map<string, MeshPeer>([
  ['caller-0', { name: 'caller-0', namespace: 'default', workload: 'caller', labels: { app: 'caller', version: 'v1' }, principal: 'spiffe://cluster.local/ns/default/sa/caller' }],
  ['reviews-v2-0', { name: 'reviews-v2-0', namespace: 'default', workload: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, principal: 'spiffe://cluster.local/ns/default/sa/reviews' }],
]);

function line(o: Partial<AccessLogEntry>): AccessLogEntry {
  return {
    time: '', startMs: 0, requestId: 'r', proxy: 'caller-0', direction: 'outbound', source: 'spiffe://cluster.local/ns/default/sa/caller', method: 'GET', host: 'reviews', path: '/',
    route: 'r', destinationHost: 'reviews.default.svc.cluster.local', destinationSubset: 'v2', backend: 'b', server: 'reviews-v2-0', status: 200, durationMs: 7, upstreamMs: 5,
    retries: 0, redispatched: false, bytes: 300, requestBytes: 80, termination: '--', responseFlags: [], mirror: false, ...o,
  };
}

/** A hop caller-0 → reviews-v2-0 as both sidecars log it. */
function hop(status: number, durationMs: number): AccessLogEntry[] {
  return [
    line({ status, durationMs }),
    line({ proxy: 'reviews-v2-0', direction: 'inbound', host: 'reviews', destinationHost: 'reviews', destinationSubset: '', server: 'app', peer: 'caller-0', status, durationMs: durationMs - 1 }),
  ];
}

test('names, types, label sets and buckets are those of Istio\'s standard metrics', () => {
  const m = new IstioMetrics();
  for (const l of hop(200, 7)) assert.ok(m.record(l, peers));
  const text = m.render();
  const declared = Object.fromEntries([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => [x[1], x[2]]));
  assert.deepEqual(declared, ISTIO_DOC_METRICS);
  const families = parsePrometheusText(text);
  for (const f of families.filter((x) => x.samples.length)) {
    for (const s of f.samples) {
      const { le, ...labels } = s.labels;
      assert.deepEqual(Object.keys(labels).sort(), ISTIO_DOC_HTTP_LABELS, `${s.name}'s labels`);
      if (s.name.endsWith('_bucket')) assert.ok(le !== undefined);
    }
  }
  for (const name of ['istio_request_duration_milliseconds', 'istio_request_bytes', 'istio_response_bytes']) {
    const bounds = samplesOf(families, name, { reporter: 'source' }, `${name}_bucket`).map((s) => s.labels.le);
    assert.deepEqual(bounds, ENVOY_DEFAULT_BUCKETS, `${name}'s buckets`);
  }
});

test('N requests logged → N counted by each reporter, with the labels of both ends', () => {
  const m = new IstioMetrics();
  const n = 37;
  for (let i = 0; i < n; i++) for (const l of hop(i % 10 === 0 ? 503 : 200, 3 + (i % 30))) m.record(l, peers);
  // A mirrored copy is no request of the caller's: Envoy's stats never see it.
  m.record(line({ direction: 'mirror', mirror: true }), peers);
  const families = parsePrometheusText(m.render());
  for (const reporter of ['source', 'destination']) {
    assert.equal(sumOf(samplesOf(families, 'istio_requests_total', { reporter })), n, reporter);
    assert.equal(sumOf(samplesOf(families, 'istio_requests_total', { reporter, response_code: '503' })), 4, `${reporter} 503s`);
    assert.equal(sumOf(samplesOf(families, 'istio_request_duration_milliseconds', { reporter }, 'istio_request_duration_milliseconds_count')), n);
  }
  const [destination] = samplesOf(families, 'istio_requests_total', { reporter: 'destination', response_code: '200' });
  assert.deepEqual(
    { ...destination!.labels },
    {
      reporter: 'destination', source_workload: 'caller', source_canonical_service: 'caller', source_canonical_revision: 'v1', source_workload_namespace: 'default',
      source_principal: 'spiffe://cluster.local/ns/default/sa/caller', source_app: 'caller', source_version: 'v1', source_cluster: 'Kubernetes',
      destination_workload: 'reviews-v2', destination_workload_namespace: 'default', destination_principal: 'spiffe://cluster.local/ns/default/sa/reviews',
      destination_app: 'reviews', destination_version: 'v2', destination_service: 'reviews.default.svc.cluster.local', destination_canonical_service: 'reviews',
      destination_canonical_revision: 'v2', destination_service_name: 'reviews', destination_service_namespace: 'default', destination_cluster: 'Kubernetes',
      request_protocol: 'http', response_code: '200', grpc_response_status: '', response_flags: '-', connection_security_policy: 'mutual_tls',
    },
  );
  const [source] = samplesOf(families, 'istio_requests_total', { reporter: 'source', response_code: '200' });
  assert.equal(source!.labels.connection_security_policy, 'unknown', 'a source report cannot know the policy (as Istio says)');
  assert.equal(source!.labels.destination_workload, 'reviews-v2');
});

test('an unverified caller is "unknown" with policy none; response flags are read from the log when it has them', () => {
  const m = new IstioMetrics();
  // A plaintext caller (PERMISSIVE) claims to be caller-0: without a verified certificate it is not believed.
  m.record(line({ proxy: 'reviews-v2-0', direction: 'inbound', source: '', peer: 'caller-0', server: 'app' }), peers);
  m.record(line({ status: 503, server: '<NOSRV>', responseFlags: ['UH'] }), peers);
  const families = parsePrometheusText(m.render());
  const [inbound] = samplesOf(families, 'istio_requests_total', { reporter: 'destination' });
  assert.equal(inbound!.labels.source_workload, 'unknown');
  assert.equal(inbound!.labels.connection_security_policy, 'none');
  const [failed] = samplesOf(families, 'istio_requests_total', { reporter: 'source' });
  assert.equal(failed!.labels.response_flags, 'UH');
  assert.equal(failed!.labels.destination_workload, 'unknown');
  assert.equal(failed!.labels.destination_service, 'reviews.default.svc.cluster.local');
});

test('a Host is spelled as Istio\'s destination_service', () => {
  assert.equal(destinationServiceOf('reviews', 'default'), 'reviews.default.svc.cluster.local');
  assert.equal(destinationServiceOf('reviews.shop', 'default'), 'reviews.shop.svc.cluster.local');
  assert.equal(destinationServiceOf('reviews.shop.svc', 'default'), 'reviews.shop.svc.cluster.local');
  assert.equal(destinationServiceOf('api.example.com', 'default'), 'api.example.com');
});
