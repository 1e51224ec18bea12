// Access-log parsing and the per-upstream figures a traffic shift gates on.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { parseAccessLog, percentile, readAccessLog, upstreamFigures } from '../../../../src/lib/runtime/haproxy/access-log.js';

function line(o: Record<string, unknown>): string {
  return JSON.stringify({ time: '2030-01-01T00:00:00Z', start_ms: 1000, request_id: 'r', proxy: 'p-0', direction: 'outbound', source: 's', method: 'GET', host: 'reviews', path: '/', route: 'vs:default:reviews:split', destination_host: 'reviews.default.svc.cluster.local', destination_subset: 'v1', backend: 'b', server: 's', status: 200, duration_ms: 1, upstream_ms: 1, retries: '0', bytes: 10, termination: '--', ...o });
}

describe('access log', () => {
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  it('parses requests and connection errors, skipping other lines', () => {
    const text = [line({ retries: '+2' }), 'not json', '{"broken', JSON.stringify({ time: 't', start_ms: 5, proxy: 'p-0', direction: 'inbound', connection_error: 'SSL handshake failure', client: '127.0.0.1:5' })].join('\n');
    const { entries, connectionErrors } = parseAccessLog(text);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].retries, 2);
    assert.equal(entries[0].redispatched, true);
    assert.deepEqual(connectionErrors.map((e) => e.error), ['SSL handshake failure']);
  });

  it('reads HAProxy\'s "-" for an unset destination as none', () => {
    const { entries } = parseAccessLog(line({ destination_host: '-', destination_subset: '-', status: 404 }));
    assert.equal(entries[0].destinationHost, '');
    assert.equal(entries[0].destinationSubset, '');
    assert.deepEqual(upstreamFigures(entries), []);
  });

  it('computes request counts, status classes, success rate and latency percentiles per subset', () => {
    const lines: string[] = [];
    for (let i = 1; i <= 100; i++) lines.push(line({ duration_ms: i, status: i <= 2 ? 503 : 200 }));
    for (let i = 0; i < 10; i++) lines.push(line({ destination_subset: 'v2', duration_ms: 7, start_ms: 5000 }));
    lines.push(line({ destination_host: '', status: 404 }));
    const figures = upstreamFigures(parseAccessLog(lines.join('\n')).entries);
    assert.deepEqual(figures.map((f) => [f.destinationSubset, f.requests]), [['v1', 100], ['v2', 10]]);
    const v1 = figures[0];
    assert.equal(v1.statusClasses['5xx'], 2);
    assert.equal(v1.successRate, 98);
    assert.deepEqual([v1.latencyMs.p50, v1.latencyMs.p90, v1.latencyMs.p99, v1.latencyMs.max], [50, 90, 99, 100]);
    // Cumulative buckets: 1..100 ms, one request per millisecond.
    assert.deepEqual(v1.latencyHistogram.le.slice(0, 7), [1, 2, 5, 10, 25, 50, 100]);
    assert.deepEqual(v1.latencyHistogram.counts.slice(0, 7), [1, 2, 5, 10, 25, 50, 100]);
    assert.equal(v1.latencyHistogram.counts.at(-1), 100);
    assert.deepEqual(figures[1].latencyHistogram.counts.slice(0, 4), [0, 0, 0, 10]);
    assert.deepEqual(upstreamFigures(parseAccessLog(lines.join('\n')).entries, { sinceMs: 2000 }).map((f) => f.destinationSubset), ['v2']);
    assert.ok(Number.isNaN(percentile([], 99)));
  });

  it('reads complete lines from an offset and leaves a partial last line for later', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-log-'));
    dirs.push(dir);
    const file = path.join(dir, 'access.log');
    await fs.writeFile(file, `${line({ request_id: 'a' })}\n${line({ request_id: 'b' }).slice(0, 30)}`);
    const first = await readAccessLog(file);
    assert.deepEqual(first.entries.map((e) => e.requestId), ['a']);
    await fs.appendFile(file, `${line({ request_id: 'b' }).slice(30)}\n`);
    const second = await readAccessLog(file, first.nextOffset);
    assert.deepEqual(second.entries.map((e) => e.requestId), ['b']);
    assert.deepEqual((await readAccessLog(path.join(dir, 'missing.log'))).entries, []);
  });
});
