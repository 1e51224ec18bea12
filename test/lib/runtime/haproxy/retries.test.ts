// Live: Istio's retry and timeout semantics on a small mesh on loopback (echo apps that misbehave on
// request, real HAProxy sidecars over mTLS), and Envoy's response flags in the caller's access log.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { meshForSuite } from '../../../support/mesh.js';
import { request, type HttpAnswer } from '../../../support/net.js';
import { serviceEntryYaml, serviceYaml, workloadYaml } from '../../../support/policy-yaml.js';
import { reseedFlakyApps } from '../../../support/misbehaving-app.js';
import { readAccessLog, type AccessLogEntry } from '../../../../src/lib/runtime/haproxy/access-log.js';

const vs = (name: string, http: string) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${name}]
  http:
  - ${http}
---`;

const POLICY = `${workloadYaml({ name: 'caller', labels: 'app: caller', serviceAccount: 'caller' })}
${workloadYaml({ name: 'target', labels: 'app: target', serviceAccount: 'target' })}
${workloadYaml({ name: 'pooled', labels: 'app: pooled', serviceAccount: 'pooled' })}
${serviceYaml('caller')}
${serviceYaml('plain', 'target')}
${serviceYaml('retry3', 'target')}
${serviceYaml('pertry', 'target')}
${serviceYaml('deadline', 'target')}
${serviceYaml('noretry', 'target')}
${serviceYaml('bounded', 'target')}
${serviceYaml('faulty', 'target')}
${serviceYaml('nosubset', 'target')}
${serviceYaml('pooled')}
${vs('retry3', 'route: [{ destination: { host: retry3 } }]\n    retries: { attempts: 3, retryOn: 5xx }')}
${vs('pertry', 'route: [{ destination: { host: pertry } }]\n    retries: { attempts: 2, perTryTimeout: 200ms, retryOn: gateway-error }')}
${vs('deadline', 'route: [{ destination: { host: deadline } }]\n    timeout: 300ms')}
${vs('bounded', 'route: [{ destination: { host: bounded } }]\n    timeout: 300ms\n    retries: { attempts: 3, perTryTimeout: 200ms, retryOn: reset }')}
${vs('noretry', 'route: [{ destination: { host: noretry } }]\n    retries: { attempts: 0 }')}
${vs('faulty', 'route: [{ destination: { host: faulty } }]\n    fault: { delay: { fixedDelay: 20ms, percentage: { value: 100 } }, abort: { httpStatus: 418, percentage: { value: 100 } } }')}
${vs('nosubset', 'route: [{ destination: { host: nosubset, subset: missing } }]')}
${serviceEntryYaml('closed', 'closed.example', 1)}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: pooled, namespace: default }
spec:
  host: pooled
  trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } } }
