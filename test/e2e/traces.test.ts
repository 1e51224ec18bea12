// Traces through the live bookinfo mesh: a request through the ingress, productpage, reviews v2 and
// ratings is one trace of six spans (a client span where each hop is sent, a server span where it is
// received) whose parent links follow the path; a caller's W3C or B3 context is continued, not replaced.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { agentPid, alive, bookinfoCopy, eventually, freePort, makeHome, type E2eHome } from './support.js';
import { request } from '../support/net.js';
import { jsonOutput } from '../support/output-schemas.js';
import type { TraceResult } from '../../src/lib/mesh/trace.js';
import type { TracingStatus } from '../../src/lib/mesh/addons/tracing-status.js';

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

  it('addons enable tracing exports every span to a Zipkin v2 or an OTLP/HTTP JSON receiver; a receiver that never answers costs the callers nothing', async () => {
    const zipkin = await receiver();
    const otlp = await receiver();
    const silent = await receiver({ hang: true });
    try {
      const enabled = await h.run(['addons', 'enable', 'tracing', '--tracing-url', `${zipkin.url}/api/v2/spans`, '-o', 'json']);
      assert.equal(enabled.code, 0, enabled.stderr);
      assert.equal(jsonOutput<{ status: string }>('addons', enabled.stdout).status, 'enabled');
      const sent = await request({ port: ingress, path: '/productpage', headers: { 'end-user': 'jason', 'x-request-id': 'export-zipkin' }, agent: keepAlive, timeoutMs: 10_000 });
      assert.equal(sent.status, 200);
      const ofRequest = () => zipkin.bodies.flatMap((b) => b as Record<string, unknown>[]).filter((s) => (s.tags as Record<string, string>)['guid:x-request-id'] === 'export-zipkin');
      await eventually('the six spans at the Zipkin receiver', () => ofRequest().length === 6, 30_000, 200);
      for (const span of ofRequest()) assertZipkinV2Span(span);
      assert.deepEqual(zipkin.paths, zipkin.paths.map(() => '/api/v2/spans'));

      const switched = await h.run(['addons', 'enable', 'tracing', '--tracing-url', `${otlp.url}/v1/traces`]);
      assert.equal(switched.code, 0, switched.stderr);
      await request({ port: ingress, path: '/productpage', headers: { 'end-user': 'jason', 'x-request-id': 'export-otlp' }, agent: keepAlive, timeoutMs: 10_000 });
      const otlpSpans = () => otlp.bodies.flatMap((b) => (b as OtlpBody).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((ss) => ss.spans.map((sp) => ({ service: r.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue, ...sp })))))
        .filter((sp) => sp.attributes.some((a) => a.key === 'guid:x-request-id' && a.value.stringValue === 'export-otlp'));
      await eventually('the six spans at the OTLP receiver', () => otlpSpans().length === 6, 30_000, 200);
      for (const sp of otlpSpans()) {
        assert.match(sp.traceId, /^[0-9a-f]{32}$/);
        assert.match(sp.spanId, /^[0-9a-f]{16}$/);
        assert.ok(sp.kind === 2 || sp.kind === 3, `kind ${sp.kind}`);
        assert.match(sp.startTimeUnixNano, /^\d+$/);
        assert.ok(BigInt(sp.endTimeUnixNano) >= BigInt(sp.startTimeUnixNano));
        assert.ok(sp.service && /\.default$/.test(sp.service), String(sp.service));
      }

      // A receiver that never answers, one that answers late, and one that is not there at all: the
      // callers' requests are answered as ever, and what could not be sent is dropped and counted.
      const slow = await receiver({ delayMs: 3000 });
      const down = await receiver();
      const downUrl = `${down.url}/api/v2/spans`;
      await down.close();
      try {
        for (const [name, url] of [['silent', `${silent.url}/api/v2/spans`], ['slow', `${slow.url}/api/v2/spans`], ['down', downUrl]] as const) {
          const droppedBefore = (await tracingStatus()).dropped ?? 0;
          const switchedTo = await h.run(['addons', 'enable', 'tracing', '--url', url]);
          assert.equal(switchedTo.code, 0, switchedTo.stderr);
          const answers = [];
          // As jason, every request goes through reviews v2 to ratings: six spans each.
          for (let i = 0; i < 20; i++) answers.push(await request({ port: ingress, path: '/productpage', headers: { 'end-user': 'jason', 'x-request-id': `export-${name}-${i}` }, agent: keepAlive, timeoutMs: 10_000 }));
          assert.deepEqual(answers.map((a) => a.status), answers.map(() => 200), `${name} receiver: every caller answered`);
          if (name === 'slow') {
            await eventually('the slow receiver given the spans at last', () => slow.bodies.flatMap((b) => b as Record<string, unknown>[]).filter((sp) => String((sp.tags as Record<string, string>)['guid:x-request-id']).startsWith('export-slow-')).length === 120, 60_000, 500);
            continue;
          }
          await eventually(`the spans the ${name} receiver never took, counted as dropped`, async () => ((await tracingStatus()).dropped ?? 0) > droppedBefore, 30_000, 500);
          const { port } = JSON.parse(await fs.readFile(path.join(h.home, 'telemetry', 'endpoint.json'), 'utf8')) as { port: number };
          const text = await (await fetch(`http://127.0.0.1:${port}/stats/prometheus`)).text();
          assert.ok(Number(/^meshctl_trace_spans_dropped_total (\d+)$/m.exec(text)?.[1] ?? 0) > droppedBefore, 'the dropped count on the agent\'s metrics endpoint');
        }
        const shown = await h.run(['status']);
        assert.match(shown.stdout, new RegExp(`\nTracing +exported to ${downUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} as Zipkin v2 \\(\\d+ exported, [1-9]\\d* dropped, \\d+ queued\\); spans kept `));
      } finally {
        await slow.close();
      }

      // The URL is kept in the mesh home: an agent started again exports to it.
      const back = await receiver();
      try {
        assert.equal((await h.run(['addons', 'enable', 'tracing', '--url', `${back.url}/api/v2/spans`])).code, 0);
        const pid = agentPid(h.home)!;
        process.kill(pid, 'SIGTERM');
        await eventually('the agent gone', () => !alive(pid), 20_000, 100);
        assert.equal((await h.run(['status', '-o', 'json'])).code, 0, 'status starts the agent again');
        const status = await tracingStatus();
        assert.equal(status.url, `${back.url}/api/v2/spans`);
        assert.equal(status.format, 'zipkin');
        const sent = await request({ port: ingress, path: '/productpage', headers: { 'end-user': 'jason', 'x-request-id': 'export-after-restart' }, agent: keepAlive, timeoutMs: 10_000 });
        assert.equal(sent.status, 200);
        await eventually('the spans exported by the new agent', () => back.bodies.flatMap((b) => b as Record<string, unknown>[]).filter((sp) => (sp.tags as Record<string, string>)['guid:x-request-id'] === 'export-after-restart').length === 6, 30_000, 200);
      } finally {
        await back.close();
      }
      const off = await h.run(['addons', 'disable', 'tracing']);
      assert.equal(off.code, 0, off.stderr);
      assert.equal((await tracingStatus()).url, null);
    } finally {
      await Promise.all([zipkin.close(), otlp.close(), silent.close()]);
    }
  });

  it('the span store keeps to its size: the oldest traces go, the newest stay, and meshctl trace finds them across its segments', async () => {
    const bounded = await h.run(['addons', 'enable', 'tracing', '--keep-spans', '32KiB', '-o', 'json']);
    assert.equal(bounded.code, 0, bounded.stderr);
    const first = 'store-first';
    assert.equal((await request({ port: ingress, path: '/productpage', headers: { 'end-user': 'jason', 'x-request-id': first }, agent: keepAlive, timeoutMs: 10_000 })).status, 200);
    await traceOf(first, 6);
    // Each request leaves six spans of about 1 KiB: 40 of them are several times the bound.
    for (let i = 0; i < 40; i++) assert.equal((await request({ port: ingress, path: '/productpage', headers: { 'end-user': 'jason', 'x-request-id': `store-${i}` }, agent: keepAlive, timeoutMs: 10_000 })).status, 200);
    await eventually('the first trace dropped from the store', async () => (await h.run(['trace', first])).code === 1, 30_000, 500);
    const newest = await traceOf('store-39', 6);
    assert.equal(newest.spans.length, 6);
    const status = await tracingStatus();
    assert.equal(status.store.maxBytes, 32 * 1024);
    assert.ok(status.store.bytes <= 32 * 1024, `${status.store.bytes} bytes kept`);
    assert.ok(status.store.segments >= 2, `${status.store.segments} segments`);
    const unbounded = await h.run(['addons', 'enable', 'tracing', '--keep-spans', 'lots']);
    assert.equal(unbounded.code, 2);
    assert.match(unbounded.stderr, /--keep-spans lots is not a size/);
  });

  it('install --tracing-url refuses a URL that is not http(s) in one sentence, and installs nothing', async () => {
    const other = await makeHome('mesh-traces-url');
    try {
      for (const bad of ['not a url', 'ftp://127.0.0.1/spans']) {
        const r = await other.run(['install', '--tracing-url', bad]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr.trim(), /^Error: --tracing-url .+ is not an http or https URL; pass .+\.$/);
        assert.equal(r.stderr.trim().split('\n').length, 1);
      }
      await assert.rejects(fs.access(path.join(other.home, 'mesh.json')));
    } finally {
      await other.cleanup();
    }
  });

  async function tracingStatus(): Promise<TracingStatus> {
    const r = await h.run(['status', '-o', 'json']);
    return jsonOutput<{ tracing: TracingStatus }>('status', r.stdout).tracing;
  }
});

