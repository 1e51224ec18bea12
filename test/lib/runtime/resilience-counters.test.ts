// Per-upstream resilience counters from the lines a sidecar logs: each retry, overflow, rate-limited
// and denied request counts once for its upstream, under Envoy's names; an app's own 403 is no denial.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAccessLog } from '../../../src/lib/runtime/haproxy/access-log.js';
import { parsePrometheusText, samplesOf, sumOf } from '../../../src/lib/runtime/prometheus.js';
import { ResilienceCounters } from '../../../src/lib/runtime/resilience-counters.js';

const base = { time: '2026-01-01T00:00:00Z', start_ms: 1_700_000_000_000, method: 'GET', path: '/', duration_ms: 3, upstream_ms: 2, bytes: 10, request_bytes: 80, termination: '--', peer: '-' };
// An overflow is refused before routing finished: its line names its backend, not its destination.
const outbound = (status: number, retries: string, flags = '-', subset = 'v1') => ({ ...base, proxy: 'caller-0', direction: 'outbound', host: 'reviews', destination_host: flags === 'UO' ? '-' : 'reviews.default.svc.cluster.local', destination_subset: flags === 'UO' ? '-' : subset, backend: `split:${subset}`, server: flags === 'UO' ? '<NOSRV>' : `reviews-${subset}-0`, status, retries, response_flags: flags });
const inbound = (status: number, extra: Record<string, string> = {}) => ({ ...base, proxy: 'reviews-v1-0', direction: 'inbound', host: 'reviews', destination_host: 'reviews', backend: 'inbound_app', server: status === 200 ? 'app' : '<NOSRV>', status, retries: '0', response_flags: '-', ...extra });

const lines = [
  outbound(200, '0'),
  outbound(200, '2'),
  outbound(200, '1', '-', 'v2'),
  outbound(503, '0', 'UO'),
  outbound(503, '0', 'UO'),
  outbound(503, '0', 'UO'),
  inbound(429, { response_flags: 'RL' }),
  inbound(429, { response_flags: 'RL' }),
  inbound(403, { authz: 'rbac_access_denied_matched_policy[ns[default]-policy[deny-admin]-rule[0]]' }),
  inbound(403, { authz: 'rbac_allowed_matched_policy[ns[default]-policy[allow-all]-rule[0]]' }),
  inbound(200),
].map((l) => JSON.stringify(l)).join('\n');

describe('resilience counters', () => {
  const { entries } = parseAccessLog(`${lines}\n`);

  it('each counter moves by the exact count, per upstream, on the proxy that saw it', () => {
    const counters = new ResilienceCounters();
    counters.recordAll(entries);
    const caller = parsePrometheusText(counters.render('caller-0'));
    assert.equal(sumOf(samplesOf(caller, 'envoy_cluster_upstream_rq_retry', { cluster_name: 'outbound|reviews.default.svc.cluster.local|v1' })), 2);
    assert.equal(sumOf(samplesOf(caller, 'envoy_cluster_upstream_rq_retry', { cluster_name: 'outbound|reviews.default.svc.cluster.local|v2' })), 1);
    assert.equal(sumOf(samplesOf(caller, 'envoy_cluster_upstream_rq_pending_overflow', { cluster_name: 'outbound|reviews.default.svc.cluster.local|v1' })), 3);
    const reviews = parsePrometheusText(counters.render('reviews-v1-0'));
    assert.equal(sumOf(samplesOf(reviews, 'envoy_http_local_rate_limit_rate_limited', { cluster_name: 'inbound|reviews' })), 2);
    assert.equal(sumOf(samplesOf(reviews, 'envoy_http_rbac_denied', { cluster_name: 'inbound|reviews' })), 1, 'the app\'s own 403 is not a denial');
    const whole = parsePrometheusText(counters.render());
    assert.equal(sumOf(samplesOf(whole, 'envoy_cluster_upstream_rq_pending_overflow', { proxy: 'caller-0' })), 3);
    counters.retain(new Set(['reviews-v1-0']));
    assert.equal(sumOf(samplesOf(parsePrometheusText(counters.render()), 'envoy_cluster_upstream_rq_pending_overflow', {})), 0);
  });
});
