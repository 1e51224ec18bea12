import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnvoyAdminClient } from '../../../../src/lib/runtime/envoy/admin-client.js';
import { EnvoyAdminAdapter } from '../../../../src/lib/runtime/envoy/adapter.js';
import { inspectProxy } from '../../../../src/lib/runtime/inspect.js';
import { closedPortUrl, fixture, istioAdminRoutes, startAdmin } from './fixture-server.js';

test('an Envoy admin API served from recorded output reads into every section', async () => {
  const admin = await startAdmin(istioAdminRoutes());
  try {
    const proxy = new EnvoyAdminAdapter(new EnvoyAdminClient(admin.url));
    const snap = await inspectProxy(proxy, ['health', 'listeners', 'routes', 'clusters', 'endpoints', 'stats', 'certs', 'config']);
    assert.deepEqual(snap.unavailable, {});
    assert.equal(snap.health!.ready, true);
    assert.equal(snap.health!.state, 'LIVE');
    assert.equal(snap.health!.uptimeSeconds, 188);
    assert.equal(snap.health!.version, '1.15.0-dev/Clean/RELEASE/BoringSSL');
    assert.equal(snap.health!.mesh?.name, 'istio', 'from the config dump bootstrap');
    assert.equal(snap.health!.config.served, '2023-12-26T05:57:39Z/1');
    // Endpoints are live, from /clusters: the outlier-ejected reviews pod shows as such.
    const ejected = snap.endpoints!.filter((e) => e.health === 'ejected');
    assert.deepEqual(ejected.map((e) => `${e.cluster} ${e.address}:${e.port}`), ['outbound|9080||reviews.default.svc.cluster.local 172.17.0.27:9080']);
    // Clusters from /clusters that the dump does not configure are listed too.
    const reviews = snap.clusters!.find((c) => c.name === 'outbound|9080||reviews.default.svc.cluster.local')!;
    assert.equal(reviews.host, 'reviews.default.svc.cluster.local');
    assert.equal(reviews.port, 9080);
    assert.equal(reviews.endpointCount, 3);
    assert.equal(reviews.circuitBreakers!.state, null);
    assert.match(reviews.circuitBreakers!.stateReason!, /proxyStatsMatcher/);
    // Istio hides per-cluster stats: null with the reason, for every upstream.
    assert.ok(snap.stats!.upstreams.length > 0);
    assert.ok(snap.stats!.upstreams.every((u) => u.requests === null && /proxyStatsMatcher/.test(u.missing.requests!)));
    assert.equal(snap.certs!.length, 2);
    assert.equal(snap.listeners!.length, 2);
    assert.equal(snap.routes!.length, 1);
    assert.ok(snap.config && typeof snap.config === 'object');
    // Each endpoint once, however many sections needed it.
    assert.equal(admin.requests.filter((r) => r === '/config_dump?include_eds').length, 1);
    assert.equal(admin.requests.filter((r) => r === '/clusters?format=json').length, 1);
  } finally {
    await admin.close();
  }
});

test('a proxy without /stats?format=json is read through /stats/prometheus', async () => {
  const routes = istioAdminRoutes();
  delete routes['/stats?format=json'];
  routes['/clusters?format=json'] = { body: JSON.stringify({ cluster_statuses: [{ name: 'echo-server_kuma-test_svc_8080-369bce2d30623ffb' }] }) };
  routes['/server_info'] = { body: fixture('server_info.datadog-fixture-envoy-1.31-trimmed.json') };
  const admin = await startAdmin(routes);
  try {
    const stats = await new EnvoyAdminAdapter(new EnvoyAdminClient(admin.url)).stats();
    assert.equal(stats.source, '/stats/prometheus');
    assert.equal(stats.upstreams[0]!.requests, null);
    assert.match(stats.upstreams[0]!.missing.requests!, /stats_matcher/);
  } finally {
    await admin.close();
  }
});

test('/ready answering 503 INITIALIZING: not ready, and why', async () => {
  const routes = istioAdminRoutes();
  routes['/ready'] = { status: 503, body: 'INITIALIZING\n' };
  const admin = await startAdmin(routes);
  try {
    const health = await new EnvoyAdminAdapter(new EnvoyAdminClient(admin.url)).health();
    assert.equal(health.ready, false);
    assert.equal(health.state, 'INITIALIZING');
  } finally {
    await admin.close();
  }
});

