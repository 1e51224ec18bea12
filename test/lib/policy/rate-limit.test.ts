// The RateLimit kind as validate checks it and the mesh reads it, and which EnvoyFilters the mesh reads
// as a local rate limit (the documented shape) or reports as not enforced (any other).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { codesAt, validateText } from '../../support/policy.js';
import { loadSources } from '../../../src/lib/policy/load.js';
import { buildMeshModel } from '../../../src/lib/policy/mesh-model.js';
import { inboundRateLimits } from '../../../src/lib/runtime/haproxy/rate-limit.js';

const RATE_LIMIT = `apiVersion: meshctl.dev/v1alpha1
kind: RateLimit
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  limits:
  - {requests: 10, per: 1s, burst: 20}
  - {requests: 5, per: 1m, match: {pathPrefix: /login, header: x-user}}
`;

const ENVOY_FILTER = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: local-ratelimit, namespace: istio-system}
spec:
  workloadSelector: {labels: {app: api}}
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND, listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          stat_prefix: http_local_rate_limiter
          token_bucket: {max_tokens: 4, tokens_per_fill: 4, fill_interval: 60s}
          filter_enabled: {runtime_key: e, default_value: {numerator: 100, denominator: HUNDRED}}
          filter_enforced: {runtime_key: f, default_value: {numerator: 100, denominator: HUNDRED}}
`;

function model(text: string) {
  const { resources } = loadSources([{ path: 'p.yaml', text, format: 'yaml', size: text.length }], { defaultNamespace: 'default' });
  return buildMeshModel(resources);
}

describe('RateLimit', () => {
  it('validates clean, and each malformed field is an error at its line', async () => {
    assert.deepEqual((await validateText(RATE_LIMIT)).findings.filter((f) => f.severity !== 'info'), []);
    const bad = await validateText(RATE_LIMIT.replace('requests: 10, per: 1s', 'requests: 0, per: 0s').replace('pathPrefix: /login', 'pathPrefix: login'));
    assert.deepEqual(codesAt(bad.findings.filter((f) => f.severity === 'error')), ['IST0106@7', 'IST0106@7', 'IST0106@8']);
    assert.match(bad.findings.find((f) => f.line === 8)!.message, /spec\.limits\[1\]\.match\.pathPrefix in RateLimit api is "login"/);
  });

  it('compiles the most specific limit first, a bucket of burst B refilled by N per P as a window of B over P×B/N', () => {
    const { requestLines, tables } = inboundRateLimits(model(RATE_LIMIT).rateLimits, { namespace: 'default', labels: { app: 'api' } });
    assert.match(requestLines[0]!, /set-var\(txn\.ratelimit\) int\(0\) if .*path -m beg \/login.*req\.hdr\(x-user\) -m found/);
    assert.deepEqual(tables.map((t) => t.lines[0]), [
      'stick-table type string len 256 size 100k expire 60000ms store gpc0,gpc0_rate(60000ms)',
      'stick-table type string len 256 size 100k expire 2000ms store gpc0,gpc0_rate(2000ms)',
    ]);
    assert.ok(requestLines.some((l) => l.includes('hdr x-ratelimit-limit 20 hdr x-ratelimit-remaining 0 hdr x-ratelimit-reset 1')));
    assert.deepEqual(inboundRateLimits(model(RATE_LIMIT).rateLimits, { namespace: 'other', labels: { app: 'api' } }), { requestLines: [], tables: [] });
  });
});

describe('EnvoyFilter local rate limit', () => {
  it('the documented shape is read (from the root namespace, for every namespace) and earns no MSH2015', async () => {
    const r = await validateText(ENVOY_FILTER, { analyzers: ['meshctl.NotEnforcedLocally'] });
    assert.deepEqual(codesAt(r.findings), []);
    const [limit] = model(ENVOY_FILTER).rateLimits;
    assert.deepEqual({ ...limit, limits: limit!.limits.map((l) => [l.requests, l.perMs, l.burst]) }, { source: 'EnvoyFilter istio-system/local-ratelimit', namespace: 'istio-system', everyNamespace: true, selector: { app: 'api' }, limits: [[4, 60000, 4]] });
  });

  for (const [what, change] of [
    ['enabled for a share of requests only', (t: string) => t.replace('numerator: 100, denominator: HUNDRED}}\n          filter_enforced', 'numerator: 50, denominator: HUNDRED}}\n          filter_enforced')],
    ['without a workloadSelector', (t: string) => t.replace('  workloadSelector: {labels: {app: api}}\n', '')],
    ['on the outbound side', (t: string) => t.replace('SIDECAR_INBOUND', 'SIDECAR_OUTBOUND')],
    ['with descriptors', (t: string) => t.replace('          stat_prefix:', '          descriptors: [{entries: [{key: a, value: b}]}]\n          stat_prefix:')],
  ] as const) {
    it(`${what}: not read, MSH2015 at the resource`, async () => {
      const text = change(ENVOY_FILTER);
      assert.notEqual(text, ENVOY_FILTER);
      const r = await validateText(text, { analyzers: ['meshctl.NotEnforcedLocally'] });
      assert.deepEqual(codesAt(r.findings), ['MSH2015@1']);
      assert.match(r.findings[0]!.message, /^EnvoyFilter istio-system\/local-ratelimit is not enforced by the local mesh \(.*local_ratelimit/);
      assert.deepEqual(model(text).rateLimits, []);
    });
  }
});
