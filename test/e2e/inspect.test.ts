// inspect pod, proxy-status and top against the bookinfo example on a live local mesh (installed and
// applied through the agent): every proxy SYNCED after an apply, a sidecar that reports an older
// revision STALE until the next apply reaches it, request counts that match what the test sent, and a
// frozen sidecar marked UNREACHABLE in its row while the others report.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { request } from '../support/net.js';
import { BIN } from '../support/shared.js';
import { assertOutput } from '../support/output-schemas.js';
import { RuntimeApi } from '../../src/lib/runtime/haproxy/runtime-api.js';
import type { ProxySnapshot } from '../../src/lib/runtime/model.js';
import type { ProxyStatusReport } from '../../src/lib/target/target.js';
import type { TopSnapshot } from '../../src/lib/mesh/top.js';
import { bookinfoCopy, freePort, liveGroupMembers, makeHome, podPid, type E2eHome } from './support.js';

const PROXIES = ['bookinfo-gateway', 'productpage-v1-0', 'ratings-v1-0', 'reviews-v1-0', 'reviews-v2-0', 'reviews-v3-0'];
/** Pages the test requests through the ingress; nothing else sends requests through this mesh. */
const PAGES = 60;

let h: E2eHome;
let ingress: number;
let bookinfo: string;
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });

before(async () => {
  h = await makeHome('mesh-insp');
  ingress = await freePort();
  bookinfo = await bookinfoCopy(h.dir, ingress);
  const install = await h.run(['install']);
  assert.equal(install.code, 0, install.stderr);
  const apply = await h.run(['apply', '-f', bookinfo, '--timeout', '120s']);
  assert.equal(apply.code, 0, apply.stdout + apply.stderr);
});

after(async () => {
  keepAlive.destroy();
  await h.cleanup();
});

async function status(extra: string[] = []): Promise<{ code: number; report: ProxyStatusReport }> {
  // A generous answer time, so that only the proxy a test freezes can miss it on a busy machine.
  const timeout = extra.includes('--proxy-timeout') ? [] : ['--proxy-timeout', '10s'];
  const r = await h.run(['proxy-status', '-o', 'json', ...timeout, ...extra]);
  const report = JSON.parse(r.stdout) as ProxyStatusReport;
  assertOutput('proxy-status', report);
  return { code: r.code, report };
}

