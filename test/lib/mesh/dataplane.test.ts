// Live: a small bookinfo mesh on loopback (echo apps, HAProxy sidecars, an ingress gateway) and
// what a user of the mesh notices: routing by weight, header and URI, rewrites, mTLS identity.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { startTestMesh, type EchoAnswer, type TestMesh } from '../../support/mesh.js';
import { bookinfoPolicy } from '../../support/bookinfo-policy.js';
import { serviceEntryYaml } from '../../support/policy-yaml.js';
import { request, tlsGet, type HttpAnswer } from '../../support/net.js';
import { createMeshCa, issueWorkloadCertificate, sidecarPem } from '../../../src/lib/mesh/ca.js';
import { accessLogAsJsonLines, readAccessLog } from '../../../src/lib/runtime/haproxy/access-log.js';
import { figuresByUpstream } from '../../../src/lib/runtime/haproxy/traffic.js';
import { fetchMetrics, isReady } from '../../../src/lib/runtime/haproxy/admin.js';
import { waitFor } from '../../../src/lib/runtime/haproxy/admin.js';

const PRODUCTPAGE_ID = 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage';

const FAULT_ROUTES = `  - name: fault-abort
    match: [{ headers: { x-fault: { exact: abort } } }]
    fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
    route: [{ destination: { host: reviews, subset: v1 } }]
  - name: fault-half
    match: [{ headers: { x-fault: { exact: half } } }]
    fault: { abort: { httpStatus: 500, percentage: { value: 50 } } }
    route: [{ destination: { host: reviews, subset: v1 } }]
  - name: fault-delay
    match: [{ headers: { x-fault: { exact: delay } } }]
    fault: { delay: { fixedDelay: 300ms, percentage: { value: 100 } } }
    route: [{ destination: { host: reviews, subset: v1 } }]
`;

