// Live: rate limits on a destination's inbound sidecar (meshctl's RateLimit kind, and Envoy's local rate
// limit EnvoyFilter in its documented shape), as a caller notices them: the request past the limit gets
// 429 with x-ratelimit-limit / -remaining / -reset, each header value has a limit of its own, and the
// access log shows the refusal.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestMesh, type TestMesh } from '../../support/mesh.js';
import { request, type HttpAnswer } from '../../support/net.js';
import { serviceYaml, workloadYaml } from '../../support/policy-yaml.js';
import { readAccessLog } from '../../../src/lib/runtime/haproxy/access-log.js';
import { waitFor } from '../../../src/lib/runtime/haproxy/admin.js';

const PODS = `${workloadYaml({ name: 'client', labels: 'app: client', serviceAccount: 'client' })}
${workloadYaml({ name: 'api', labels: 'app: api', serviceAccount: 'api' })}
${serviceYaml('client')}
${serviceYaml('api')}`;

const RATE_LIMIT = `
apiVersion: meshctl.dev/v1alpha1
kind: RateLimit
metadata: { name: api, namespace: default }
spec:
  selector: { matchLabels: { app: api } }
  limits:
  - { requests: 10, per: 1s, match: { header: x-client } }
  - { requests: 10, per: 1s, match: { pathPrefix: /all } }
  - { requests: 2, per: 1m, match: { pathPrefix: /scarce } }
---`;

const envoyFilter = (bucket: string, extra = '') => `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: api-local-ratelimit, namespace: default }
spec:
  workloadSelector: { labels: { app: api } }
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager } } }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value:
            stat_prefix: http_local_rate_limiter
            token_bucket: ${bucket}
            filter_enabled: { runtime_key: local_rate_limit_enabled, default_value: { numerator: 100, denominator: HUNDRED } }
            filter_enforced: { runtime_key: local_rate_limit_enforced, default_value: { numerator: 100, denominator: HUNDRED } }
            response_headers_to_add: [{ append: false, header: { key: x-local-rate-limit, value: "true" } }]${extra}
---`;