interface OtlpBody {
  resourceSpans: { resource: { attributes: { key: string; value: { stringValue: string } }[] }; scopeSpans: { spans: { traceId: string; spanId: string; kind: number; startTimeUnixNano: string; endTimeUnixNano: string; attributes: { key: string; value: { stringValue: string } }[] }[] }[] }[];
}

/** Zipkin v2's span model (zipkin2-api): the fields, their formats and the kinds it knows. */
function assertZipkinV2Span(span: Record<string, unknown>): void {
  const allowed = ['traceId', 'id', 'parentId', 'name', 'kind', 'timestamp', 'duration', 'localEndpoint', 'remoteEndpoint', 'annotations', 'tags', 'debug', 'shared'];
  assert.deepEqual(Object.keys(span).filter((k) => !allowed.includes(k)), []);
  assert.match(String(span.traceId), /^([0-9a-f]{16}|[0-9a-f]{32})$/);
  assert.match(String(span.id), /^[0-9a-f]{16}$/);
  if (span.parentId !== undefined) assert.match(String(span.parentId), /^[0-9a-f]{16}$/);
  assert.ok(['CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER'].includes(String(span.kind)));
  assert.ok(Number.isInteger(span.timestamp) && (span.timestamp as number) > 1e15, 'epoch microseconds');
  assert.ok(Number.isInteger(span.duration) && (span.duration as number) >= 1, 'microseconds, at least 1');
  assert.equal(typeof (span.localEndpoint as { serviceName?: unknown }).serviceName, 'string');
  assert.ok(Object.values(span.tags as Record<string, unknown>).every((v) => typeof v === 'string'), 'tags are strings');
}

/** A span receiver on loopback that keeps what it is sent (or, with `hang`, never answers). */
async function receiver(options: { hang?: boolean; delayMs?: number } = {}): Promise<{ url: string; bodies: unknown[]; paths: string[]; close(): Promise<void> }> {
  const bodies: unknown[] = [];
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      if (options.hang) return;
      const take = () => {
        paths.push(req.url ?? '');
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(202).end();
      };
      if (options.delayMs) setTimeout(take, options.delayMs).unref();
      else take();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    paths,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