describe('local mesh data plane (live HAProxy on loopback)', { timeout: 120_000 }, () => {
  let mesh: TestMesh;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  // A server outside the mesh (no sidecar), behind a ServiceEntry: it answers with the headers it got.
  let external: http.Server | undefined;

  before(async () => {
    external = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ headers: req.headers }));
    });
    await new Promise<void>((resolve) => external!.listen(0, '127.0.0.1', () => resolve()));
    const port = (external.address() as AddressInfo).port;
    mesh = await startTestMesh(`${bookinfoPolicy({ extraRoutes: FAULT_ROUTES })}---${serviceEntryYaml('outside', 'outside.example', port)}`, { gateways: ['bookinfo-gateway'] });
  });
  after(async () => {
    agent.destroy();
    await mesh?.stop();
    external?.closeAllConnections();
    await new Promise<void>((resolve) => (external ? external.close(() => resolve()) : resolve()));
  });

  /** A call from productpage's app through its sidecar's outbound listener. */
  const fromProductpage = (path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> =>
    request({ port: mesh.pod('productpage-0').ports.outbound, path, headers: { host: 'reviews', ...headers }, agent });

  /** The line a reviews sidecar (v1 or v2) logged for a request, once it is there. */
  const reviewsInboundLine = (requestId: string) =>
    waitFor(`the inbound line of ${requestId.slice(0, 40)}`, async () => {
      for (const v of ['reviews-v1-0', 'reviews-v2-0']) {
        const e = (await readAccessLog(mesh.pod(v).paths.accessLog)).entries.find((x) => x.requestId === requestId);
        if (e) return e;
      }
      return undefined;
    }, { timeoutMs: 5000 });

  async function countVersions(n: number, send: () => Promise<HttpAnswer>, concurrency = 16): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next++;
        const a = await send();
        assert.equal(a.status, 200, a.body);
        const v = (JSON.parse(a.body) as EchoAnswer).version;
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return counts;
  }

  it('splits 1,000 requests 80/20 between reviews v1 and v2', async () => {
    const counts = await countVersions(1000, () => fromProductpage('/reviews/1'));
    const v1 = counts.get('v1') ?? 0;
    const v2 = counts.get('v2') ?? 0;
    assert.equal(v1 + v2, 1000);
    assert.ok(Math.abs(v1 / 10 - 80) <= 5, `v1 got ${v1 / 10}%`);
    assert.ok(Math.abs(v2 / 10 - 20) <= 5, `v2 got ${v2 / 10}%`);
  });

  it('routes every request with end-user: jason to v2', async () => {
    const counts = await countVersions(100, () => fromProductpage('/reviews/1', { 'end-user': 'jason' }));
    assert.deepEqual([...counts], [['v2', 100]]);
  });

  it('matches a URI prefix, rewrites it, and applies the route header operations', async () => {
    const a = await fromProductpage('/api/v1/ratings?id=7', { 'x-drop-me': 'secret' });
    assert.equal(a.status, 200);
    const echo = JSON.parse(a.body) as EchoAnswer;
    assert.equal(echo.version, 'v1');
    assert.equal(echo.url, '/v1/ratings?id=7');
    assert.equal(echo.headers['x-route'], 'api');
    assert.equal(echo.headers['x-drop-me'], undefined);
    assert.equal(a.headers['x-mesh-route'], 'api');
  });

  it('treats reviews, reviews.default and reviews.default.svc.cluster.local as one host, and unknown hosts as no route', async () => {
    for (const host of ['reviews', 'reviews.default', 'reviews.default.svc.cluster.local:9080', 'REVIEWS.default.svc']) {
      const a = await fromProductpage('/x', { host, 'end-user': 'jason' });
      assert.equal(a.status, 200, host);
      assert.equal((JSON.parse(a.body) as EchoAnswer).version, 'v2', host);
    }
    const missing = await fromProductpage('/x', { host: 'ratings' });
    assert.equal(missing.status, 404);
    assert.match(missing.body, /no route to host ratings/);
  });

  it('accepts absolute-form proxy requests (HTTP_PROXY clients) and forwards them in origin-form', async () => {
    const a = await request({ port: mesh.pod('productpage-0').ports.outbound, path: 'http://reviews.default:9080/proxied?q=1', headers: { host: 'reviews.default:9080', 'end-user': 'jason' } });
    assert.equal(a.status, 200, a.body);
    const echo = JSON.parse(a.body) as EchoAnswer;
    assert.equal(echo.url, '/proxied?q=1');
    assert.equal(echo.version, 'v2');
  });

  it("hands the app the caller's SPIFFE ID, verified from its certificate", async () => {
    const a = await fromProductpage('/whoami', { 'x-forwarded-client-cert': 'URI=spiffe://cluster.local/ns/evil/sa/forged' });
    const echo = JSON.parse(a.body) as EchoAnswer;
    const xfcc = String(echo.headers['x-forwarded-client-cert']);
    assert.match(xfcc, /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-reviews;/);
    assert.ok(xfcc.endsWith(`;URI=${PRODUCTPAGE_ID}`), xfcc);
    assert.doesNotMatch(xfcc, /forged/);
    // Hash is the SHA-256 of the caller's certificate, on every request of a reused connection too.
    const caller = new X509Certificate(await fs.readFile(mesh.pod('productpage-0').paths.certificate));
    const hash = createHash('sha256').update(caller.raw).digest('hex');
    for (let i = 0; i < 3; i++) {
      const again = JSON.parse((await fromProductpage('/whoami')).body) as EchoAnswer;
      assert.equal(/;Hash=([0-9a-f]+);/.exec(String(again.headers['x-forwarded-client-cert']))?.[1], hash);
    }
  });

  it('refuses plaintext at a STRICT inbound listener', async () => {
    const inbound = mesh.pod('reviews-v1-0').ports.inbound;
    await assert.rejects(request({ port: inbound, path: '/', headers: { host: 'reviews' } }), /socket hang up|ECONNRESET|EPIPE|Parse Error/);
  });

  const tlsCall = (port: number, pem: { cert: string; key: string } | null, ca: string) => tlsGet({ port, pem, ca, host: 'reviews', path: '/tls' });

  it('refuses a client certificate from another CA, and serves one from the mesh CA', async () => {
    const inbound = mesh.pod('reviews-v1-0').ports.inbound;
    const other = await createMeshCa();
    const forged = await issueWorkloadCertificate(other, { namespace: 'default', serviceAccount: 'bookinfo-productpage' });
    await assert.rejects(tlsCall(inbound, { cert: forged.certificatePem, key: forged.privateKeyPem }, mesh.ca.certificatePem));
    await assert.rejects(tlsCall(inbound, null, mesh.ca.certificatePem));
    const good = await issueWorkloadCertificate(mesh.ca, { namespace: 'default', serviceAccount: 'tester' });
    const answer = await tlsCall(inbound, { cert: good.certificatePem, key: good.privateKeyPem }, mesh.ca.certificatePem);
    assert.match(answer, /^HTTP\/1\.1 200/);
    assert.match(answer, /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/tester/);
    assert.ok(sidecarPem(good).includes('PRIVATE KEY'));
  });

  it('accepts both mTLS and plaintext at a PERMISSIVE inbound listener', async () => {
    const inbound = mesh.pod('productpage-0').ports.inbound;
    const plain = await request({ port: inbound, path: '/plain', headers: { host: 'productpage' } });
    assert.equal(plain.status, 200);
    assert.equal((JSON.parse(plain.body) as EchoAnswer).headers['x-forwarded-client-cert'], undefined);
    const good = await issueWorkloadCertificate(mesh.ca, { namespace: 'default', serviceAccount: 'tester' });
    const answer = await tlsCall(inbound, { cert: good.certificatePem, key: good.privateKeyPem }, mesh.ca.certificatePem);
    assert.match(answer, /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/tester/);
  });

  it('routes ingress traffic per the VirtualServices bound to the Gateway', async () => {
    const gw = mesh.gateway('bookinfo-gateway');
    const port = gw.listeners[8080];
    const page = await request({ port, path: '/productpage', headers: { host: 'bookinfo.example.com' } });
    assert.equal(page.status, 200);
    const echo = JSON.parse(page.body) as EchoAnswer;
    assert.equal(echo.pod, 'productpage-0');
    assert.match(String(echo.headers['x-forwarded-client-cert']), /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-gateway-sa$/);
    const rewritten = await request({ port, path: '/reviews/7', headers: { host: 'bookinfo.example.com' } });
    assert.equal((JSON.parse(rewritten.body) as EchoAnswer).url, '/7');
    const other = await request({ port, path: '/admin', headers: { host: 'bookinfo.example.com' } });
    assert.equal(other.status, 404);
    const counts = await countVersions(200, () => request({ port, path: '/reviews/x', headers: { host: 'bookinfo.example.com' }, agent }));
    assert.ok(Math.abs((counts.get('v1') ?? 0) / 2 - 80) <= 5, JSON.stringify([...counts]));
  });

  it('injects faults: aborts all or a share of requests, delays without blocking other requests', async () => {
    const abort = await fromProductpage('/f', { 'x-fault': 'abort' });
    assert.equal(abort.status, 503);
    assert.match(abort.body, /fault filter abort/);
    let aborted = 0;
    for (let i = 0; i < 200; i++) if ((await fromProductpage('/f', { 'x-fault': 'half' })).status === 500) aborted++;
    assert.ok(aborted >= 70 && aborted <= 130, `${aborted} of 200 aborted`);
    const t0 = Date.now();
    const [delayed, quick] = await Promise.all([
      fromProductpage('/slow', { 'x-fault': 'delay' }).then((a) => ({ a, ms: Date.now() - t0 })),
      fromProductpage('/fast', { 'end-user': 'jason' }).then((a) => ({ a, ms: Date.now() - t0 })),
    ]);
    assert.equal(delayed.a.status, 200);
    assert.ok(delayed.ms >= 300, `delayed by ${delayed.ms} ms`);
    assert.ok(quick.ms < delayed.ms, 'a delay holds only its own request');
  });

  it('serves readiness, revision and Prometheus metrics on the admin port', async () => {
    const admin = mesh.pod('reviews-v1-0').ports.admin;
    assert.equal(await isReady(admin), true);
    const metrics = await fetchMetrics(admin);
    assert.match(metrics, /haproxy_process_nbthread/);
    assert.match(metrics, /haproxy_backend_http_responses_total/);
  });

  it('writes a JSON access log with request id, source, destination host and subset, status, duration and retries', async () => {
    const pp = mesh.pod('productpage-0');
    const since = Date.now() - 1;
    await fromProductpage('/logged', { 'x-request-id': 'req-log-1', 'end-user': 'jason' });
    const entry = await waitFor('the access log line of req-log-1', async () => {
      const { entries } = await readAccessLog(pp.paths.accessLog);
      return entries.find((e) => e.requestId === 'req-log-1' && e.direction === 'outbound');
    }, { timeoutMs: 5000 });
    assert.equal(entry.source, PRODUCTPAGE_ID);
    assert.equal(entry.destinationHost, 'reviews.default.svc.cluster.local');
    assert.equal(entry.destinationSubset, 'v2');
    assert.equal(entry.status, 200);
    assert.ok(entry.durationMs >= 0);
    assert.equal(entry.retries, 0);
    const inbound = await waitFor('the inbound log line of req-log-1', async () => {
      const { entries } = await readAccessLog(mesh.pod('reviews-v2-0').paths.accessLog);
      return entries.find((e) => e.requestId === 'req-log-1');
    }, { timeoutMs: 5000 });
    assert.equal(inbound.source, PRODUCTPAGE_ID);
    const { entries } = await readAccessLog(pp.paths.accessLog);
    const figures = figuresByUpstream(entries, { sinceMs: 0, untilMs: Date.now() + 1 });
    const v1 = figures.find((f) => f.subset === 'v1');
    assert.ok(v1 && v1.requests > 0 && v1.statusClasses['2xx'] === v1.requests);
    assert.ok(v1.latencyMs.p99 !== null && v1.latencyMs.p99 >= 0);
    assert.ok(entries.every((e) => e.startMs > 0) && since > 0);
    assert.ok((await fs.stat(pp.paths.runtimeSocket)).mode % 0o1000 === 0o600);
  });

  it('logs what a client filled in with a tab, quotes, a backslash or a percent sign as it was sent, on both hops, and logs prints it as JSON', async () => {
    // A tab must not split a field, nor a percent sign pass for one of the log's escapes.
    const requestId = 'req\t"log"\\2%09%';
    const pp = mesh.pod('productpage-0');
    assert.equal((await fromProductpage('/logged/"odd"\\path%41?q=1', { 'x-request-id': requestId })).status, 200);
    const outbound = await waitFor('the outbound line', async () => (await readAccessLog(pp.paths.accessLog)).entries.find((e) => e.requestId === requestId), { timeoutMs: 5000 });
    assert.equal(outbound.path, '/logged/"odd"\\path%41');
    assert.equal(outbound.host, 'reviews');
    assert.equal(outbound.status, 200);
    const inbound = await reviewsInboundLine(requestId);
    assert.equal(inbound.direction, 'inbound');
    assert.equal(inbound.path, outbound.path);
    assert.equal(inbound.destinationHost, 'reviews', 'a receiving sidecar\'s destination is the host it was called by');
    const printed = accessLogAsJsonLines(await fs.readFile(pp.paths.accessLog, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const logged = printed.find((o) => o.request_id === requestId);
    assert.ok(logged, 'meshctl logs prints the line as a JSON object');
    assert.equal(logged.path, '/logged/"odd"\\path%41');
    assert.equal(logged.status, 200);
    assert.equal(logged.direction, 'outbound');
  });

  it('counts a request with a long path and a long request id on both hops, its path and id logged whole', async () => {
    // Past HAProxy's defaults (a 1,024-byte log line, 1,024 bytes of request line kept for logs): the
    // line would be cut, and a reader drops a cut line, so the request would go uncounted.
    const requestId = `long-${'i'.repeat(2000)}`;
    const longPath = `/long${'/segment-%41'.repeat(400)}`;
    assert.equal((await fromProductpage(`${longPath}?q=${'x'.repeat(500)}`, { 'x-request-id': requestId })).status, 200);
    const outbound = await waitFor('the outbound line', async () => (await readAccessLog(mesh.pod('productpage-0').paths.accessLog)).entries.find((e) => e.requestId === requestId), { timeoutMs: 5000 });
    assert.equal(outbound.path, longPath);
    assert.equal(outbound.status, 200);
    const inbound = await reviewsInboundLine(requestId);
    assert.equal(inbound.path, longPath);
  });

  it('trace context: a request without one starts a trace, each hop its own span; a caller\'s traceparent is continued, single-header b3 renewed where sent; a malformed one is replaced', async () => {
    const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;
    const send = async (requestId: string, headers: Record<string, string>) => {
      const a = await fromProductpage('/traced', { 'x-request-id': requestId, 'end-user': 'jason', ...headers });
      assert.equal(a.status, 200, a.body);
      const received = (JSON.parse(a.body) as EchoAnswer).headers;
      const line = async (pod: string) => waitFor(`the ${pod} line of ${requestId}`, async () => (await readAccessLog(mesh.pod(pod).paths.accessLog)).entries.find((e) => e.requestId === requestId), { timeoutMs: 5000 });
      return { received, outbound: await line('productpage-0'), inbound: await line('reviews-v2-0') };
    };

    const fresh = await send('trace-fresh', {});
    const [, traceId, appSpan] = TRACEPARENT.exec(String(fresh.received.traceparent)) ?? [];
    assert.ok(traceId && appSpan, `the app gets a W3C traceparent: ${fresh.received.traceparent}`);
    assert.deepEqual([fresh.outbound.traceId, fresh.inbound.traceId], [traceId, traceId]);
    assert.equal(fresh.outbound.parentSpanId, '', 'the sending hop opened the trace');
    assert.equal(fresh.inbound.parentSpanId, fresh.outbound.spanId, 'the receiving hop\'s span is the child of the sending hop\'s');
    assert.equal(fresh.inbound.spanId, appSpan);
    assert.notEqual(fresh.inbound.spanId, fresh.outbound.spanId);
    assert.deepEqual([fresh.received['x-b3-traceid'], fresh.received['x-b3-spanid'], fresh.received['x-b3-parentspanid'], fresh.received['x-b3-sampled'], fresh.received.b3], [traceId, appSpan, fresh.outbound.spanId, '1', undefined]);

    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const continued = await send('trace-continued', { traceparent: `00-${callerTrace}-00f067aa0ba902b7-01`, b3: 'ignored-by-the-mesh', 'x-b3-parentspanid': 'ffffffffffffffff' });
    assert.deepEqual([continued.outbound.traceId, continued.outbound.parentSpanId, continued.inbound.traceId], [callerTrace, '00f067aa0ba902b7', callerTrace]);
    assert.equal(continued.received.traceparent, `00-${callerTrace}-${continued.inbound.spanId}-01`);
    assert.equal(continued.received.b3, `${callerTrace}-${continued.inbound.spanId}-1`);
    assert.equal(continued.received['x-b3-parentspanid'], continued.outbound.spanId);

    // B3 as an app passes it on (what its sidecar gave it): between sidecars it goes on as sent, the
    // receiving sidecar reads traceparent and names its own span in B3 to its app.
    const appB3 = { traceparent: `00-${callerTrace}-00f067aa0ba902b7-01`, 'x-b3-traceid': callerTrace, 'x-b3-spanid': '00f067aa0ba902b7', 'x-b3-sampled': '1' };
    const viaB3 = await send('trace-b3-passed-on', appB3);
    assert.deepEqual([viaB3.outbound.parentSpanId, viaB3.inbound.parentSpanId], ['00f067aa0ba902b7', viaB3.outbound.spanId]);
    assert.deepEqual([viaB3.received['x-b3-traceid'], viaB3.received['x-b3-spanid'], viaB3.received['x-b3-parentspanid'], viaB3.received['x-b3-sampled']], [callerTrace, viaB3.inbound.spanId, viaB3.outbound.spanId, '1']);

    // A server outside the mesh gets the sending sidecar's span in both forms, its B3 headers included.
    for (const [requestId, headers] of [['trace-outside-fresh', {}], ['trace-outside-b3', { ...appB3, b3: `${callerTrace}-00f067aa0ba902b7-1` }]] as const) {
      const a = await request({ port: mesh.pod('productpage-0').ports.outbound, path: '/outside', headers: { host: 'outside.example', 'x-request-id': requestId, ...headers }, agent });
      assert.equal(a.status, 200, a.body);
      const got = (JSON.parse(a.body) as { headers: Record<string, string> }).headers;
      const line = await waitFor(`the outbound line of ${requestId}`, async () => (await readAccessLog(mesh.pod('productpage-0').paths.accessLog)).entries.find((e) => e.requestId === requestId), { timeoutMs: 5000 });
      assert.equal(line.destinationHost, 'outside.example');
      assert.equal(got.traceparent, `00-${line.traceId}-${line.spanId}-01`, requestId);
      assert.deepEqual([got['x-b3-traceid'], got['x-b3-spanid'], got['x-b3-parentspanid'], got['x-b3-sampled']], [line.traceId, line.spanId, line.parentSpanId || undefined, '1'], requestId);
      assert.equal(got.b3, 'b3' in headers ? `${line.traceId}-${line.spanId}-1` : undefined, requestId);
    }

    const malformed = await send('trace-malformed', { traceparent: `00-${callerTrace.toUpperCase()}-00F067AA0BA902B7-01` });
    assert.match(malformed.outbound.traceId ?? '', /^[0-9a-f]{32}$/);
    assert.notEqual(malformed.outbound.traceId, callerTrace, 'an uppercase traceparent is not W3C: a new trace starts');
    assert.equal(malformed.outbound.parentSpanId, '');
    assert.equal(malformed.received.traceparent, `00-${malformed.outbound.traceId}-${malformed.inbound.spanId}-01`);
  });

  it("dates a request on a reused keep-alive connection from the request's own start, not the connection's", async () => {
    const pp = mesh.pod('productpage-0');
    const one = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const logged = (id: string) => waitFor(`the access log line of ${id}`, async () => {
      const { entries } = await readAccessLog(pp.paths.accessLog);
      return entries.find((e) => e.requestId === id && e.direction === 'outbound');
    }, { timeoutMs: 5000 });
    try {
      const first = await request({ port: pp.ports.outbound, path: '/first', headers: { host: 'reviews', 'x-request-id': 'keepalive-1' }, agent: one });
      assert.equal(first.status, 200);
      // The connection idles while the first line is read back; the second request starts after that.
      const firstEntry = await logged('keepalive-1');
      const sentAt = Date.now();
      const second = await request({ port: pp.ports.outbound, path: '/second', headers: { host: 'reviews', 'x-request-id': 'keepalive-2' }, agent: one });
      const answeredAt = Date.now();
      assert.equal(second.status, 200);
      const secondEntry = await logged('keepalive-2');
      assert.ok(firstEntry.startMs < sentAt);
      assert.ok(secondEntry.startMs >= sentAt - 1 && secondEntry.startMs <= answeredAt, `logged start ${secondEntry.startMs}, sent at ${sentAt}, answered at ${answeredAt}`);
    } finally {
      one.destroy();
    }
  });
});
