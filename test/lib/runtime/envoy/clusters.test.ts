import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClustersJson, parseClustersText } from '../../../../src/lib/runtime/envoy/clusters.js';
import { fixture } from './fixture-server.js';

const ALL_FLAGS = [
  'failed_active_hc',
  'failed_outlier_check',
  'degraded_active_hc',
  'pending_dynamic_removal',
  'pending_active_hc',
  'excluded_via_immediate_hc_fail',
  'active_hc_timeout',
  'eds_status_draining',
];

test('current /clusters?format=json: thresholds, locality and every health flag of a host', () => {
  const clusters = parseClustersJson(JSON.parse(fixture('clusters.json.envoy-test-mock.json')));
  assert.equal(clusters.length, 2);
  const c = clusters[0]!;
  assert.equal(c.name, 'test_cluster');
  assert.equal(c.observabilityName, 'observability_name');
  assert.equal(c.edsServiceName, 'potato_launcher');
  assert.deepEqual(c.thresholds, [
    { priority: 'DEFAULT', maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 16, defaulted: false },
    { priority: 'HIGH', maxConnections: 4096, maxPendingRequests: 4096, maxRequests: 4096, maxRetries: 16, defaulted: false },
  ]);
  const host = c.hosts[0]!;
  assert.equal(`${host.address}:${host.port}`, '1.2.3.4:80');
  assert.deepEqual([...host.flags].sort(), [...ALL_FLAGS].sort());
  assert.equal(host.health, 'ejected', 'outlier ejection is what an operator must see first');
  assert.equal(host.edsHealthStatus, 'DRAINING');
  assert.equal(host.locality, 'test_region/test_zone/test_sub_zone');
  assert.equal(host.weight, 1);
  assert.equal(host.priority, 1);
  assert.equal(host.hostname, 'test_hostname');
  // The host reports no cx_active/rq_active stat: unknown, not zero.
  assert.equal(host.activeConnections, null);
  assert.equal(host.activeRequests, null);
});

test('old /clusters?format=json (camelCase, string counters, zeros left out): names kept whole, ejected and down hosts', () => {
  const clusters = parseClustersJson(JSON.parse(fixture('clusters.json.istio-2019-capture.json')));
  const names = clusters.map((c) => c.name);
  assert.ok(names.includes('outbound|9080||reviews.default.svc.cluster.local'));
  const reviews = clusters.find((c) => c.name === 'outbound|9080||reviews.default.svc.cluster.local')!;
  assert.deepEqual(
    reviews.hosts.map((h) => [h.address, h.port, h.health]),
    [
      ['172.17.0.24', 9080, 'healthy'],
      ['172.17.0.26', 9080, 'healthy'],
      ['172.17.0.27', 9080, 'ejected'],
    ],
  );
  assert.deepEqual(reviews.hosts[2]!.flags, ['failed_outlier_check']);
  const policy = clusters.find((c) => c.name === 'outbound|15014||istio-policy.istio-system.svc.cluster.local')!;
  assert.equal(policy.hosts[0]!.health, 'down');
  assert.equal(policy.hosts[0]!.edsHealthStatus, 'UNHEALTHY');
  // A gauge listed without a value is an omitted zero.
  assert.equal(reviews.hosts[0]!.activeConnections, 0);
  assert.equal(reviews.thresholds, null, 'this capture reports no circuit breakers');
});

test('old /clusters?format=json: a unix-socket host with 64-bit counters written as strings', () => {
  const clusters = parseClustersJson(JSON.parse(fixture('clusters.json.istio-2019-capture.json')));
  const mixer = clusters.find((c) => c.name === 'inbound_9092')!;
  const host = mixer.hosts[0]!;
  assert.equal(host.address, '/sock/mixer.socket');
  assert.equal(host.port, null);
  assert.equal(host.activeConnections, 8);
  assert.equal(host.activeRequests, 0);
  assert.equal(host.weight, 1);
  assert.equal(host.health, 'healthy');
});

test('text /clusters: the same host as the JSON, read from cluster::host::stat::value lines', () => {
  const clusters = parseClustersText(fixture('clusters.text.envoy-test-mock.txt'));
  assert.equal(clusters.length, 1, 'both entries are named test_cluster');
  const c = clusters[0]!;
  assert.equal(c.observabilityName, 'observability_name');
  assert.equal(c.edsServiceName, 'potato_launcher');
  assert.equal(c.addedViaApi, true);
  assert.equal(c.thresholds?.[0]?.maxRetries, 16);
  assert.equal(c.thresholds?.[1]?.maxConnections, 4096);
  const host = c.hosts[0]!;
  assert.equal(`${host.address}:${host.port}`, '1.2.3.4:80');
  assert.deepEqual(host.flags, [...ALL_FLAGS.slice(0, 2), 'degraded_active_hc', 'pending_dynamic_removal', 'pending_active_hc', 'excluded_via_immediate_hc_fail', 'active_hc_timeout', 'eds_status_draining']);
  assert.equal(host.health, 'ejected');
  assert.equal(host.locality, 'test_region/test_zone/test_sub_zone');
  assert.equal(host.hostname, 'test_hostname');
  assert.equal(host.priority, 1);
});

test('text /clusters, grep of health_flags: failing active health checks versus healthy hosts', () => {
  const [backend] = parseClustersText(fixture('clusters.text.envoy-examples-locality-health_flags-grep.txt'));
  assert.equal(backend!.name, 'backend');
  const byHealth = (h: string) => backend!.hosts.filter((x) => x.health === h).map((x) => x.address).sort();
  assert.deepEqual(byHealth('failing_health_check'), ['172.28.0.2', '172.28.0.4', '172.28.0.5', '172.28.0.6']);
  assert.deepEqual(byHealth('healthy'), ['172.28.0.3', '172.28.0.7', '172.28.0.8']);
  assert.equal(backend!.hosts[0]!.weight, null, 'the grep kept no weight line');
});
