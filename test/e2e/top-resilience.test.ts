// What the resilience and security policy did, as `top` and `inspect pod` show it, with live traffic
// through a caller's sidecar: a retried route its retried requests and extra attempts, a route timeout
// its 504s, a denied path its denials, a rate limit its 429s, a full connection pool its overflows, an
// always-failing replica under outlier detection its ejection. Every load is sent one request at a
// time (or as one bounded burst), so each count is exact.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { startShiftMesh, type ShiftMesh } from '../support/shift-mesh.js';
import { request } from '../support/net.js';
import { eventually } from './support.js';
import { jsonOutput } from '../support/output-schemas.js';
import { readAccessLog } from '../../src/lib/runtime/haproxy/access-log.js';
import { RESILIENCE_POLICY } from '../support/resilience-policy.js';
import type { TopRow, TopSnapshot } from '../../src/lib/mesh/top.js';
import type { ResilienceFigures } from '../../src/lib/runtime/figures.js';
import type { ProxySnapshot } from '../../src/lib/runtime/model.js';

const REVIEWS = 'reviews.default.svc.cluster.local';

// Before the catch-all split: /retried goes to v2 (always 500) with two retries on 5xx, /slow to v1
// (300 ms answers) with a 100 ms route timeout.
const ROUTES = `  - name: retried
    match: [{ uri: { prefix: /retried } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
    retries: { attempts: 2, retryOn: 5xx }
  - name: slow
    match: [{ uri: { prefix: /slow } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
    timeout: 100ms
`;

const NOTHING: ResilienceFigures = { retried: 0, retries: 0, denied: 0, rateLimited: 0, overflows: 0, timeouts: 0, noRoute: 0, upstreamFailures: 0, ejected: null };

