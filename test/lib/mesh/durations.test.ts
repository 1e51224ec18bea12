// Live: route timeouts and fault delays written in every form Istio accepts (`500ms`, `0.5s`, `1m30s`,
// `300000us`) take effect in the sidecars exactly as validate reads them; none is silently dropped.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestMesh, type TestMesh } from '../../support/mesh.js';
import { bookinfoPolicy } from '../../support/bookinfo-policy.js';
import { request, type HttpAnswer } from '../../support/net.js';
import { validateText } from '../../support/policy.js';

const DURATION_ROUTES = `  - name: timeout-ms
    match: [{ headers: { x-case: { exact: timeout-ms } } }]
    timeout: 500ms
    route: [{ destination: { host: reviews, subset: v1 } }]
  - name: timeout-seconds
    match: [{ headers: { x-case: { exact: timeout-seconds } } }]
    timeout: 0.5s
    route: [{ destination: { host: reviews, subset: v1 } }]
  - name: timeout-compound
    match: [{ headers: { x-case: { exact: timeout-compound } } }]
    timeout: 1m30s
    route: [{ destination: { host: reviews, subset: v1 } }]
  - name: delay-microseconds
    match: [{ headers: { x-case: { exact: delay-microseconds } } }]
    fault: { delay: { fixedDelay: 300000us, percentage: { value: 100 } } }
    route: [{ destination: { host: reviews, subset: v1 } }]
  - name: delay-sub-millisecond
    match: [{ headers: { x-case: { exact: delay-sub-millisecond } } }]
    fault: { delay: { fixedDelay: 250us, percentage: { value: 100 } } }
    route: [{ destination: { host: reviews, subset: v1 } }]
`;

describe('route durations on a live mesh (HAProxy sidecars on loopback)', { timeout: 120_000 }, () => {
  let mesh: TestMesh;
  const policy = bookinfoPolicy({ extraRoutes: DURATION_ROUTES });

  before(async () => {
    mesh = await startTestMesh(policy);
  });
  after(async () => {
    await mesh?.stop();
  });

  /** A request from productpage's app through its sidecar, timed from send to answer. */
  async function timed(headers: Record<string, string>): Promise<{ answer: HttpAnswer; ms: number }> {
    const t0 = Date.now();
    const answer = await request({ port: mesh.pod('productpage-0').ports.outbound, path: '/', headers: { host: 'reviews', ...headers }, timeoutMs: 10_000 });
    return { answer, ms: Date.now() - t0 };
  }

  it('reads every duration as validate does: only the delay below Istio\'s 1ms minimum is refused', async () => {
    const result = await validateText(policy);
    const errors = result.findings.filter((f) => f.severity === 'error');
    assert.deepEqual(errors.map((f) => `${f.code} ${f.message}`), [
      'MSH2006 VirtualService reviews sets spec.http[4].fault.delay.fixedDelay to "250us", below Istio\'s minimum of 1ms; use at least 1ms.',
    ]);
  });

  for (const form of ['timeout-ms', 'timeout-seconds']) {
    it(`ends a 2 s request at about 0.5 s with 504 when the timeout is written as ${form === 'timeout-ms' ? '500ms' : '0.5s'}`, async () => {
      const { answer, ms } = await timed({ 'x-case': form, 'x-echo-delay-ms': '2000' });
      assert.equal(answer.status, 504, answer.body);
      assert.ok(ms >= 450, `answered after ${ms} ms`);
      assert.ok(ms < 1900, `answered after ${ms} ms, not cut at the 0.5 s timeout`);
    });
  }

  it('compiles a compound timeout (1m30s) and lets a slower-than-default request through', async () => {
    // The route's deadline and attempt timeout are runtime values (the route maps the runtime API updates).
    const state = mesh.compiledOf('productpage-0').runtimeState!;
    const of = (values: Record<string, number>) => Object.entries(values).filter(([route]) => route.includes('timeout-compound')).map(([, ms]) => ms);
    assert.deepEqual(of(state.deadlineMs), [90000]);
    assert.deepEqual(of(state.attemptMs), [90000]);
    const { answer } = await timed({ 'x-case': 'timeout-compound', 'x-echo-delay-ms': '600' });
    assert.equal(answer.status, 200, answer.body);
  });

  it('delays by 300 ms for fixedDelay: 300000us', async () => {
    const { answer, ms } = await timed({ 'x-case': 'delay-microseconds' });
    assert.equal(answer.status, 200, answer.body);
    assert.ok(ms >= 300, `delayed by ${ms} ms`);
    assert.ok(ms < 2000, `delayed by ${ms} ms`);
  });

  it('rounds a sub-millisecond delay up to 1 ms for HAProxy rather than dropping it', async () => {
    const faults = mesh.compiledOf('productpage-0').runtimeState!.faultValues;
    const delays = Object.entries(faults).filter(([key]) => key.includes('delay-sub-millisecond') && key.endsWith('/delay-ms'));
    assert.deepEqual(delays.map(([, ms]) => ms), [1], JSON.stringify(faults));
    const { answer } = await timed({ 'x-case': 'delay-sub-millisecond' });
    assert.equal(answer.status, 200, answer.body);
  });
});
