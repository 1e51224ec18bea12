// Live: a DestinationRule's trafficPolicy on a small mesh on loopback (echo apps, real HAProxy
// sidecars): consistent hashing keeps one key on one pod, a connection pool fails its overflow fast
// with 503, and a pod that answers 500 to everything is ejected and comes back after the ejection time.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { promises as fs } from 'node:fs';
import { startTestMesh, type EchoAnswer, type TestMesh } from '../../support/mesh.js';
import { request, type HttpAnswer } from '../../support/net.js';
import { serviceYaml, workloadYaml } from '../../support/policy-yaml.js';

const POLICY = `${workloadYaml({ name: 'caller', labels: 'app: caller', serviceAccount: 'caller' })}
${workloadYaml({ name: 'hashed', labels: 'app: hashed', serviceAccount: 'hashed', replicas: 3 })}
${workloadYaml({ name: 'pooled', labels: 'app: pooled', serviceAccount: 'pooled' })}
${workloadYaml({ name: 'flaky-good', labels: 'app: flaky', serviceAccount: 'flaky', replicas: 2 })}
${workloadYaml({ name: 'flaky-bad', labels: 'app: flaky, echo-status: "500"', serviceAccount: 'flaky' })}
${serviceYaml('caller')}
${serviceYaml('hashed')}
${serviceYaml('sticky', 'hashed')}
${serviceYaml('rr', 'hashed')}
${serviceYaml('least', 'hashed')}
${serviceYaml('rnd', 'hashed')}
${serviceYaml('pooled')}
${serviceYaml('flaky')}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: hashed, namespace: default }
spec:
  host: hashed
  trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: sticky, namespace: default }
spec:
  host: sticky
  trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: session, ttl: 60s } } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: simple, namespace: default }
spec: { host: rr, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: least, namespace: default }
spec: { host: least, trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: rnd, namespace: default }
spec: { host: rnd, trafficPolicy: { loadBalancer: { simple: RANDOM } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: pooled, namespace: default }
spec:
  host: pooled
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 1 }
      http: { http1MaxPendingRequests: 1 }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: flaky, namespace: default }
spec:
  host: flaky
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 5s, maxEjectionPercent: 100 }
---
`;