async function inspect(pod: string, sections: string[]): Promise<ProxySnapshot> {
  const r = await h.run(['inspect', 'pod', pod, ...sections.flatMap((s) => ['-s', s]), '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as ProxySnapshot;
  assertOutput('inspect', doc);
  return doc;
}

async function top(host: string): Promise<TopSnapshot> {
  const r = await h.run(['top', host, '--window', '10m', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as TopSnapshot;
  assertOutput('top', doc);
  return doc;
}

test('after the apply every proxy is SYNCED on revision 1 and ready, and --wait returns at once', async () => {
  const { code, report } = await status();
  assert.equal(code, 0);
  assert.equal(report.appliedRevision, 1);
  assert.deepEqual(report.proxies.map((p) => [p.name, p.status, p.revision, p.ready]), PROXIES.map((n) => [n, 'SYNCED', 1, true]));
  assert.ok(report.proxies.every((p) => (p.certificate?.secondsLeft ?? 0) > 3600));
  const waited = await h.run(['proxy-status', '--wait', '--timeout', '60s', '--proxy-timeout', '10s']);
  assert.equal(waited.code, 0, waited.stdout + waited.stderr);
  assert.match(waited.stdout, /Applied revision 1: 6 of 6 proxies are SYNCED and ready\./);

  const health = (await inspect('productpage-v1-0', ['health'])).health!;
  assert.deepEqual([health.ready, health.config.status, health.config.served, health.config.applied], [true, 'SYNCED', '1', '1']);
});

test('the pages sent through the ingress are counted exactly: by top per service and subset, and by inspect per upstream and inbound', async () => {
  let next = 0;
  const statuses = new Map<number, number>();
  await Promise.all(Array.from({ length: 6 }, async () => {
    while (next < PAGES) {
      next++;
      const a = await request({ port: ingress, path: '/productpage', headers: { 'end-user': 'jason' }, agent: keepAlive, timeoutMs: 10_000 });
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    }
  }));
  assert.deepEqual([...statuses], [[200, PAGES]]);

  // HAProxy writes its access log asynchronously: wait (bounded) for the last lines.
  const deadline = Date.now() + 15_000;
  let rows: TopSnapshot['rows'] = [];
  for (;;) {
    rows = [...(await top('productpage')).rows, ...(await top('reviews')).rows, ...(await top('ratings')).rows];
    const count = (service: string, subset: string | null) => rows.find((r) => r.service === service && r.subset === subset)?.requests;
    if ((count('productpage', null) === PAGES && count('reviews', 'v2') === PAGES && count('ratings', 'v1') === PAGES) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const figures = rows.map((r) => [r.service, r.subset, r.requests, r.successRate]);
  // jason always gets reviews v2, which asks ratings: every page is one request to each of productpage,
  // reviews v2 and ratings v1. Reviews v3 has no row: no route sends traffic to it.
  assert.deepEqual(figures, [['productpage', null, PAGES, 100], ['reviews', 'v1', 0, null], ['reviews', 'v2', PAGES, 100], ['ratings', 'v1', PAGES, 100]]);

  const page = await inspect('productpage-v1-0', ['stats', 'endpoints', 'clusters']);
  assert.equal(page.stats!.inbound!.requests, PAGES);
  assert.equal(page.stats!.inbound!.responses['2xx'], PAGES);
  const v2 = page.stats!.upstreams.find((u) => u.host === 'reviews.default.svc.cluster.local' && u.subset === 'v2')!;
  assert.equal(v2.requests, PAGES);
  assert.equal(v2.successRate, 100);
  assert.ok(v2.latencyMs.p99 !== null);
  const reviewEndpoints = page.endpoints!.filter((e) => e.hostname?.startsWith('reviews-'));
  assert.ok(reviewEndpoints.length >= 3);
  assert.ok(reviewEndpoints.every((e) => e.health === 'healthy' && e.edsHealthStatus === 'HEALTHY'), JSON.stringify(reviewEndpoints));
  const gateway = await inspect('bookinfo-gateway', ['stats']);
  assert.equal(gateway.stats!.upstreams.find((u) => u.host === 'productpage.default.svc.cluster.local')?.requests, PAGES);
});

test('top --watch -o json streams one top.json document per line until Ctrl-C, then exits 130', async () => {
  const watcher = spawn(process.execPath, [BIN, 'top', 'reviews', '--watch', '--interval', '200ms', '--home', h.home, '-o', 'json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let out = '';
  let err = '';
  watcher.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  watcher.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => watcher.on('exit', (code) => resolve(code)));
  const killer = setTimeout(() => watcher.kill('SIGKILL'), 60_000);
  try {
    const deadline = Date.now() + 30_000;
    while (out.split('\n').length < 3 && Date.now() < deadline && watcher.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  } finally {
    watcher.kill('SIGINT');
  }
  const code = await exited;
  clearTimeout(killer);
  assert.equal(code, 130, err);
  const lines = out.trimEnd().split('\n');
  assert.ok(lines.length >= 2, out);
  for (const line of lines) {
    const snapshot = JSON.parse(line) as TopSnapshot;
    assertOutput('top', snapshot);
    assert.equal(snapshot.host, 'reviews');
  }
});

test('a sidecar that reports an older revision is STALE until the next apply reaches it', async () => {
  // What a sidecar that missed the last push reports: its revision set back through its runtime API.
  const socket = path.join(h.home, 'pods', 'ratings-v1-0', 'admin.sock');
  await new RuntimeApi(socket).setRouteWeights([], 0);
  const { code, report } = await status();
  assert.equal(code, 1);
  const row = report.proxies.find((p) => p.name === 'ratings-v1-0')!;
  assert.deepEqual([row.status, row.revision, row.appliedRevision], ['STALE', 0, 1]);
  assert.ok(report.proxies.filter((p) => p.name !== 'ratings-v1-0').every((p) => p.status === 'SYNCED'));
  assert.equal((await inspect('ratings-v1-0', ['health'])).health!.config.status, 'STALE');

  const routing = readFileSync(path.join(bookinfo, 'routing.yaml'), 'utf8');
  const changed = path.join(h.dir, 'routing-70-30.yaml');
  await fs.writeFile(changed, routing.replace('weight: 80', 'weight: 70').replace('weight: 20', 'weight: 30'));
  const second = await h.run(['apply', '-f', changed, '--timeout', '60s']);
  assert.equal(second.code, 0, second.stderr);
  const waited = await status(['--wait', '--timeout', '60s']);
  assert.equal(waited.code, 0, JSON.stringify(waited.report.proxies.filter((p) => p.status !== 'SYNCED')));
  // Every proxy serves the revision its configuration last changed at: the gateway, which does not route
  // to reviews, is left alone at 1; the stale ratings sidecar (its routes know reviews) took revision 2.
  assert.ok(waited.report.proxies.every((p) => p.status === 'SYNCED' && p.revision === p.appliedRevision), JSON.stringify(waited.report.proxies));
  assert.equal(waited.report.proxies.find((p) => p.name === 'ratings-v1-0')!.revision, 2);
  assert.equal(waited.report.proxies.find((p) => p.name === 'bookinfo-gateway')!.revision, 1);
});

test('a frozen sidecar is UNREACHABLE in its row while the others report; inspect names its socket and exits 3', async () => {
  const proxy = podPid(h.home, 'ratings-v1-0', 'proxy');
  assert.ok(proxy, 'no proxy pid for ratings-v1-0');
  const frozen = liveGroupMembers(new Set([proxy]));
  assert.ok(frozen.includes(proxy), 'the proxy process');
  for (const pid of frozen) process.kill(pid, 'SIGSTOP');
  try {
    const { code, report } = await status(['--proxy-timeout', '500ms']);
    assert.equal(code, 1);
    const row = report.proxies.find((p) => p.name === 'ratings-v1-0')!;
    assert.equal(row.status, 'UNREACHABLE');
    assert.equal(row.ready, null);
    assert.match(row.problem ?? '', /no answer on its admin port 127\.0\.0\.1:\d+ \(no answer within 500 ms\)/);
    assert.deepEqual(report.proxies.filter((p) => p.name !== 'ratings-v1-0').map((p) => p.status), Array(5).fill('SYNCED'));

    const r = await h.run(['inspect', 'pod', 'ratings-v1-0', '--timeout', '1s']);
    assert.equal(r.code, 3);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(r.stderr.includes(path.join(h.home, 'pods', 'ratings-v1-0', 'admin.sock')), r.stderr);
  } finally {
    for (const pid of frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Gone meanwhile.
      }
    }
  }
  const back = await status(['--wait', '--timeout', '30s']);
  assert.equal(back.code, 0, 'every proxy answers again once the sidecar runs on');
});