describe('rate limits on a live mesh (the destination sidecar answers 429)', { timeout: 120_000 }, () => {
  let mesh: TestMesh;

  before(async () => {
    mesh = await startTestMesh(PODS + RATE_LIMIT);
  });
  after(async () => {
    await mesh?.stop();
  });

  const call = (path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> =>
    request({ port: mesh.pod('client-0').ports.outbound, path, headers: { host: 'api', ...headers }, timeoutMs: 10_000 });

  /**
   * 11 requests at once against a 10/s limit, each with the headers `headersOf` gives it. A busy machine may
   * not fit them in one second: then the window moved on and the try says nothing, so up to 3 tries.
   */
  async function burstOfEleven(path: string, headersOf: (attempt: number, i: number) => Record<string, string>): Promise<HttpAnswer[]> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const t0 = Date.now();
      const answers = await Promise.all(Array.from({ length: 11 }, (_, i) => call(path, headersOf(attempt, i))));
      if (Date.now() - t0 < 900) return answers;
    }
    assert.fail('no try sent 11 requests within 900 ms on this machine');
  }

  function assertLimited(answers: HttpAnswer[], limit: number, resetSeconds: number): HttpAnswer {
    const statuses = answers.map((a) => a.status).sort((a, b) => a - b);
    assert.deepEqual(statuses, [...Array(limit).fill(200), ...Array(answers.length - limit).fill(429)]);
    const refused = answers.find((a) => a.status === 429)!;
    assert.equal(refused.headers['x-ratelimit-limit'], String(limit));
    assert.equal(refused.headers['x-ratelimit-remaining'], '0');
    assert.equal(refused.headers['x-ratelimit-reset'], String(resetSeconds));
    assert.equal(refused.body, 'local_rate_limited');
    return refused;
  }

  it('10/s: the 11th request within a second gets 429 with the three headers; another header value is not limited', async () => {
    let key = '';
    const answers = await burstOfEleven('/', (attempt) => ({ 'x-client': (key = `alice-${attempt}`) }));
    assertLimited(answers, 10, 1);
    const other = await call('/', { 'x-client': `bob-${key}` });
    assert.equal(other.status, 200, 'each header value has its own limit');
    const unkeyed = await call('/');
    assert.equal(unkeyed.status, 200, 'a request without the header counts against no keyed limit');
  });

  it('a limit without a header counts every caller together; its longer path prefix wins over the keyed limit', async () => {
    const answers = await burstOfEleven('/all/x', (attempt, i) => ({ 'x-client': `caller-${attempt}-${i}` }));
    assertLimited(answers, 10, 1);
  });

  it('2 per minute: the third request is refused, whatever its header; the access log shows the refusal', async () => {
    const statuses: number[] = [];
    let refused: HttpAnswer | null = null;
    for (let i = 0; i < 3; i++) {
      const a = await call('/scarce', { 'x-client': `scarce-${i}`, 'x-request-id': `scarce-${i}` });
      statuses.push(a.status);
      if (a.status === 429) refused = a;
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    assert.equal(refused!.headers['x-ratelimit-reset'], '60');
    assert.equal(refused!.headers['x-ratelimit-limit'], '2');
    const entry = await waitFor('the inbound log line of the refused request', async () => {
      const { entries } = await readAccessLog(mesh.pod('api-0').paths.accessLog);
      return entries.find((e) => e.requestId === 'scarce-2');
    }, { timeoutMs: 5000 });
    assert.equal(entry.status, 429);
    assert.deepEqual(entry.responseFlags, ['RL']);
    assert.equal(entry.direction, 'inbound');
    assert.equal(entry.server, '<NOSRV>', 'the app never saw it');
    assert.equal(mesh.app('api-0').received.filter((r) => r.url === '/scarce').length, 2);
  });

  it("Envoy's local rate limit EnvoyFilter in its documented shape is enforced the same way", async () => {
    await mesh.apply(PODS + envoyFilter('{ max_tokens: 3, tokens_per_fill: 3, fill_interval: 60s }'));
    assert.ok(!mesh.compiled.notes.some((n) => n.includes('EnvoyFilter default/api-local-ratelimit')), mesh.compiled.notes.join('\n'));
    const answers: HttpAnswer[] = [];
    for (let i = 0; i < 4; i++) answers.push(await call('/envoy'));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 429]);
    assert.equal(answers[3]!.headers['x-local-rate-limit'], 'true');
    assert.equal(answers[3]!.headers['x-ratelimit-limit'], '3');
  });

  it('a request the AuthorizationPolicy denies takes no token: authorization comes first, as in Istio', async () => {
    await mesh.apply(PODS + `
apiVersion: meshctl.dev/v1alpha1
kind: RateLimit
metadata: { name: api, namespace: default }
spec:
  selector: { matchLabels: { app: api } }
  limits: [{ requests: 2, per: 1m, match: { pathPrefix: /guarded } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-flagged, namespace: default }
spec:
  selector: { matchLabels: { app: api } }
  action: DENY
  rules: [{ when: [{ key: "request.headers[x-deny]", values: ["yes"] }] }]
---`);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call('/guarded', { 'x-deny': 'yes' })).status);
    for (let i = 0; i < 3; i++) statuses.push((await call('/guarded')).status);
    assert.deepEqual(statuses, [403, 403, 403, 200, 200, 429]);
  });

  it('an EnvoyFilter of another shape limits nothing and apply says so', async () => {
    // descriptors make the limit depend on route actions the local mesh does not read.
    await mesh.apply(PODS + envoyFilter('{ max_tokens: 1, tokens_per_fill: 1, fill_interval: 60s }', '\n            descriptors: [{ entries: [{ key: path, value: /x }], token_bucket: { max_tokens: 1, fill_interval: 60s } }]'));
    assert.ok(mesh.compiled.notes.some((n) => /^EnvoyFilter default\/api-local-ratelimit is not enforced by the local mesh/.test(n)), mesh.compiled.notes.join('\n'));
    for (let i = 0; i < 3; i++) assert.equal((await call('/other')).status, 200);
  });
});
