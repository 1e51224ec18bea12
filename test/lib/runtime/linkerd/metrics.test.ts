import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parsePrometheusText } from '../../../../src/lib/runtime/prometheus.js';
import { linkerdCertificate, linkerdHealth, linkerdProxyMetrics } from '../../../../src/lib/runtime/linkerd/metrics.js';
import { SHARED } from '../../../support/shared.js';

const text = readFileSync(path.join(SHARED, 'fixtures', 'envoy-admin', 'linkerd-proxy.metrics.txt'), 'utf8');

test('linkerd2-proxy metrics: inbound requests, success rate, latency; outbound TCP-only targets have no request numbers', () => {
  const metrics = linkerdProxyMetrics(parsePrometheusText(text));
  const inbound = metrics.stats.inbound!;
  assert.equal(inbound.requests, 30);
  assert.equal(inbound.responses['2xx'], 29);
  assert.equal(inbound.responses['5xx'], 0);
  assert.equal(inbound.successRate, 100);
  assert.equal(inbound.latencyMs.p99, 0.99, 'every response fell in the first (1 ms) bucket');
  assert.equal(inbound.retries, null);
  const opaque = metrics.stats.upstreams.find((u) => u.name === '10.42.0.122:8080')!;
  assert.equal(opaque.requests, null);
  assert.match(opaque.missing.requests!, /TCP/);
});

test('linkerd2-proxy metrics: build and identity certificate expiry', () => {
  const metrics = linkerdProxyMetrics(parsePrometheusText(text));
  assert.equal(metrics.version, '279b301');
  assert.equal(metrics.certificateNotAfter, '2022-04-27T09:59:03Z');
  const now = new Date('2022-04-27T09:00:00Z');
  const cert = linkerdCertificate(metrics, now)!;
  assert.equal(cert.secondsLeft, 3543);
  assert.equal(cert.issuer, null);
  assert.ok(cert.missing.issuer);
  const health = linkerdHealth(metrics, now);
  assert.equal(health.runtime, 'linkerd');
  assert.equal(health.uptimeSeconds, Math.floor((now.getTime() - 1650967123 * 1000) / 1000));
});