describe('DestinationRule trafficPolicy on the local mesh (live HAProxy on loopback)', { timeout: 180_000 }, () => {
  let mesh: TestMesh;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

  before(async () => {
    mesh = await startTestMesh(POLICY);
  });
  after(async () => {
    agent.destroy();
    await mesh?.stop();
  });

  const fromCaller = (host: string, headers: Record<string, string> = {}): Promise<HttpAnswer> =>
    request({ port: mesh.pod('caller-0').ports.outbound, path: '/', headers: { host, ...headers }, agent });
  const podOf = (a: HttpAnswer) => (JSON.parse(a.body) as EchoAnswer).pod;

  it('loadBalancer.simple ROUND_ROBIN takes turns; RANDOM reaches every pod', async () => {
    const turns = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const pod = podOf(await fromCaller('rr'));
      turns.set(pod, (turns.get(pod) ?? 0) + 1);
    }
    // Each pod takes its turn; a request retried by Istio's default policy (a pooled connection the
    // inbound side had closed) moves to the next pod, so one turn may shift by one.
    assert.equal(turns.size, 3, JSON.stringify([...turns]));
    assert.ok([...turns.values()].every((n) => n >= 9 && n <= 11), JSON.stringify([...turns]));
    const random = new Set<string>();
    for (let i = 0; i < 60; i++) random.add(podOf(await fromCaller('rnd')));
    assert.equal(random.size, 3, [...random].join(', '));
  });

  it('loadBalancer.simple LEAST_REQUEST sends new requests to the pod that is not busy', async () => {
    const apps = ['hashed-0', 'hashed-1', 'hashed-2'].map((p) => ({ pod: p, app: mesh.app(p) }));
    const held = [0, 1].map(() => request({ port: mesh.pod('caller-0').ports.outbound, path: '/', headers: { host: 'least', 'x-echo-delay-ms': '4000' } }));
    const deadline = Date.now() + 10_000;
    while (apps.reduce((n, a) => n + a.app.inFlight, 0) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const idle = apps.filter((a) => a.app.inFlight === 0).map((a) => a.pod);
    assert.equal(idle.length, 1, 'the two held requests went to the same pod');
    const reached = new Set<string>();
    for (let i = 0; i < 10; i++) reached.add(podOf(await fromCaller('least')));
    assert.deepEqual([...reached], idle);
    for (const a of await Promise.all(held)) assert.equal(a.status, 200);
  });

  it('consistentHash on a header: 100 requests with one value reach one pod; different values spread', async () => {
    const pods = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const a = await fromCaller('hashed', { 'x-user': 'alice' });
      assert.equal(a.status, 200, a.body);
      pods.add(podOf(a));
    }
    assert.equal(pods.size, 1, [...pods].join(', '));
    const spread = new Set<string>();
    for (let u = 0; u < 60; u++) spread.add(podOf(await fromCaller('hashed', { 'x-user': `user-${u}` })));
    assert.ok(spread.size >= 2, `60 users all reached ${[...spread].join(', ')}`);
  });

  it('consistentHash on a cookie with a ttl: the sidecar sets the cookie, and the caller stays on one pod with it', async () => {
    const first = await fromCaller('sticky');
    assert.equal(first.status, 200, first.body);
    const setCookie = String(first.headers['set-cookie'] ?? '');
    const m = /^session=([^;]+); Path=\/; Max-Age=60; HttpOnly$/.exec(setCookie);
    assert.ok(m, `set-cookie: ${setCookie}`);
    const pods = new Set<string>([podOf(first)]);
    for (let i = 0; i < 30; i++) {
      const a = await fromCaller('sticky', { cookie: `session=${m[1]}` });
      assert.equal(a.headers['set-cookie'], undefined, 'a caller with the cookie gets no new one');
      pods.add(podOf(a));
    }
    assert.equal(pods.size, 1, [...pods].join(', '));
    const spread = new Set<string>();
    for (let u = 0; u < 60; u++) spread.add(podOf(await fromCaller('sticky', { cookie: `session=s-${u}` })));
    assert.ok(spread.size >= 2, `60 sessions all reached ${[...spread].join(', ')}`);
  });

  it('connectionPool maxConnections 1 + http1MaxPendingRequests 1: 20 concurrent requests, the overflow gets 503 without waiting; the pod never holds more than one', async () => {
    const app = mesh.app('pooled-0');
    const finished: { status: number; at: number; overloaded: unknown }[] = [];
    await Promise.all(Array.from({ length: 20 }, async () => {
      const a = await request({ port: mesh.pod('caller-0').ports.outbound, path: '/', headers: { host: 'pooled', 'x-echo-delay-ms': '1500' } });
      finished.push({ status: a.status, at: Date.now(), overloaded: a.headers['x-envoy-overloaded'] });
    }));
    const ok = finished.filter((f) => f.status === 200);
    const overflow = finished.filter((f) => f.status === 503);
    assert.equal(ok.length + overflow.length, 20, JSON.stringify(finished));
    assert.ok(ok.length >= 1 && ok.length <= 2, `${ok.length} answered`);
    assert.ok(overflow.length >= 18, `${overflow.length} overflowed`);
    assert.ok(overflow.every((f) => f.overloaded === 'true'), 'an overflow answer lacks x-envoy-overloaded: true');
    // The overflow was answered while the held request was still being served: it never queued.
    const firstAnswered = Math.min(...ok.map((f) => f.at));
    assert.ok(overflow.every((f) => f.at < firstAnswered), 'a 503 came after a held request finished');
    assert.equal(app.maxInFlight, 1);
  });

  it('outlierDetection: a pod answering 500 is ejected after 3 consecutive errors, gets no traffic, and returns after baseEjectionTime', async () => {
    const bad = mesh.app('flaky-bad-0');
    // Send until the last 20 answers are all 200 (the bad pod is out), bounded in count and time.
    let okInARow = 0;
    let lastError = 0;
    const deadline = Date.now() + 20_000;
    for (let i = 0; i < 300 && okInARow < 20 && Date.now() < deadline; i++) {
      const a = await fromCaller('flaky');
      if (a.status === 200) okInARow++;
      else {
        assert.equal(a.status, 500, a.body);
        okInARow = 0;
        lastError = Date.now();
      }
    }
    assert.equal(okInARow, 20, 'the failing pod was never ejected');
    assert.ok(lastError > 0, `the failing pod never answered; the caller's proxy said:\n${await fs.readFile(mesh.pod('caller-0').paths.proxyLog, 'utf8')}`);
    const badBefore = bad.received.length;
    for (let i = 0; i < 20; i++) assert.equal((await fromCaller('flaky')).status, 200);
    assert.equal(bad.received.length, badBefore, 'an ejected pod received traffic');
    // It comes back: wait (bounded) for it to be sent a request again.
    let returnedAt = 0;
    // Its health checks must pass baseEjectionTime / interval + 1 times in a row; a check that a busy
    // machine delays starts that count again, hence a bound well above the 6 s it takes when quiet.
    const returnDeadline = Date.now() + 60_000;
    while (!returnedAt && Date.now() < returnDeadline) {
      await fromCaller('flaky');
      if (bad.received.length > badBefore) returnedAt = Date.now();
      else await new Promise((r) => setTimeout(r, 100));
    }
    if (!returnedAt) {
      const log = await fs.readFile(mesh.pod('caller-0').paths.proxyLog, 'utf8').catch(() => '');
      assert.fail(`the ejected pod never came back within 60 s; the caller's proxy said:\n${log.split('\n').slice(-30).join('\n')}`);
    }
    assert.ok(returnedAt - lastError >= 4_000, `it came back ${returnedAt - lastError} ms after its ejection`);
  });
});
