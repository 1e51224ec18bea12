// Live: traffic mirroring on a small mesh on loopback (echo apps, real HAProxy sidecars). A caller's
// sidecar copies the requests of mirrored routes to the mirror subset, with the Host suffixed
// "-shadow", while the caller sees only the primary destination's answer, its latency and its status.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestMesh, type EchoAnswer, type TestMesh } from '../../support/mesh.js';
import { request, type HttpAnswer } from '../../support/net.js';
import { serviceYaml, workloadYaml } from '../../support/policy-yaml.js';
import { readAccessLog } from '../../../src/lib/runtime/haproxy/access-log.js';
import { waitFor } from '../../../src/lib/runtime/haproxy/admin.js';
import { RuntimeApi } from '../../../src/lib/runtime/haproxy/runtime-api.js';
import { stopProxy } from '../../../src/lib/runtime/haproxy/apply.js';

const workload = (name: string, labels: string, serviceAccount: string) => workloadYaml({ name, labels, serviceAccount });

const POLICY = `${workload('caller', 'app: caller', 'caller')}
${workload('reviews-v1', 'app: reviews, version: v1', 'reviews')}
${workload('reviews-v2', 'app: reviews, version: v2', 'reviews')}
${workload('reviews-v3', 'app: reviews, version: v3', 'reviews')}
${serviceYaml('caller')}
${serviceYaml('reviews')}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
  - { name: v3, labels: { version: v3 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - name: mirrored
    match: [{ headers: { x-test: { exact: mirror } } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
    mirror: { host: reviews, subset: v2 }
  - name: never
    match: [{ headers: { x-test: { exact: never } } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
    mirror: { host: reviews, subset: v2 }
    mirrorPercentage: { value: 0 }
  - name: dead
    match: [{ headers: { x-test: { exact: dead } } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
    mirrors: [{ destination: { host: reviews, subset: v3 }, percentage: { value: 100 } }]
  - name: plain
    route: [{ destination: { host: reviews, subset: v1 } }]
`;

const HOST = 'reviews.default.svc.cluster.local';

