import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseStatsJson,
  parseStatsText,
  quantileOf,
  trafficFromStatSet,
  upstreamTraffic,
  openBreakers,
} from '../../../../src/lib/runtime/envoy/stats.js';
import { hiddenStatsReason } from '../../../../src/lib/runtime/envoy/adapter.js';
import { fixture } from './fixture-server.js';

test('/stats?format=json histograms: supported quantiles are percents, null intervals stay null', () => {
  const set = parseStatsJson(JSON.parse(fixture('stats.json.envoy-test-histograms.json')));
  const h1 = set.histograms.get('h1');
  assert.equal(quantileOf(h1, 99), 209.8);
  assert.equal(quantileOf(h1, 99, 'interval'), 109.9);
  assert.equal(quantileOf(h1, 99.5), 209.9);
  assert.equal(quantileOf(h1, 50), 110);
  const h2 = set.histograms.get('h2');
  assert.equal(quantileOf(h2, 99, 'interval'), null, 'no data in the last interval is null, not 0');
  assert.equal(quantileOf(h2, 99), 109.9);
});

test("/stats?format=json, the docs' histograms element alone (nine quantiles, no p99.5)", () => {
  const set = parseStatsJson(JSON.parse(fixture('stats.json.envoy-docs-admin-histograms-excerpt.json')));
  const rqTime = set.histograms.get('http.admin.downstream_rq_time');
  assert.equal(quantileOf(rqTime, 99), 6.046609);
  assert.equal(quantileOf(rqTime, 99, 'interval'), null);
  assert.equal(quantileOf(rqTime, 99.5), null, 'this Envoy did not compute p99.5');
  assert.equal(quantileOf(set.histograms.get('cluster.external_auth_cluster.upstream_cx_length_ms'), 100), 260);
});

test('/stats?format=json as `jq .stats` prints it (the bare list)', () => {
  const set = parseStatsJson(JSON.parse(fixture('stats.json.envoy-docs-quickstart-jq-stats.json')));
  assert.equal(set.values.get('http.ingress_http.rq_total'), 3);
  assert.equal(set.values.get('http.ingress_http.rq_redirect'), 0);
});

test('text /stats: inbound requests, success rate and p99 of the ingress listener', () => {
  const set = parseStatsText(fixture('stats.text.envoy-docs-quickstart-filtered.txt'));
  assert.equal(set.values.get('http.ingress_http.downstream_rq_2xx'), 3);
  assert.equal(quantileOf(set.histograms.get('http.ingress_http.downstream_rq_time'), 99), 16.97);
  assert.equal(quantileOf(set.histograms.get('http.ingress_http.downstream_rq_time'), 99, 'interval'), null, '"nan" is no data');
  const stats = trafficFromStatSet(set, { clusters: [], hiddenReason: hiddenStatsReason(false), source: '/stats' });
  const inbound = stats.inbound!;
  assert.equal(inbound.requests, 3);
  assert.deepEqual(inbound.responses, { '2xx': 3, '3xx': 0, '4xx': 0, '5xx': 0 });
  assert.equal(inbound.successRate, 100);
  assert.deepEqual(inbound.latencyMs, { p50: 2.05, p90: 16.7, p99: 16.97 });
  assert.equal(inbound.retries, null);
  assert.match(inbound.missing.retries!, /upstream/);
  assert.equal(inbound.ratePerSecond, null);
  assert.match(inbound.missing.ratePerSecond!, /two readings/);
});

test('per-cluster stats are found by the whole cluster name, dots and bars included', () => {
  const name = 'outbound|9080|v2|reviews.default.svc.cluster.local';
  const values = new Map<string, number>([
    [`cluster.${name}.upstream_rq_total`, 120],
    [`cluster.${name}.upstream_rq_2xx`, 100],
    [`cluster.${name}.upstream_rq_4xx`, 5],
    [`cluster.${name}.upstream_rq_5xx`, 15],
    [`cluster.${name}.upstream_rq_retry`, 7],
    [`cluster.${name}.outlier_detection.ejections_enforced_total`, 2],
    [`cluster.${name}.circuit_breakers.default.rq_pending_open`, 1],
    [`cluster.${name}.circuit_breakers.default.cx_open`, 0],
    // A different cluster whose name extends this one must not leak in.
    [`cluster.${name}.extra.upstream_rq_total`, 999],
  ]);
  const histograms = new Map([[`cluster.${name}.upstream_rq_time`, [50, 90, 99].map((p) => ({ percent: p, interval: null, cumulative: p / 10 }))]]);
  const row = upstreamTraffic({ values, histograms }, name, hiddenStatsReason(true));
  assert.equal(row.host, 'reviews.default.svc.cluster.local');
  assert.equal(row.subset, 'v2');
  assert.equal(row.requests, 120);
  assert.equal(row.responses['5xx'], 15);
  assert.equal(row.responses['3xx'], 0);
  assert.equal(row.successRate, 87.5);
  assert.equal(row.latencyMs.p99, 9.9);
  assert.equal(row.retries, 7);
  assert.equal(row.ejections, 2);
  assert.deepEqual(openBreakers({ values, histograms }, name), ['default.rq_pending_open']);
});

test("Istio's hidden per-cluster stats are null with the reason, never zeros", () => {
  const set = parseStatsJson(JSON.parse(fixture('stats.json.envoy-test-histograms.json')));
  const stats = trafficFromStatSet(set, {
    clusters: ['outbound|9080||reviews.default.svc.cluster.local'],
    hiddenReason: hiddenStatsReason(true),
    source: '/stats?format=json',
  });
  const row = stats.upstreams[0]!;
  assert.equal(row.requests, null);
  assert.deepEqual(row.responses, { '2xx': null, '3xx': null, '4xx': null, '5xx': null });
  assert.equal(row.latencyMs.p99, null);
  assert.match(row.missing.requests!, /proxyStatsMatcher/);
  assert.ok(stats.notes.some((n) => n.includes('1 of 1 clusters') && n.includes('proxyStatsMatcher')));
  assert.equal(stats.inbound, null);
  assert.equal(openBreakers(set, 'outbound|9080||reviews.default.svc.cluster.local'), null);
});

test("an Istio sidecar's inbound traffic is its inbound_ listeners, not the health-probe and scrape listeners", () => {
  const values = new Map<string, number>([
    ['http.inbound_0.0.0.0_9080.downstream_rq_total', 10],
    ['http.inbound_0.0.0.0_9080.downstream_rq_2xx', 9],
    ['http.inbound_0.0.0.0_9080.downstream_rq_5xx', 1],
    ['http.agent.downstream_rq_total', 500],
    ['http.stats.downstream_rq_total', 60],
    ['http.admin.downstream_rq_total', 7],
  ]);
  const stats = trafficFromStatSet({ values, histograms: new Map() }, { clusters: [], hiddenReason: 'hidden', source: 'test' });
  assert.equal(stats.inbound!.requests, 10);
  assert.equal(stats.inbound!.successRate, 90);
  assert.ok(stats.notes.includes('inbound: http.inbound_0.0.0.0_9080'));
});