---
`;

describe('retries, timeouts and response flags on the local mesh (live HAProxy on loopback)', { timeout: 240_000 }, () => {
  const suite = meshForSuite(POLICY);
  const agent = suite.agent;
  let ids = 0;

  const target = () => suite.mesh.app('target-0');
  const attemptsOf = (id: string) => target().received.filter((r) => r.headers['x-request-id'] === id).length;
  const call = async (host: string, fail = '', o: { method?: string; timeoutMs?: number; fresh?: boolean } = {}): Promise<HttpAnswer & { id: string; ms: number }> => {
    const id = `retry-test-${process.pid}-${++ids}`;
    const headers: Record<string, string> = { host, 'x-request-id': id };
    if (fail) headers['x-echo-fail'] = fail;
    const started = Date.now();
    const answer = await request({ port: suite.mesh.pod('caller-0').ports.outbound, path: '/', headers, agent: o.fresh ? false : agent, method: o.method, timeoutMs: o.timeoutMs ?? 10_000 })
      .catch((err: Error) => ({ status: 0, headers: {}, body: String(err.message) }));
    return { ...answer, id, ms: Date.now() - started };
  };
  /** The caller's outbound log line of a request, waited for (lines are written as requests end). */
  const logLine = async (id: string): Promise<AccessLogEntry> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { entries } = await readAccessLog(suite.mesh.pod('caller-0').paths.accessLog);
      const line = entries.find((e) => e.requestId === id && e.direction === 'outbound');
      if (line) return line;
      if (Date.now() > deadline) assert.fail(`no outbound log line for ${id}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('attempts 3 on 5xx: a backend failing the first attempt with 503 answers every request, and the log counts the retry', async () => {
    for (let i = 0; i < 20; i++) {
      const a = await call('retry3', 'first-503');
      assert.equal(a.status, 200, a.body);
      assert.equal(attemptsOf(a.id), 2);
    }
    const last = await call('retry3', 'first-503');
    const line = await logLine(last.id);
    assert.equal(line.retries, 1);
    assert.deepEqual(line.responseFlags, []);
  });

  it('attempts 3 against attempts that each fail with p = 0.5: 93.75% ± 3% succeed; the failures are flagged URX after 3 retries', async () => {
    reseedFlakyApps();
    let ok = 0;
    let failedId = '';
    const N = 400;
    for (let i = 0; i < N; i++) {
      const a = await call('retry3', 'flaky');
      if (a.status === 200) ok++;
      else {
        assert.equal(a.status, 503, a.body);
        assert.equal(attemptsOf(a.id), 4, 'a failed request was not tried 4 times');
        failedId = a.id;
      }
    }
    const rate = ok / N;
    assert.ok(Math.abs(rate - 0.9375) <= 0.03, `success rate ${rate}`);
    assert.ok(failedId, 'no request failed at all');
    const line = await logLine(failedId);
    assert.equal(line.retries, 3);
    assert.deepEqual(line.responseFlags, ['URX']);
  });

  it('perTryTimeout 200ms: a first attempt that hangs is given up at 200 ms and the second attempt answers', async () => {
    const a = await call('pertry', 'hang-first');
    assert.equal(a.status, 200, a.body);
    assert.ok(a.ms < 1500, `answered after ${a.ms} ms`);
    assert.equal(attemptsOf(a.id), 2);
    const line = await logLine(a.id);
    assert.equal(line.retries, 1);
  });

  it("Istio's default policy (no VirtualService): a 503 is retried twice (3 attempts), then flagged URX", async () => {
    const a = await call('plain', 'always-503');
    assert.equal(a.status, 503);
    assert.equal(attemptsOf(a.id), 3);
    const line = await logLine(a.id);
    assert.equal(line.retries, 2);
    assert.deepEqual(line.responseFlags, ['URX']);
  });

  it('attempts 0 disables retries: a 503 reaches the app once', async () => {
    const a = await call('noretry', 'always-503');
    assert.equal(a.status, 503);
    assert.equal(attemptsOf(a.id), 1);
  });

  it('a POST to an app that resets the connection reaches it once; the caller gets 503, flagged UC', async () => {
    // A connection of its own: Node never resends a POST on a kept-alive socket that turns out closed.
    const a = await call('plain', 'reset', { method: 'POST', fresh: true });
    assert.equal(a.status, 503, a.body);
    assert.match(a.body, /upstream connect error or disconnect\/reset before headers/);
    assert.equal(attemptsOf(a.id), 1);
    const line = await logLine(a.id);
    assert.deepEqual(line.responseFlags, ['UC']);
  });

  it('timeout 300ms against a 2 s backend: 504 well before 2 s, flagged UT', async () => {
    const id = `retry-test-${process.pid}-${++ids}`;
    const started = Date.now();
    const a = await request({ port: suite.mesh.pod('caller-0').ports.outbound, path: '/', headers: { host: 'deadline', 'x-request-id': id, 'x-echo-delay-ms': '2000' }, agent, timeoutMs: 10_000 });
    const ms = Date.now() - started;
    assert.equal(a.status, 504, a.body);
    assert.ok(ms < 1500, `answered after ${ms} ms`);
    assert.deepEqual((await logLine(id)).responseFlags, ['UT']);
  });

  it('timeout 300ms against a backend that trickles its body for 1.5 s: the response is cut near 300 ms, flagged UT', async () => {
    const a = await call('deadline', 'trickle');
    assert.ok(a.ms < 1200, `the response ran for ${a.ms} ms`);
    // Cut: either the body stops short of the 16 bytes, or the client sees the connection end mid-body.
    assert.ok(a.status === 0 || a.body.length < 16, `status ${a.status}, body ${JSON.stringify(a.body)}`);
    assert.deepEqual((await logLine(a.id)).responseFlags, ['UT']);
  });

  it('timeout 300ms with perTryTimeout 200ms and 3 attempts against a backend that never answers: 504, and no retry starts after the deadline', async () => {
    const a = await call('bounded', 'hang');
    assert.equal(a.status, 504, a.body);
    assert.ok(a.ms < 1500, `answered after ${a.ms} ms`);
    // Attempts start at 0, 200 and 400 ms; the one at 400 ms is answered 504 at once, a fourth never starts.
    assert.ok(attemptsOf(a.id) <= 3, `the app saw ${attemptsOf(a.id)} attempts`);
    const line = await logLine(a.id);
    assert.ok(line.responseFlags.includes('UT'), line.responseFlags.join(','));
  });

  it('flags the answers the proxy gives itself: NR, UH, UF with URX, UO, and DI,FI', async () => {
    const nr = await call('nowhere');
    assert.equal(nr.status, 404);
    assert.deepEqual((await logLine(nr.id)).responseFlags, ['NR']);

    const uh = await call('nosubset');
    assert.equal(uh.status, 503);
    assert.deepEqual((await logLine(uh.id)).responseFlags, ['UH']);

    const uf = await call('closed.example');
    assert.equal(uf.status, 503, uf.body);
    assert.deepEqual((await logLine(uf.id)).responseFlags, ['UF', 'URX']);

    const fault = await call('faulty');
    assert.equal(fault.status, 418);
    assert.deepEqual((await logLine(fault.id)).responseFlags, ['DI', 'FI']);

    const held = Array.from({ length: 6 }, () => {
      const id = `retry-test-${process.pid}-${++ids}`;
      return request({ port: suite.mesh.pod('caller-0').ports.outbound, path: '/', headers: { host: 'pooled', 'x-request-id': id, 'x-echo-delay-ms': '800' }, timeoutMs: 10_000 }).then((a) => ({ ...a, id }));
    });
    const answers = await Promise.all(held);
    const overflow = answers.filter((a) => a.status === 503);
    assert.ok(overflow.length >= 1, `statuses ${answers.map((a) => a.status).join(', ')}`);
    assert.deepEqual((await logLine(overflow[0]!.id)).responseFlags, ['UO']);
  });
});
