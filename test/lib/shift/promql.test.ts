// Route shift's PromQL: Flagger's Istio queries, word for word, scoped to a subset's workloads; a
// Prometheus that cannot be read holds a shift and never rolls it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MetricsUnavailable, promqlFigures, promqlScalar, requestDurationQuery, successRateQuery } from '../../../src/lib/shift/promql.js';
import { decide } from '../../../src/lib/shift/machine.js';
import { buildPlan } from '../../../src/lib/shift/plan.js';
import { fillGateQuery, parseGateFlag, withCustomGates } from '../../../src/lib/shift/custom-gates.js';

const scope = { namespace: 'shop', workloads: ['reviews-v2', 'reviews-v2.1'] };

test('the success-rate and p99 queries are Flagger\'s Istio queries for the subset\'s workloads', () => {
  assert.equal(
    successRateQuery(scope, '30s'),
    'sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="shop",destination_workload=~"reviews-v2|reviews-v2\\\\.1",response_code!~"5.*"}[30s])) / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="shop",destination_workload=~"reviews-v2|reviews-v2\\\\.1"}[30s])) * 100',
  );
  assert.equal(
    requestDurationQuery(scope, '1m'),
    'histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="shop",destination_workload=~"reviews-v2|reviews-v2\\\\.1"}[1m])) by (le))',
  );
});

test('on a cluster the same queries pick a subset by the service\'s destination_version, and an endpoint that throws is "metrics unavailable" named by its words', async () => {
  const cluster = { service: 'reviews.shop.svc.cluster.local', versions: ['v2'] };
  assert.equal(
    successRateQuery(cluster, '30s'),
    'sum(rate(istio_requests_total{reporter="destination",destination_service="reviews.shop.svc.cluster.local",destination_version=~"v2",response_code!~"5.*"}[30s])) / sum(rate(istio_requests_total{reporter="destination",destination_service="reviews.shop.svc.cluster.local",destination_version=~"v2"}[30s])) * 100',
  );
  const asked: string[] = [];
  const through = { where: 'Prometheus istio-system/prometheus:9090', query: async (q: string) => { asked.push(q); throw new Error('HTTP 503'); } };
  await assert.rejects(promqlFigures(through, cluster, { sinceMs: 0, untilMs: 30_000 }), (err: Error) => err instanceof MetricsUnavailable && err.message === 'Prometheus istio-system/prometheus:9090 did not answer (HTTP 503)');
  assert.ok(asked.length > 0 && asked.every((q) => q.includes('destination_version=~"v2"')), asked.join('\n'));
});

/** A stand-in Prometheus HTTP API on loopback answering every query with `answer`. */
async function fakePrometheus(answer: (query: string) => { status: number; body: unknown } | 'hang'): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      const a = answer(new URLSearchParams(body).get('query') ?? '');
      if (a === 'hang') return;
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

test('no series is a window without requests ("not enough traffic"), never a failure', async () => {
  const p = await fakePrometheus(() => ({ status: 200, body: { status: 'success', data: { resultType: 'vector', result: [] } } }));
  try {
    const f = await promqlFigures(p.url, scope, { sinceMs: 0, untilMs: 30_000 });
    assert.equal(f.requests, 0);
    assert.equal(f.successRate, null);
    assert.equal(f.latencyMs.p99, null);
  } finally {
    await p.close();
  }
});

test('an error answer, a closed port and a timeout are "metrics unavailable"; a held shift follows, not a rollback', async () => {
  const p = await fakePrometheus((q) => (q.includes('slow') ? 'hang' : { status: 400, body: { status: 'error', error: 'parse error' } }));
  try {
    await assert.rejects(promqlScalar(p.url, 'up', 0), (err: Error) => err instanceof MetricsUnavailable && /refused the query \(parse error\)/.test(err.message));
    await assert.rejects(promqlScalar(p.url, 'slow', 0, 300), (err: Error) => err instanceof MetricsUnavailable && /no answer within 300 ms/.test(err.message));
  } finally {
    await p.close();
  }
  await assert.rejects(promqlScalar(p.url, 'up', 0), MetricsUnavailable);
  const plan = buildPlan({ steps: [50, 100], gates: { onNoTraffic: 'rollback', failureThreshold: 1 } });
  const decision = decide({ plan, cursor: 0, failedChecks: 0 }, 'metrics_unavailable', 'metrics unavailable: Prometheus at http://127.0.0.1:1 did not answer');
  assert.equal(decision.kind, 'hold');
});

test('--gate NAME=PROMQL<THRESHOLD: the last comparison splits query and threshold; the verdict adds its check', () => {
  const gate = parseGateFlag('slow=sum(rate(x{workload=~"{{target}}"}[{{interval}}]) > 0.5)<=0.25');
  assert.deepEqual(gate, { name: 'slow', query: 'sum(rate(x{workload=~"{{target}}"}[{{interval}}]) > 0.5)', op: '<=', threshold: 0.25 });
  assert.equal(fillGateQuery(gate.query, scope, '30s'), 'sum(rate(x{workload=~"reviews-v2|reviews-v2\\\\.1"}[30s]) > 0.5)');
  assert.throws(() => parseGateFlag('no-threshold=up'), /--gate "no-threshold=up" is not NAME=PROMQL<THRESHOLD/);
  const passed = { outcome: 'passed' as const, checks: [], reason: null };
  assert.equal(withCustomGates(passed, [gate], [0.1]).outcome, 'passed');
  const failed = withCustomGates(passed, [gate], [0.3]);
  assert.equal(failed.outcome, 'failed');
  assert.equal(failed.reason, 'slow 0.3 not <= 0.25');
  assert.equal(failed.checks[0]!.gate, 'custom:slow');
  const empty = withCustomGates(passed, [gate], [null]);
  assert.equal(empty.outcome, 'no_traffic');
  assert.match(empty.reason!, /^not enough traffic: no series for the gate slow/);
});