describe('traffic mirroring in the local mesh (live HAProxy on loopback)', { timeout: 60_000 }, () => {
  let mesh: TestMesh;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  before(async () => {
    mesh = await startTestMesh(POLICY);
  });
  after(async () => {
    agent.destroy();
    await mesh?.stop();
  });

  const call = (path: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<HttpAnswer> => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: mesh.pod('caller-0').ports.outbound, path, method, headers: { host: 'reviews', ...headers }, agent, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
  const shadowCopies = (pod: string, prefix: string) => mesh.app(pod).received.filter((r) => r.url.startsWith(prefix));
  const mirrorLog = async () => (await readAccessLog(mesh.pod('caller-0').paths.accessLog)).entries.filter((e) => e.mirror);

  it('sends a copy with the -shadow host to the mirror subset, while the caller gets only the primary answer', async () => {
    const answers: HttpAnswer[] = [];
    for (let i = 0; i < 20; i++) answers.push(await call(`/m/get-${i}?q=${i}`, { 'x-test': 'mirror', 'x-request-id': `mirror-${i}` }));
    const body = JSON.stringify({ review: 'five stars', n: 42 });
    answers.push(await call('/m/post', { 'x-test': 'mirror', 'content-type': 'application/json', 'x-request-id': 'mirror-post' }, 'POST', body));
    for (const a of answers) {
      assert.equal(a.status, 200, a.body);
      const echo = JSON.parse(a.body) as EchoAnswer;
      assert.equal(echo.version, 'v1');
      assert.equal(echo.headers.host, 'reviews');
    }
    const copies = await waitFor('21 copies at reviews v2', async () => {
      const seen = shadowCopies('reviews-v2-0', '/m/');
      return seen.length >= 21 ? seen : undefined;
    }, { timeoutMs: 10_000 });
    assert.equal(copies.length, 21);
    for (const c of copies) {
      assert.equal(c.headers.host, 'reviews-shadow');
      assert.equal(c.headers['x-meshctl-mirror'], undefined);
      // The copy went over mTLS as the caller: the sidecar of v2 verified the caller's identity.
      assert.match(String(c.headers['x-forwarded-client-cert']), /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/caller$/);
    }
    assert.deepEqual(copies.filter((c) => c.url.startsWith('/m/get-')).map((c) => c.url).sort(), Array.from({ length: 20 }, (_, i) => `/m/get-${i}?q=${i}`).sort());
    const post = copies.find((c) => c.url === '/m/post')!;
    assert.equal(post.method, 'POST');
    assert.equal(post.body, body);
    assert.equal(post.headers['content-type'], 'application/json');
    assert.equal(post.headers['x-request-id'], 'mirror-post');
    // The primary got each request once, the mirror target nothing but the copies.
    assert.equal(shadowCopies('reviews-v1-0', '/m/').length, 21);
    assert.ok(shadowCopies('reviews-v1-0', '/m/').every((r) => r.headers.host === 'reviews'));
    // Each copy is in the caller's access log, marked as mirrored, with the mirror destination.
    const logged = await waitFor('21 mirrored log lines', async () => {
      const entries = (await mirrorLog()).filter((e) => e.path.startsWith('/m/'));
      return entries.length >= 21 ? entries : undefined;
    }, { timeoutMs: 5000 });
    for (const e of logged) {
      assert.deepEqual([e.direction, e.destinationHost, e.destinationSubset, e.status, e.host, e.route], ['mirror', HOST, 'v2', 200, 'reviews-shadow', 'vs:default:reviews:mirrored']);
    }
    const real = (await readAccessLog(mesh.pod('caller-0').paths.accessLog)).entries.filter((e) => !e.mirror && e.path.startsWith('/m/'));
    assert.ok(real.length === 21 && real.every((e) => e.direction === 'outbound' && e.destinationSubset === 'v1'));
    const stats = await new RuntimeApi(mesh.pod('caller-0').paths.runtimeSocket).mirrorStats();
    assert.ok(stats.sent >= 21 && stats.failed === 0 && stats.dropped === 0, JSON.stringify(stats));
  });

  it("never waits for the copy: a mirror target that answers 1.5 s late does not slow the caller's request", async () => {
    const t0 = Date.now();
    const a = await call('/m/slow', { 'x-test': 'mirror', 'x-shadow-delay-ms': '1500' });
    const ms = Date.now() - t0;
    assert.equal(a.status, 200);
    assert.ok(ms < 1000, `the caller waited ${ms} ms`);
    const copy = await waitFor('the slow copy', async () => shadowCopies('reviews-v2-0', '/m/slow')[0] ?? undefined, { timeoutMs: 5000 });
    assert.equal(copy.headers.host, 'reviews-shadow');
    const logged = await waitFor('the slow copy answered', async () => (await mirrorLog()).find((e) => e.path === '/m/slow') ?? undefined, { timeoutMs: 5000 });
    assert.ok(logged.durationMs >= 1500, `logged ${logged.durationMs} ms`);
  });

  it('sends no copy at mirrorPercentage 0', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await call(`/never/${i}`, { 'x-test': 'never' })).status, 200);
    // A mirrored request after them: once its copy is in, copies of the earlier ones would be too.
    await call('/m/marker', { 'x-test': 'mirror' });
    await waitFor('the marker copy', async () => shadowCopies('reviews-v2-0', '/m/marker')[0] ?? undefined, { timeoutMs: 5000 });
    assert.deepEqual(shadowCopies('reviews-v2-0', '/never/'), []);
    assert.equal(shadowCopies('reviews-v1-0', '/never/').length, 20);
    assert.deepEqual((await mirrorLog()).filter((e) => e.path.startsWith('/never/')), []);
  });

  it('copies a body that is all in within the wait; skips the copy of a late or chunked one, never the request', async () => {
    const api = new RuntimeApi(mesh.pod('caller-0').paths.runtimeSocket);
    /** A POST whose body is written in parts, `gapMs` apart (chunked without a content-length). */
    const inParts = (path: string, parts: string[], gapMs: number, chunked: boolean) => new Promise<number>((resolve, reject) => {
      const length = Buffer.byteLength(parts.join(''));
      const headers: Record<string, string> = { host: 'reviews', 'x-test': 'mirror', ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(length) }) };
      const req = http.request({ host: '127.0.0.1', port: mesh.pod('caller-0').ports.outbound, path, method: 'POST', headers, agent, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.flushHeaders();
      void (async () => {
        for (const p of parts) {
          await new Promise((r) => setTimeout(r, gapMs));
          req.write(p);
        }
        req.end();
      })();
    });
    const received = (url: string) => mesh.app('reviews-v1-0').received.find((r) => r.url === url)?.body;
    // The body's second half comes 10 ms after its first: the copy waits for it.
    assert.equal(await inParts('/m/parts', ['first half,', 'second half'], 10, false), 200);
    const copy = await waitFor('the copy of the body in parts', async () => shadowCopies('reviews-v2-0', '/m/parts')[0], { timeoutMs: 5000 });
    assert.equal(copy.body, 'first half,second half');
    const before = await api.mirrorStats();
    // 300 ms between the parts: past the wait, so the copy is skipped; the request is served whole.
    assert.equal(await inParts('/m/late', ['first,', 'second'], 300, false), 200);
    assert.equal(received('/m/late'), 'first,second');
    // A chunked body is never copied (nothing tells an action it is complete).
    assert.equal(await inParts('/m/chunked', ['one,', 'two'], 0, true), 200);
    assert.equal(received('/m/chunked'), 'one,two');
    assert.equal((await api.mirrorStats()).skipped, before.skipped + 2);
    await call('/m/after-skips', { 'x-test': 'mirror' });
    await waitFor('the next copy', async () => shadowCopies('reviews-v2-0', '/m/after-skips')[0], { timeoutMs: 5000 });
    assert.deepEqual([...shadowCopies('reviews-v2-0', '/m/late'), ...shadowCopies('reviews-v2-0', '/m/chunked')], []);
  });

  it('skips the copy of a body over the bound, never the request', async () => {
    const api = new RuntimeApi(mesh.pod('caller-0').paths.runtimeSocket);
    const before = await api.mirrorStats();
    const big = 'x'.repeat(20_000);
    const a = await call('/m/big', { 'x-test': 'mirror', 'content-type': 'text/plain' }, 'POST', big);
    assert.equal(a.status, 200);
    assert.equal(mesh.app('reviews-v1-0').received.find((r) => r.url === '/m/big')?.body.length, 20_000);
    const after = await api.mirrorStats();
    assert.equal(after.skipped, before.skipped + 1);
    await call('/m/after-big', { 'x-test': 'mirror' });
    await waitFor('the next copy', async () => shadowCopies('reviews-v2-0', '/m/after-big')[0], { timeoutMs: 5000 });
    assert.deepEqual(shadowCopies('reviews-v2-0', '/m/big'), []);
  });

  it('drops copies beyond the limit in flight, and counts them, while every request is served', async () => {
    const api = new RuntimeApi(mesh.pod('caller-0').paths.runtimeSocket);
    // A copy of an earlier test's request may still be answering (its target saw it, the sidecar has
    // not counted it yet): start from counters nothing is still adding to.
    const before = await waitFor('no earlier copy in flight', async () => {
      const s = await api.mirrorStats();
      return s.active === 0 ? s : undefined;
    }, { timeoutMs: 5000 });
    const wide = new http.Agent({ keepAlive: true, maxSockets: 16 });
    try {
      // Copies held 1 s each by the mirror target: more requests than the limit pile them up.
      const n = before.limit + 30;
      const answers = await Promise.all(Array.from({ length: n }, (_, i) => new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: mesh.pod('caller-0').ports.outbound, path: `/m/burst-${i}`, headers: { host: 'reviews', 'x-test': 'mirror', 'x-shadow-delay-ms': '1000' }, agent: wide, timeout: 5000 }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      })));
      assert.deepEqual([...new Set(answers)], [200]);
      const during = await api.mirrorStats();
      assert.ok(during.active <= during.limit, JSON.stringify(during));
      assert.ok(during.dropped > before.dropped, JSON.stringify(during));
      const settled = await waitFor('every copy done', async () => {
        const s = await api.mirrorStats();
        return s.active === 0 ? s : undefined;
      }, { timeoutMs: 10_000 });
      const made = settled.sent + settled.failed - before.sent - before.failed;
      assert.equal(made + settled.dropped - before.dropped, n);
      assert.ok(made <= settled.limit, `${made} copies made`);
    } finally {
      wide.destroy();
    }
  });

  it('a mirror target that is down costs the caller no failed request', async () => {
    await stopProxy(mesh.pod('reviews-v3-0'));
    const api = new RuntimeApi(mesh.pod('caller-0').paths.runtimeSocket);
    const before = await api.mirrorStats();
    const statuses: number[] = [];
    await Promise.all(Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; i < 10; i++) {
        const a = await call(`/dead/${w}-${i}`, { 'x-test': 'dead' });
        statuses.push(a.status);
        assert.equal((JSON.parse(a.body) as EchoAnswer).version, 'v1');
      }
    }));
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.equal(statuses.length, 40);
    // The copies failed, and say so in the mirror destination's figures.
    const failed = await waitFor('40 failed copies logged', async () => {
      const entries = (await mirrorLog()).filter((e) => e.path.startsWith('/dead/'));
      return entries.length >= 40 ? entries : undefined;
    }, { timeoutMs: 10_000 });
    assert.ok(failed.every((e) => e.destinationSubset === 'v3' && e.status === 503), JSON.stringify(failed[0]));
    const stats = await waitFor('no copy in flight', async () => {
      const s = await api.mirrorStats();
      return s.active === 0 ? s : undefined;
    }, { timeoutMs: 5000 });
    assert.equal(stats.dropped, before.dropped);
  });
});