test('an unreachable admin API is an environment error (exit 3) naming the address', async () => {
  const url = await closedPortUrl();
  const client = new EnvoyAdminClient(url);
  await assert.rejects(client.json('/server_info'), (err: Error & { exitCode?: number }) => {
    assert.equal(err.exitCode, 3);
    assert.ok(err.message.includes(url), err.message);
    assert.match(err.message, /Cannot reach the Envoy admin API .* \(connection refused\)/);
    return true;
  });
});

test('truncated or non-JSON admin output is one sentence naming the endpoint', async () => {
  const full = fixture('clusters.json.envoy-test-mock.json');
  const admin = await startAdmin({
    '/clusters?format=json': { body: full.slice(0, Math.floor(full.length / 2)) },
    '/server_info': { body: '<html>not envoy</html>' },
    '/stats?format=json': (res) => {
      // Promises more than it sends, then hangs up.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
      res.write('{"stats": [');
      setTimeout(() => res.destroy(), 20);
    },
  });
  try {
    const client = new EnvoyAdminClient(admin.url);
    await assert.rejects(client.json('/clusters?format=json'), (err: Error & { exitCode?: number }) => {
      assert.equal(err.exitCode, 3);
      assert.match(err.message, /^The Envoy admin endpoint http:\/\/127\.0\.0\.1:\d+\/clusters\?format=json returned truncated JSON/);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    await assert.rejects(client.json('/server_info'), /\/server_info returned something other than JSON/);
    await assert.rejects(client.json('/stats?format=json'), /cut its answer to \/stats\?format=json short/);
  } finally {
    await admin.close();
  }
});

test('a proxy that does not answer in time is an environment error with the timeout', async () => {
  const admin = await startAdmin({ '/server_info': () => undefined });
  try {
    const client = new EnvoyAdminClient(admin.url, { timeoutMs: 200 });
    await assert.rejects(client.json('/server_info'), (err: Error & { exitCode?: number }) => {
      assert.equal(err.exitCode, 3);
      assert.match(err.message, /did not answer \/server_info within 200ms/);
      return true;
    });
  } finally {
    await admin.close();
  }
});

test('--admin-url that is not a URL is a usage error', () => {
  assert.throws(() => new EnvoyAdminClient('ftp://127.0.0.1:15000'), (err: Error & { exitCode?: number }) => err.exitCode === 2);
  assert.equal(new EnvoyAdminClient('127.0.0.1:15000/').baseUrl, 'http://127.0.0.1:15000');
});

test('--rate-window: two readings of the counters give requests per second; one reading says why there is none', async () => {
  const name = 'outbound|9080||reviews.default.svc.cluster.local';
  const counts = [100, 130];
  let served = 0;
  const admin = await startAdmin({
    '/server_info': { body: fixture('server_info.datadog-fixture-envoy-1.31-trimmed.json') },
    '/clusters?format=json': { body: JSON.stringify({ cluster_statuses: [{ name }] }) },
    '/stats?format=json': (res) => {
      const total = counts[Math.min(served++, counts.length - 1)]!;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          stats: [
            { name: `cluster.${name}.upstream_rq_total`, value: total },
            { name: `cluster.${name}.upstream_rq_2xx`, value: total },
          ],
        }),
      );
    },
  });
  try {
    const once = await new EnvoyAdminAdapter(new EnvoyAdminClient(admin.url)).stats();
    assert.equal(once.upstreams[0]!.ratePerSecond, null);
    assert.match(once.upstreams[0]!.missing.ratePerSecond!, /--rate-window/);
    served = 0;
    const twice = await new EnvoyAdminAdapter(new EnvoyAdminClient(admin.url), undefined, { rateWindowMs: 200 }).stats();
    assert.equal(twice.upstreams[0]!.requests, 130);
    assert.equal(twice.upstreams[0]!.ratePerSecond, 150);
    assert.equal(twice.upstreams[0]!.missing.ratePerSecond, undefined);
  } finally {
    await admin.close();
  }
});