describe('top and inspect show what the resilience policy did', { timeout: 300_000 }, () => {
  let mesh: ShiftMesh;

  before(async () => {
    mesh = await startShiftMesh('top-resilience', { versions: { v1: { DELAY_MS: '300' }, v2: { FAIL_EVERY: '1' } }, extraRoutes: ROUTES });
  });
  after(async () => {
    await mesh?.stop();
  });

  const send = async (p: string) => (await request({ port: await mesh.callerPort(), path: p, headers: { host: 'reviews' }, timeoutMs: 10_000 })).status;

  async function top(args: string[]): Promise<TopSnapshot> {
    const r = await mesh.h.run(['top', 'reviews', '-o', 'json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return jsonOutput<TopSnapshot>('top', r.stdout);
  }

  /** The rows of the window [fromMs, untilMs): only this test's requests. */
  const windowOf = (fromMs: number, untilMs: number) => ['--window', `${Math.max(1000, untilMs - fromMs)}ms`, '--until', new Date(untilMs).toISOString()];
  const row = (s: TopSnapshot, subset: string): TopRow => s.rows.find((r) => r.host === REVIEWS && r.subset === subset)!;

  /**
   * Waits until the window's row for `subset` shows `expected` (the sidecars log a request as it ends).
   * Ejections are left out: a window that ends now reads them live, one that ended before does not.
   */
  async function expectWindow(fromMs: number, untilMs: number, subset: string, expected: ResilienceFigures, requests: number): Promise<TopRow> {
    let last: TopRow | undefined;
    await eventually(`top shows ${JSON.stringify(expected)} for ${subset}`, async () => {
      last = row(await top(windowOf(fromMs, untilMs)), subset);
      return last.requests === requests && JSON.stringify({ ...last.resilience, ejected: null }) === JSON.stringify(expected);
    }, 20_000, 250).catch((err: Error) => {
      throw new Error(`${err.message}; last: ${JSON.stringify(last)}`);
    });
    return last!;
  }

  it('a retried route: each request retried twice counts once in retried and twice in retries; a route timeout\'s 504s count as timed out; an unknown host\'s 404s as no route', async () => {
    const fromMs = Date.now();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await send(`/retried/${i}`));
    for (let i = 0; i < 3; i++) statuses.push(await send(`/slow/${i}`));
    // A host the caller's sidecar has no route for.
    for (let i = 0; i < 2; i++) statuses.push((await request({ port: await mesh.callerPort(), path: '/', headers: { host: 'nowhere' }, timeoutMs: 10_000 })).status);
    const untilMs = Date.now() + 1;
    assert.deepEqual(statuses, [500, 500, 500, 500, 504, 504, 504, 404, 404]);
    const v2 = await expectWindow(fromMs, untilMs, 'v2', { ...NOTHING, retried: 4, retries: 8, upstreamFailures: 4 }, 4);
    assert.equal(v2.retries, 8, 'the retries figure the shift gates record agrees');
    await expectWindow(fromMs, untilMs, 'v1', { ...NOTHING, timeouts: 3 }, 3);
    // The text: the policy's column for these rows, and none for a window where it did nothing.
    const text = await mesh.h.run(['top', 'reviews', ...windowOf(fromMs, untilMs)]);
    assert.match(text.stdout, /SUCCESS +P50 +P95 +P99 +POLICY/);
    assert.match(text.stdout, /v2 +4 .*retried 4 \(\+8 attempts\), upstream failure 4/);
    assert.match(text.stdout, /v1 +3 .*timed out 3/);
    // The requests no route took: a row of the host they asked for, outside every namespace.
    await eventually('top shows the unrouted requests', async () => {
      const all = await mesh.h.run(['top', '-o', 'json', ...windowOf(fromMs, untilMs)]);
      const nowhere = jsonOutput<TopSnapshot>('top', all.stdout).rows.find((r) => r.host === 'nowhere');
      return nowhere?.namespace === null && nowhere.requests === 2 && nowhere.resilience.noRoute === 2;
    }, 20_000, 250);
    const quiet = await mesh.h.run(['top', 'reviews', '--window', '5s', '--until', '2001-01-01T00:00:00.000Z']);
    assert.doesNotMatch(quiet.stdout, /POLICY/);
  });

  it('a denied path, a rate-limited path and a full connection pool: top counts the 403s, 429s and 503s the caller got', async () => {
    const file = path.join(mesh.h.dir, 'resilience.yaml');
    await fs.writeFile(file, RESILIENCE_POLICY);
    const applied = await mesh.h.run(['apply', '-f', file, '--timeout', '60s']);
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    await mesh.reset({ v1: 100, v2: 0 });
    const again = await mesh.h.run(['apply', '-f', file, '--timeout', '60s']);
    assert.equal(again.code, 0, again.stderr);

    const fromMs = Date.now();
    const statuses: number[] = [];
    for (const p of ['/admin', '/admin/users', '/reviews/1']) statuses.push(await send(p));
    for (let i = 0; i < 4; i++) statuses.push(await send('/limited'));
    assert.deepEqual(statuses, [403, 403, 200, 200, 200, 429, 429]);
    // A burst of 12 against a pool of one connection and one pending request (v1 answers in 300 ms).
    const port = await mesh.callerPort();
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => request({ port, path: `/reviews/${i}`, headers: { host: 'reviews' }, timeoutMs: 20_000 })));
    const untilMs = Date.now() + 1;
    const overflowed = burst.filter((a) => a.status === 503).length;
    assert.ok(overflowed > 0, `the burst overflows the pool (${burst.map((a) => a.status).join(',')})`);
    assert.equal(burst.filter((a) => a.status === 200).length + overflowed, 12);
    const v1 = await expectWindow(fromMs, untilMs, 'v1', { ...NOTHING, denied: 2, rateLimited: 2, overflows: overflowed }, 19);
    assert.equal(v1.statusClasses['5xx'], overflowed, 'the overflows count among the requests and their failures');
    // The caller's own lines of its overflows name where they were going, as its other lines do.
    const callerLines = (await readAccessLog(path.join(mesh.h.home, 'pods', 'caller-0', 'access.log'))).entries;
    const overflowLines = callerLines.filter((e) => e.startMs >= fromMs && e.startMs < untilMs && e.responseFlags.includes('UO'));
    assert.equal(overflowLines.length, overflowed);
    assert.deepEqual([...new Set(overflowLines.map((e) => `${e.destinationHost}|${e.destinationSubset}`))], [`${REVIEWS}|v1`]);

    // The same window as text, and the pool's overflows in the caller's inspect. The window is pinned
    // with --until: a window ending at the command's own start would slide past this test's first
    // requests when a busy machine is slow to start it, and a wider one would take in the slow
    // requests of the test before.
    const text = await mesh.h.run(['top', 'reviews', ...windowOf(fromMs, untilMs)]);
    assert.match(text.stdout, new RegExp(`v1 +19 .*denied 2, rate-limited 2, overflow ${overflowed}`));
    const inspect = await mesh.h.run(['inspect', 'pod', 'caller-0', '--section', 'stats', '-o', 'json']);
    assert.equal(inspect.code, 0, inspect.stderr);
    const upstream = jsonOutput<ProxySnapshot>('inspect', inspect.stdout).stats!.upstreams.find((u) => u.host === REVIEWS && u.subset === 'v1')!;
    assert.equal(upstream.resilience!.overflows, overflowed);
    const inbound = await mesh.h.run(['inspect', 'pod', 'reviews-v1-0', '--section', 'stats']);
    assert.match(inbound.stdout, /RETRIES +EJECTIONS +POLICY/);
    assert.match(inbound.stdout, /inbound .*denied 2, rate-limited 2/);
  });

  it('an always-500 replica under outlier detection: top and inspect show it ejected', async () => {
    await mesh.reset({ v1: 0, v2: 100 });
    const file = path.join(mesh.h.dir, 'resilience.yaml');
    const applied = await mesh.h.run(['apply', '-f', file, '--timeout', '60s']);
    assert.equal(applied.code, 0, applied.stderr);
    const before = row(await top(['--window', '10s']), 'v2');
    assert.equal(before.resilience.ejected, 0, 'nothing ejected yet');
    // Three consecutive 500s eject it; bounded in count.
    const statuses: number[] = [];
    for (let i = 0; i < 10 && !statuses.includes(503); i++) statuses.push(await send(`/reviews/${i}`));
    assert.deepEqual(statuses.slice(0, 3), [500, 500, 500], statuses.join(','));
    await eventually('top shows v2 ejected', async () => row(await top(['--window', '30s']), 'v2').resilience.ejected === 1, 20_000, 250);
    const text = await mesh.h.run(['top', 'reviews', '--window', '30s']);
    assert.match(text.stdout, /v2 +\d+ .*ejected 1/);
    const inspect = await mesh.h.run(['inspect', 'pod', 'caller-0', '--section', 'stats', '-o', 'json']);
    const upstream = jsonOutput<ProxySnapshot>('inspect', inspect.stdout).stats!.upstreams.find((u) => u.host === REVIEWS && u.subset === 'v2')!;
    assert.equal(upstream.resilience!.ejected, 1);
    // A window that ended in the past cannot say what was ejected then.
    const past = await top(['--window', '10s', '--until', new Date(Date.now() - 60_000).toISOString()]);
    assert.equal(row(past, 'v2').resilience.ejected, null);
  });
});
