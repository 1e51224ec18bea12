// The HAProxy traffic pipeline: a long log read from its end as far as the window asks, which lines
// count (each request once, where it was sent from; mirrored copies apart), the grouping by destination
// and the incremental reading that top and route shift share.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { parseAccessLog, readRecentAccessLog } from '../../../../src/lib/runtime/haproxy/access-log.js';
import { isEjected, isObservedServer } from '../../../../src/lib/runtime/haproxy/ejections.js';
import type { StatRow } from '../../../../src/lib/runtime/haproxy/runtime-api.js';
import { AccessLogTail, figuresByUpstream, isPolicyDenial, isPoolOverflow, isRateLimited } from '../../../../src/lib/runtime/haproxy/traffic.js';

const REVIEWS = 'reviews.default.svc.cluster.local';

function line(i: number, startMs: number, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    time: new Date(startMs).toISOString(), start_ms: startMs, request_id: `r${i}`, proxy: 'p', direction: 'outbound', source: 's', method: 'GET', host: 'reviews', path: '/',
    route: 'vs:default:reviews:0', destination_host: REVIEWS, destination_subset: 'v1', backend: 'vs:default:reviews:0:0', server: 'reviews-v1-0',
    status: 200, duration_ms: i % 100, upstream_ms: 1, retries: '0', bytes: 10, termination: '--', ...fields,
  });
}

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mesh-traffic-'));
  try {
    await run(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('a long log is read from its end, as far back as the window asks, and never cut mid-line', () => withDir(async (dir) => {
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
}));

test('each request counts once, where it was sent from: no route, inbound lines and mirrored copies are apart; "-" is no subset', () => withDir(async (dir) => {
  const file = path.join(dir, 'access.log');
  await fs.writeFile(file, [
    line(1, 1000, { destination_host: '-', destination_subset: '-', route: '-', status: 404 }),
    line(2, 1001, { destination_host: 'productpage.default.svc.cluster.local', destination_subset: '-' }),
    line(3, 1002),
    line(4, 1003, { direction: 'inbound' }),
    line(5, 1004, { direction: 'ingress', destination_subset: 'v2' }),
    line(6, 1005, { direction: 'mirror', mirror: true, destination_subset: 'v2', status: 500 }),
    '',
  ].join('\n'));
  const { entries } = await readRecentAccessLog(file);
  assert.deepEqual(entries.slice(0, 3).map((e) => [e.destinationHost, e.destinationSubset, e.route]), [
    ['', '', ''],
    ['productpage.default.svc.cluster.local', '', 'vs:default:reviews:0'],
    [REVIEWS, 'v1', 'vs:default:reviews:0'],
  ]);
  const window = { sinceMs: 0, untilMs: 2000 };
  assert.deepEqual(figuresByUpstream(entries, window).map((u) => [u.host, u.subset, u.requests]), [
    ['productpage.default.svc.cluster.local', '', 1],
    [REVIEWS, 'v1', 1],
    [REVIEWS, 'v2', 1],
  ]);
  const copies = figuresByUpstream(entries, window, { mirrored: true });
  assert.deepEqual(copies.map((u) => [u.subset, u.requests, u.successRate]), [['v2', 1, 0]]);
  // The window is [since, until): a request that started at `until` belongs to the next one.
  assert.deepEqual(figuresByUpstream(entries, { sinceMs: 1002, untilMs: 1004 }).map((u) => u.requests), [1]);
}));

test('the tail reads only what was appended, reads a new log back to the window, and lets go of what the window left', () => withDir(async (dir) => {
  const a = path.join(dir, 'a.log');
  const b = path.join(dir, 'b.log');
  await fs.writeFile(a, `${line(1, 1000)}\n`);
  const tail = new AccessLogTail((e) => e.destinationSubset === 'v1');
  await tail.startAtEnd([a]);
  await fs.appendFile(a, `${line(2, 2000)}\n${line(3, 2001, { destination_subset: 'v2' })}\n${line(4, 2002).slice(0, 20)}`);
  await fs.writeFile(b, `${line(5, 500)}\n${line(6, 2500)}\n`);
  const first = await tail.since([a, b], 1500);
  assert.deepEqual(first.map((e) => e.requestId).sort(), ['r2', 'r6'], 'a from where it ended at the start, b back to the window; v2 not kept');
  await fs.appendFile(a, `${line(4, 2002).slice(20)}\n`);
  const second = await tail.since([a, b], 2001);
  assert.deepEqual(second.map((e) => e.requestId).sort(), ['r4', 'r6'], 'the partial line once complete; r2 left the window');
  // A rotated log is read again from its start.
  await fs.writeFile(a, `${line(7, 3000)}\n`);
  assert.deepEqual((await tail.since([a, b], 2001)).map((e) => e.requestId).sort(), ['r4', 'r6', 'r7']);
}));

test('what the policy did, per destination: retries, a pool\'s overflow by its backend, denials and rate limits the destination decided, timeouts, upstream failures, no route', async () => {
  const t0 = 1_800_000_000_000;
  const { parseAccessLog } = await import('../../../../src/lib/runtime/haproxy/access-log.js');
  const text = [
    line(1, t0, { retries: '2', status: 200 }),
    line(2, t0 + 1, { retries: '+1', status: 503, termination: 'SH' }),
    // Refused by the pool before the destination was recorded: only its backend names it.
    line(3, t0 + 2, { destination_host: '-', destination_subset: '-', server: '<NOSRV>', status: 503, termination: 'LR', response_flags: 'UO' }),
    line(4, t0 + 3, { status: 403 }),
    { ...JSON.parse(line(4, t0 + 4, { proxy: 'reviews-v1-0', direction: 'inbound', destination_host: 'reviews', destination_subset: '-', backend: 'inbound', server: '<NOSRV>', status: 403, authz: 'rbac_access_denied_matched_policy[ns[default]-policy[no-admin]-rule[0]]' })) },
    line(5, t0 + 5, { status: 403 }),
    line(6, t0 + 6, { status: 429 }),
    { ...JSON.parse(line(6, t0 + 7, { proxy: 'reviews-v1-0', direction: 'inbound', destination_host: 'reviews', backend: 'inbound', server: '<NOSRV>', status: 429, response_flags: 'RL' })) },
    line(7, t0 + 8, { status: 504, termination: 'sH', response_flags: 'UT' }),
    // A sent request that matched no route: no destination, and no backend of a destination.
    line(8, t0 + 9, { destination_host: '-', destination_subset: '-', backend: 'outbound', server: '<NOSRV>', status: 404 }),
    line(9, t0 + 10, { destination_subset: 'v2', backend: 'vs:default:reviews:0:1', status: 200 }),
    // Refused for want of a route (a REGISTRY_ONLY sidecar): it counts for the host it asked for.
    line(10, t0 + 11, { host: 'HTTPBin.org:80', destination_host: '-', destination_subset: '-', backend: 'outbound', server: '<NOSRV>', status: 502, response_flags: 'NR' }),
  ].map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
  const { entries } = parseAccessLog(`${text}\n`);
  const [unrouted, v1, v2, ...rest] = figuresByUpstream(entries, { sinceMs: t0, untilMs: t0 + 1000 });
  assert.equal(rest.length, 0, 'a 404 without the NR flag counts for no destination');
  assert.deepEqual([unrouted!.host, unrouted!.subset, unrouted!.requests, unrouted!.resilience!.noRoute], ['httpbin.org', '', 1, 1]);
  assert.deepEqual([v1!.subset, v1!.requests, v1!.retries, v1!.statusClasses['5xx']], ['v1', 7, 3, 3], 'the overflow counts among v1\'s requests');
  // An app's own 403 (request 5) is no denial; the 403 the destination's policy decided (request 4) is.
  assert.deepEqual(v1!.resilience, { retried: 2, retries: 3, denied: 1, rateLimited: 1, overflows: 1, timeouts: 1, noRoute: 0, upstreamFailures: 1, ejected: null });
  assert.deepEqual(v2!.resilience, { retried: 0, retries: 0, denied: 0, rateLimited: 0, overflows: 0, timeouts: 0, noRoute: 0, upstreamFailures: 0, ejected: null });
});

// One decision per line, shared by top's figures and the agent's Envoy-named counters.
test('a line is a policy denial, a rate limit or a pool overflow by the proxy\'s own verdict; an app\'s own 403 is none', () => {
  const t0 = 1_800_000_000_000;
  const inbound = { direction: 'inbound', proxy: 'reviews-v1-0', destination_host: 'reviews', destination_subset: '-', backend: 'inbound_app', server: '<NOSRV>' };
  const overflow = { destination_host: '-', destination_subset: '-', server: '<NOSRV>', status: 503, response_flags: 'UO' };
  const text = [
    line(0, t0), line(1, t0, { retries: '2' }),
    line(2, t0, overflow), line(3, t0, overflow), line(4, t0, overflow),
    line(5, t0, { ...inbound, status: 429, response_flags: 'RL' }), line(6, t0, { ...inbound, status: 429, response_flags: 'RL' }),
    line(7, t0, { ...inbound, status: 403, authz: 'rbac_access_denied_matched_policy[ns[default]-policy[deny-admin]-rule[0]]' }),
    line(8, t0, { ...inbound, status: 403, authz: 'rbac_allowed_matched_policy[ns[default]-policy[allow-all]-rule[0]]' }),
    line(9, t0, { ...inbound, status: 403, server: 'app' }),
  ].join('\n');
  const { entries } = parseAccessLog(`${text}\n`);
  assert.equal(entries.length, 10);
  assert.deepEqual(entries.filter(isPoolOverflow).map((e) => e.requestId), ['r2', 'r3', 'r4']);
  assert.deepEqual(entries.filter(isRateLimited).map((e) => e.requestId), ['r5', 'r6']);
  assert.deepEqual(entries.filter(isPolicyDenial).map((e) => e.requestId), ['r7'], 'only the 403 an AuthorizationPolicy decided is a denial');
});

test('an endpoint is ejected when its observed responses took it down, not when its own health check failed', () => {
  const server = (name: string, fields: Record<string, string>): StatRow => ({ proxy: 'vs:default:reviews:0:0', name, type: 'server', fields: { status: 'UP', hanafail: '0', check_status: '', ...fields } });
  const ejected = server('reviews-v1-0', { status: 'DOWN', hanafail: '5', check_status: 'L7STS' });
  const recovering = server('reviews-v1-1', { status: 'UP', hanafail: '5', check_status: 'L7OK' });
  const failedCheckUnobserved = server('reviews-v1-2', { status: 'DOWN', hanafail: '0', check_status: '' });
  const backendRow: StatRow = { ...ejected, name: 'BACKEND', type: 'backend' };
  assert.deepEqual([ejected, recovering, failedCheckUnobserved, backendRow].map(isObservedServer), [true, true, false, false]);
  assert.deepEqual([ejected, recovering, failedCheckUnobserved, backendRow].map(isEjected), [true, false, false, false]);
});
