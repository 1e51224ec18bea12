// Traffic figures from access logs: the recent part of a long log read from its end, HAProxy's "-"
// for unset fields, and the figures a user reads (counts, status classes, success rate, percentiles).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { byUpstream, readRecentAccessLog, trafficFigures } from '../../../../src/lib/runtime/haproxy/traffic.js';
import type { AccessLogEntry } from '../../../../src/lib/runtime/haproxy/access-log.js';

function line(i: number, startMs: number, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    time: new Date(startMs).toISOString(), start_ms: startMs, request_id: `r${i}`, proxy: 'p', direction: 'outbound', source: 's', method: 'GET', host: 'reviews', path: '/',
    route: 'vs:default:reviews:0', destination_host: 'reviews.default.svc.cluster.local', destination_subset: 'v1', backend: 'vs:default:reviews:0:0', server: 'reviews-v1-0',
    status: 200, duration_ms: i % 100, upstream_ms: 1, retries: '0', bytes: 10, termination: '--', ...fields,
  });
}

test('a long log is read from its end, as far back as the window asks, and never cut mid-line', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mesh-traffic-'));
  try {
    const file = path.join(dir, 'access.log');
    const t0 = 1_800_000_000_000;
    // 30,000 requests, one per 10 ms (about 12 MiB): the last 60 s hold the last 6,000.
    const lines: string[] = [];
    for (let i = 0; i < 30_000; i++) lines.push(line(i, t0 + i * 10, { path: `/${'x'.repeat(300)}` }));
    await fs.writeFile(file, `${lines.join('\n')}\n{"time":"partial`);
    const since = t0 + 30_000 * 10 - 60_000;
    const recent = await readRecentAccessLog(file, { sinceMs: since });
    assert.equal(recent.entries.length, 6000);
    assert.equal(recent.entries[0]!.startMs, since);
    assert.equal(recent.truncated, true, 'older lines were left unread');
    const size = (await fs.stat(file)).size;
    assert.equal(recent.nextOffset, size - '{"time":"partial'.length, 'the partial last line is left for the next read');

    const all = await readRecentAccessLog(file);
    assert.equal(all.entries.length, 30_000);
    assert.equal(all.truncated, false);
    const capped = await readRecentAccessLog(file, { limitBytes: 1024 * 1024 });
    assert.ok(capped.truncated && capped.entries.length > 0 && capped.entries.length < 30_000);
    assert.equal(capped.entries[capped.entries.length - 1]!.requestId, 'r29999');

    const missing = await readRecentAccessLog(path.join(dir, 'none.log'));
    assert.deepEqual([missing.missing, missing.entries.length], [true, 0]);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('unset fields ("-") are empty: requests without a route belong to no upstream, and no subset is no subset', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mesh-traffic-'));
  try {
    const file = path.join(dir, 'access.log');
    await fs.writeFile(file, [
      line(1, 1000, { destination_host: '-', destination_subset: '-', route: '-', status: 404 }),
      line(2, 1001, { destination_host: 'productpage.default.svc.cluster.local', destination_subset: '-' }),
      line(3, 1002),
      '',
    ].join('\n'));
    const { entries } = await readRecentAccessLog(file);
    assert.deepEqual(entries.map((e) => [e.destinationHost, e.destinationSubset, e.route]), [
      ['', '', ''],
      ['productpage.default.svc.cluster.local', '', 'vs:default:reviews:0'],
      ['reviews.default.svc.cluster.local', 'v1', 'vs:default:reviews:0'],
    ]);
    assert.deepEqual([...byUpstream(entries).keys()], ['productpage.default.svc.cluster.local|', 'reviews.default.svc.cluster.local|v1']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('figures: status classes, success rate (non-5xx; a request cut off without a status fails), nearest-rank percentiles, rate', () => {
  const entry = (status: number, durationMs: number, retries = 0) => ({ status, durationMs, retries, startMs: 1 }) as AccessLogEntry;
  const entries = [
    ...Array.from({ length: 96 }, (_, i) => entry(200, i + 1)),
    entry(404, 200),
    entry(503, 300, 2),
    entry(500, 400),
    entry(-1, 500),
  ];
  const f = trafficFigures(entries, 50);
  assert.deepEqual(f.responses, { '1xx': 0, '2xx': 96, '3xx': 0, '4xx': 1, '5xx': 2, other: 1 });
  assert.equal(f.successRate, 97);
  assert.equal(f.ratePerSecond, 2);
  assert.deepEqual(f.latencyMs, { p50: 50, p90: 90, p95: 95, p99: 400, max: 500 });
  assert.equal(f.retries, 2);
  const none = trafficFigures([], 60);
  assert.deepEqual([none.successRate, none.latencyMs.p50, none.ratePerSecond], [null, null, 0]);
});
