// Traces through the live bookinfo mesh: a request through the ingress, productpage, reviews v2 and
// ratings is one trace of six spans (a client span where each hop is sent, a server span where it is
// received) whose parent links follow the path; a caller's W3C or B3 context is continued, not replaced.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { bookinfoCopy, eventually, freePort, makeHome, type E2eHome } from './support.js';
import { request } from '../support/net.js';
import { jsonOutput } from '../support/output-schemas.js';
import type { TraceResult } from '../../src/lib/mesh/trace.js';

describe('traces through the local mesh', { timeout: 240_000 }, () => {
  let h: E2eHome;
  let ingress: number;
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });

  before(async () => {
    h = await makeHome('mesh-traces');
    ingress = await freePort();
    const bookinfo = await bookinfoCopy(h.dir, ingress);
    const install = await h.run(['install']);
    assert.equal(install.code, 0, install.stderr);
    const applied = await h.run(['apply', '-f', bookinfo, '--timeout', '90s']);
    assert.equal(applied.code, 0, applied.stderr);
  });
  after(async () => {
    keepAlive.destroy();
    await h?.cleanup();
  });

  async function traceOf(id: string, spans: number): Promise<TraceResult> {
    let trace: TraceResult | null = null;
    // Each proxy logs its span as its part of the request ends: the trace is whole once all have.
    await eventually(`${spans} spans of ${id}`, async () => {
      const r = await h.run(['trace', id, '-o', 'json']);
      if (r.code !== 0) return false;
      trace = jsonOutput<TraceResult>('trace', r.stdout);
      return trace.spans.length >= spans;
    }, 20_000, 200);
    return trace!;
  }

  it('one trace, six spans, each the child of the span before it along productpage → reviews → ratings', async () => {
    const requestId = 'trace-test-jason-1';
    const answer = await request({ port: ingress, path: '/productpage', headers: { 'end-user': 'jason', 'x-request-id': requestId }, agent: keepAlive, timeoutMs: 10_000 });
    assert.equal(answer.status, 200, answer.body);
    const trace = await traceOf(requestId, 6);
    assert.equal(trace.spans.length, 6, JSON.stringify(trace.spans, null, 1));
    const path = trace.spans.map((s) => `${s.localEndpoint.serviceName} ${s.kind}`);
    assert.deepEqual(path, [
      'bookinfo-gateway.default CLIENT',
      'productpage-v1.default SERVER',
      'productpage-v1.default CLIENT',
      'reviews-v2.default SERVER',
      'reviews-v2.default CLIENT',
      'ratings-v1.default SERVER',
    ]);
    assert.equal(trace.spans[0]!.parentId, undefined, 'the gateway started the trace');
    for (let i = 1; i < trace.spans.length; i++) assert.equal(trace.spans[i]!.parentId, trace.spans[i - 1]!.id, `${path[i]}'s parent is ${path[i - 1]}`);
    assert.ok(trace.spans.every((s) => s.traceId === trace.traceId && s.tags['istio.mesh_id'] === 'cluster.local' && s.tags['http.status_code'] === '200' && s.tags.response_flags));
    assert.match(trace.spans[2]!.tags.upstream_cluster!, /^outbound\|reviews\.default\.svc\.cluster\.local\|v2$/);

    const text = await h.run(['trace', trace.traceId]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^trace ${trace.traceId}: 6 spans, [\\d.]+ ms\\n→ bookinfo-gateway\\.default client`));
    assert.match(text.stdout, /\n {10}⇢ ratings-v1\.default server \S+ +200 /, 'the fifth hop, indented five levels');
  });

  it('a caller\'s traceparent, or its B3 headers, is continued: same trace id, the caller\'s span as the root\'s parent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const w3c = await request({ port: ingress, path: '/productpage', headers: { 'x-request-id': 'trace-test-w3c', traceparent: `00-${traceId}-${parent}-01`, tracestate: 'vendor=1' }, agent: keepAlive, timeoutMs: 10_000 });
    assert.equal(w3c.status, 200);
    const continued = await traceOf(traceId, 4);
    assert.equal(continued.traceId, traceId);
    assert.equal(continued.spans[0]!.parentId, parent);

    const b3Trace = '80f198ee56343ba864fe8b2a57d3eff7';
    const b3 = await request({ port: ingress, path: '/productpage', headers: { 'x-request-id': 'trace-test-b3', 'x-b3-traceid': b3Trace, 'x-b3-spanid': 'e457b5a2e4d86bd1', 'x-b3-sampled': '1' }, agent: keepAlive, timeoutMs: 10_000 });
    assert.equal(b3.status, 200);
    const fromB3 = await traceOf('trace-test-b3', 4);
    assert.equal(fromB3.traceId, b3Trace);
    assert.equal(fromB3.spans[0]!.parentId, 'e457b5a2e4d86bd1');

    const slowest = await h.run(['trace', '--slowest', 'reviews', '-o', 'json']);
    assert.equal(slowest.code, 0, slowest.stderr);
    const listed = jsonOutput<{ traces: { traceId: string }[] }>('trace', slowest.stdout).traces.map((t) => t.traceId);
    assert.ok(listed.includes(traceId) && listed.includes(b3Trace), listed.join(', '));
    const missing = await h.run(['trace', 'no-such-request']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No span of the mesh's access logs has the trace id or request id no-such-request/);
  });
});
