// Live: a mesh home run without its agent (real HAProxy sidecars and a gateway on loopback, echo apps)
// read by inspect, proxy-status and top, as a library and through the CLI. What a user would notice:
// every proxy SYNCED after an apply and one STALE when the apply did not reach it, request counts
// that match the requests sent, an endpoint whose app stopped shown as down, an unreachable proxy
// marked in its row, and JSON that keeps to the published schemas.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import AjvModule from 'ajv';
import { startLocalHome, type LocalHome } from '../../support/local-home.js';
import { bookinfoPolicy } from '../../support/bookinfo-policy.js';
import { request, type HttpAnswer } from '../../support/net.js';
import { meshctlAsync } from '../../support/cli.js';
import { BIN, ROOT } from '../../support/shared.js';
import { homeLayout } from '../../../src/lib/mesh/home.js';
import { LocalTarget } from '../../../src/lib/target/local.js';
import { inspectProxy } from '../../../src/lib/runtime/inspect.js';
import { SECTIONS, type Endpoint, type ProxySnapshot, type Stats, type TrafficStats } from '../../../src/lib/runtime/model.js';
import type { ProxyStatusReport } from '../../../src/lib/target/target.js';
import { TrafficWatcher, type TopSnapshot } from '../../../src/lib/mesh/top.js';
import { RuntimeApi } from '../../../src/lib/runtime/haproxy/runtime-api.js';
import { waitFor } from '../../../src/lib/runtime/haproxy/admin.js';
import { endpointHealth, parseShowSslCert } from '../../../src/lib/runtime/haproxy/inspect.js';
import { splitWords, conditionTerms, describeMatch } from '../../../src/lib/runtime/haproxy/config-parse.js';

const Ajv = AjvModule as unknown as typeof AjvModule.default;
const schema = (name: string) => new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(path.join(ROOT, 'schemas', 'output', `${name}.json`), 'utf8')));
const validInspect = schema('inspect');
const validStatus = schema('proxy-status');
const validTop = schema('top');

function assertSchema(validate: ReturnType<typeof schema>, doc: unknown): void {
  assert.ok(validate(doc), JSON.stringify(validate.errors?.slice(0, 3)));
}

const REVIEWS = 'reviews.default.svc.cluster.local';

describe('config and runtime answers, parsed', () => {
  it('splits directives as HAProxy does and summarizes route matches', () => {
    assert.deepEqual(splitWords(`http-request replace-path '^\\/api\\/(.*)$' '/v1/\\1' if { var(txn.match) -m int 0 }`), ['http-request', 'replace-path', '^\\/api\\/(.*)$', '/v1/\\1', 'if', '{', 'var(txn.match)', '-m', 'int', '0', '}']);
    assert.deepEqual(splitWords(`description 'it'\\''s' "a\\"b" x\\ y`), ['description', "it's", 'a"b', 'x y']);
    const { terms, named } = conditionTerms(splitWords(`!has_route vs_0 { path -m beg /api/ } { req.fhdr(end-user) -m str jason } !{ method -m str POST }`));
    assert.deepEqual(named, ['!has_route', 'vs_0']);
    assert.equal(describeMatch(terms), '/api/* [end-user=jason, !method=POST]');
    assert.equal(describeMatch(conditionTerms(splitWords(`{ path -m reg '^(?:/r/[0-9]+)$' }`)).terms), 'regex /r/[0-9]+');
  });

  it('reads show ssl cert', () => {
    const cert = parseShowSslCert('Filename: /x/proxy.pem\nStatus: Used\nSerial: 025F19C4\nnotBefore: Nov 24 04:39:51 2026 GMT\nnotAfter: Nov 25 04:40:51 2026 GMT\nIssuer: /CN=mesh CA\n');
    assert.deepEqual(cert, { serial: '025f19c4', notBefore: '2026-11-24T04:39:51Z', notAfter: '2026-11-25T04:40:51Z', issuer: '/CN=mesh CA' });
  });

  it('maps server states to endpoint health', () => {
    const row = (fields: Record<string, string>) => ({ proxy: 'b', name: 's', type: 'server' as const, fields });
    assert.equal(endpointHealth(row({ status: 'MAINT' }), undefined, null).health, 'down');
    assert.equal(endpointHealth(row({ status: 'DRAIN' }), undefined, null).health, 'draining');
    assert.deepEqual(endpointHealth(row({ status: 'DOWN', check_status: 'L4CON', check_desc: 'Connection refused' }), undefined, null), { health: 'failing_health_check', flags: ['L4CON: Connection refused'] });
    const observed = { name: 's', address: '127.0.0.1', port: 1, unix: false, tls: false, check: true, observe: true, maxconn: null, maxqueue: null };
    assert.equal(endpointHealth(row({ status: 'DOWN', hanafail: '3' }), observed, null).health, 'ejected');
    assert.equal(endpointHealth(row({ status: 'no check' }), undefined, { ready: false, reason: 'pod p is not ready' }).health, 'down');
    assert.equal(endpointHealth(row({ status: 'no check' }), undefined, { ready: true, reason: 'ok' }).health, 'healthy');
  });
});

describe('inspect, proxy-status and top on a live local mesh', { timeout: 240_000 }, () => {
  let h: LocalHome;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  before(async () => {
    h = await startLocalHome(bookinfoPolicy(), { gateways: ['bookinfo-gateway'] });
  });
  after(async () => {
    agent.destroy();
    await h?.stop();
  });

  const cli = (args: string[]) => meshctlAsync([...args, '--home', h.home], { timeoutMs: 60_000 });

  // Every read goes through the mesh target, as the commands' do.
  const mesh = () => new LocalTarget(homeLayout(h.home));
  const readProxyStatus = (options: { timeoutMs: number }) => mesh().proxyStatus(options);

  async function snapshot(pod: string, sections = SECTIONS.filter((s) => s !== 'config')): Promise<ProxySnapshot> {
    return inspectProxy(await mesh().proxyAdmin(pod, { timeoutMs: 5000 }), sections);
  }

  /** `n` calls from productpage's app through its sidecar, at most 8 at once (a bounded loop). */
  async function fromProductpage(n: number, pathname: string, headers: Record<string, string> = {}): Promise<HttpAnswer[]> {
    const answers: HttpAnswer[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < n) {
        next++;
        answers.push(await request({ port: h.pod('productpage-0').ports.outbound, path: pathname, headers: { host: 'reviews', ...headers }, agent, timeoutMs: 10_000 }));
      }
    }));
    return answers;
  }

  /** Runs `top --watch` until it has printed two snapshots, then sends it SIGINT (Ctrl-C); its exit code. */
  function topUntilInterrupted(): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'top', '--watch', '--interval', '200ms', '--home', h.home], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let interrupted = false;
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (!interrupted && (stdout.match(/Traffic over the last/g) ?? []).length >= 2) {
          interrupted = true;
          child.kill('SIGINT');
        }
      });
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(killer);
        resolve(code);
      });
    });
  }

  const upstream = (stats: Stats, subset: string): TrafficStats => {
    const row = stats.upstreams.find((u) => u.host === REVIEWS && u.subset === subset);
    assert.ok(row, `no upstream ${REVIEWS}|${subset} in ${stats.upstreams.map((u) => u.name).join(', ')}`);
    return row;
  };

  /** Waits until HAProxy has written the access-log lines of the requests sent (its log is asynchronous). */
  async function statsWhen(pod: string, done: (s: Stats) => boolean): Promise<Stats> {
    let last: Stats | null = null;
    try {
      return await waitFor(`the access log of ${pod}`, async () => {
        last = (await snapshot(pod, ['stats'])).stats!;
        return done(last) ? last : undefined;
      }, { timeoutMs: 15_000, intervalMs: 200 });
    } catch (err) {
      assert.fail(`${(err as Error).message}\nlast stats: ${JSON.stringify(last)}`);
    }
  }

  it('after an apply every proxy is SYNCED and ready, and inspect says why', async () => {
    // Ready once each sidecar's health check has reached its app (at once, unless the machine is very busy).
    const report = await waitFor('every proxy to be SYNCED and ready', async () => {
      const r = await readProxyStatus({ timeoutMs: 10_000 });
      return r.ok ? r : undefined;
    }, { timeoutMs: 20_000, intervalMs: 250 });
    assert.equal(report.appliedRevision, 1);
    assert.deepEqual(report.proxies.map((p) => [p.name, p.status, p.ready]), [
      ['bookinfo-gateway', 'SYNCED', true],
      ['productpage-0', 'SYNCED', true],
      ['reviews-v1-0', 'SYNCED', true],
      ['reviews-v2-0', 'SYNCED', true],
    ]);
    assert.equal(report.ok, true);
    for (const p of report.proxies) {
      assert.equal(p.certificate?.source, 'runtime');
      assert.ok((p.certificate?.secondsLeft ?? 0) > 3600, `${p.name}: certificate expires too soon`);
    }
    const s = await snapshot('productpage-0');
    assert.equal(s.health?.ready, true);
    assert.match(s.health!.reason, new RegExp(`app answers its health check on 127\\.0\\.0\\.1:${h.pod('productpage-0').ports.app}`));
    assert.match(s.health!.version ?? '', /^2\.\d+/);
    assert.deepEqual(s.health?.config, { served: '1', applied: '1', status: 'SYNCED', byType: { runtime: '1', 'compiled.json': '1' } });
    assertSchema(validInspect, JSON.parse(JSON.stringify(s)));
  });

  it('lists the listeners, the routes with their live weights, and the certificates', async () => {
    const s = await snapshot('productpage-0', ['listeners', 'routes', 'certs']);
    const outbound = s.listeners!.find((l) => l.name === 'outbound');
    assert.equal(outbound?.port, h.pod('productpage-0').ports.outbound);
    assert.deepEqual(outbound?.filterChains.map((c) => c.destination), ['Route: outbound']);
    const inbound = s.listeners!.find((l) => l.name === 'inbound');
    assert.equal(inbound?.port, h.pod('productpage-0').ports.inbound);
    assert.equal(inbound?.direction, 'INBOUND');

    const reviews = s.routes![0]!.virtualHosts.find((v) => v.name === REVIEWS)!;
    assert.ok(reviews.domains.includes('reviews'));
    assert.deepEqual(reviews.routes.map((r) => [r.name, r.match]), [
      ['vs:default:reviews:jason', '/* [end-user=jason]'],
      ['vs:default:reviews:api', '/api/v1/*'],
      ['vs:default:reviews:split', '/*'],
    ]);
    const split = () => reviews.routes.find((r) => r.name === 'vs:default:reviews:split')!;
    assert.deepEqual(split().destinations, [{ cluster: 'vs:default:reviews:split:0', weight: 80 }, { cluster: 'vs:default:reviews:split:1', weight: 20 }]);
    assert.equal(split().virtualService, 'reviews.default');

    // Weights changed through the runtime API (as a traffic shift does) are what inspect shows.
    await new RuntimeApi(h.pod('productpage-0').paths.runtimeSocket).setRouteWeights([{ id: 'vs:default:reviews:split', weights: [30, 70] }]);
    const live = await snapshot('productpage-0', ['routes']);
    const liveSplit = live.routes![0]!.virtualHosts.find((v) => v.name === REVIEWS)!.routes.find((r) => r.name === 'vs:default:reviews:split')!;
    assert.deepEqual(liveSplit.destinations.map((d) => d.weight), [30, 70]);
    await new RuntimeApi(h.pod('productpage-0').paths.runtimeSocket).setRouteWeights([{ id: 'vs:default:reviews:split', weights: [80, 20] }]);

    const leaf = s.certs!.find((c) => c.kind === 'cert_chain')!;
    assert.equal(leaf.spiffeId, 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage');
    assert.equal(leaf.status, 'ACTIVE');
    assert.ok(leaf.valid && (leaf.secondsLeft ?? 0) > 3600);
    assert.match(leaf.issuer ?? '', /meshctl mesh CA/);
    assert.equal(s.certs!.find((c) => c.kind === 'ca')?.resource, 'ca.pem');
  });

  it('counts exactly the requests sent, per upstream and inbound, with their status classes and latencies', async () => {
    // Nothing else sends requests in this mesh (health checks and admin calls are not logged), so the counts are exact.
    const before = (await snapshot('productpage-0', ['stats'])).stats!;
    const beforeInbound = (await snapshot('reviews-v2-0', ['stats'])).stats!.inbound!.requests!;
    const v1 = upstream(before, 'v1').requests!;
    const v2 = upstream(before, 'v2').requests!;
    const jason = await fromProductpage(40, '/reviews/1', { 'end-user': 'jason' });
    const api = await fromProductpage(30, '/api/v1/ratings');
    const lost = await fromProductpage(5, '/', { host: 'nowhere' });
    assert.ok(jason.every((a) => a.status === 200) && api.every((a) => a.status === 200));
    assert.ok(lost.every((a) => a.status === 404));

    const after = await statsWhen('productpage-0', (s) => upstream(s, 'v2').requests === v2 + 40 && upstream(s, 'v1').requests === v1 + 30);
    const v2row = upstream(after, 'v2');
    assert.equal(v2row.responses['2xx'], v2 + 40);
    assert.equal(v2row.responses['5xx'], 0);
    assert.equal(v2row.successRate, 100);
    assert.ok(v2row.latencyMs.p50 !== null && v2row.latencyMs.p99 !== null && v2row.latencyMs.p50 <= v2row.latencyMs.p99);
    assert.ok((v2row.ratePerSecond ?? 0) >= 40 / 60, `rate ${v2row.ratePerSecond} below the 40 requests of the last minute`);
    assert.ok(after.notes.some((n) => /5 outbound requests matched no route/.test(n)), after.notes.join('\n'));

    const served = await statsWhen('reviews-v2-0', (s) => s.inbound?.requests === beforeInbound + 40);
    assert.equal(served.inbound!.responses['2xx'], beforeInbound + 40);

    const top = await new TrafficWatcher(mesh(), { windowSeconds: 600, host: 'reviews' }).snapshot();
    assertSchema(validTop, JSON.parse(JSON.stringify(top)));
    assert.deepEqual(top.rows.map((r) => [r.service, r.subset, r.requests]), [['reviews', 'v1', v1 + 30], ['reviews', 'v2', v2 + 40]]);
    assert.ok(top.rows.every((r) => r.successRate === 100 && r.latencyMs.p95 !== null));
  });

  it('through the CLI: tables, -o json against the schemas, an unknown pod and an unknown service', async () => {
    const text = await cli(['inspect', 'pod', 'productpage-0']);
    assert.equal(text.code, 0, text.stderr);
    for (const heading of ['── Health', '── Listeners', '── Routes', '── Clusters', '── Endpoints', '── Stats', '── Certificates']) assert.ok(text.stdout.includes(heading), heading);
    assert.match(text.stdout, /Config Revision: 1 SYNCED \(applied: 1\)/);

    const json = await cli(['inspect', 'pod', 'bookinfo-gateway', ...SECTIONS.flatMap((s) => ['-s', s]), '-o', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as ProxySnapshot;
    assertSchema(validInspect, doc);
    assert.equal(doc.source.kind, 'local');
    assert.deepEqual(doc.listeners!.map((l) => l.name), ['admin', 'ingress_8080']);
    assert.match((doc.config as { text: string }).text, /frontend ingress_8080/);

    const raw = await cli(['inspect', 'pod', 'reviews-v1-0', '-s', 'config']);
    assert.equal(raw.code, 0, raw.stderr);
    assert.match(raw.stdout, /^backend inbound_app$/m, 'the raw config prints as HAProxy text');

    const unknown = await cli(['inspect', 'pod', 'ratings-v1-0']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no local pod named "ratings-v1-0" \(pods that exist: bookinfo-gateway, productpage-0, reviews-v1-0, reviews-v2-0\)/);

    const status = await cli(['proxy-status', '--wait', '--timeout', '30s', '--proxy-timeout', '10s', '-o', 'json']);
    assert.equal(status.code, 0, status.stderr);
    assertSchema(validStatus, JSON.parse(status.stdout));

    const top = await cli(['top', '-o', 'json']);
    assert.equal(top.code, 0, top.stderr);
    assertSchema(validTop, JSON.parse(top.stdout));
    const watched = await cli(['top', 'reviews', '--count', '2', '--interval', '200ms', '-o', 'json']);
    assert.equal(watched.code, 0, watched.stderr);
    const frames = watched.stdout.trim().split('\n').map((l) => JSON.parse(l) as TopSnapshot);
    assert.equal(frames.length, 2, 'two NDJSON snapshots');
    frames.forEach((f) => assertSchema(validTop, f));
    assert.equal(await topUntilInterrupted(), 130, 'top --watch ends with 130 on Ctrl-C');
    const nowhere = await cli(['top', 'details']);
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.stderr, /No service of the mesh is named "details" \(services: productpage, reviews\)/);
  });

  it('after an apply that did not reach one sidecar, that sidecar is STALE and proxy-status exits 1 until it catches up', async () => {
    await h.apply(bookinfoPolicy({ weights: [50, 50] }), { skip: ['reviews-v2-0'] });
    assert.equal(h.revision, 2);
    const report = await readProxyStatus({ timeoutMs: 10_000 });
    assert.deepEqual(report.proxies.map((p) => [p.name, p.status, p.revision]), [
      ['bookinfo-gateway', 'SYNCED', 2],
      ['productpage-0', 'SYNCED', 2],
      ['reviews-v1-0', 'SYNCED', 2],
      ['reviews-v2-0', 'STALE', 1],
    ]);
    assert.equal(report.ok, false);
    const health = (await snapshot('reviews-v2-0', ['health'])).health!;
    assert.equal(health.config.status, 'STALE');
    assert.equal(health.config.served, '1');
    assert.equal(health.config.applied, '2');

    const text = await cli(['proxy-status', '--proxy-timeout', '10s']);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /reviews-v2-0\s+default\s+sidecar\s+haproxy\s+1\s+STALE\s/);
    assert.match(text.stdout, /- reviews-v2-0: it serves revision 1, not 2\./);
    const short = await cli(['proxy-status', '--wait', '--timeout', '1s', '--proxy-timeout', '10s']);
    assert.equal(short.code, 1, 'a wait that times out exits 1');
    assert.match(short.stderr, /waiting: 3\/4 SYNCED, 1 STALE/);

    // A wait that is running while the last sidecar catches up ends with exit 0.
    let begun: () => void = () => {};
    const waitBegun = new Promise<void>((resolve) => { begun = resolve; });
    const waiting = meshctlAsync(['proxy-status', '--wait', '--timeout', '60s', '--proxy-timeout', '10s', '-o', 'json', '--home', h.home], {
      timeoutMs: 60_000,
      onStderr: (soFar) => { if (soFar.includes('waiting: 3/4 SYNCED')) begun(); },
    });
    // The wait has seen the stale sidecar (or ended, which the assertions below catch) before it catches up.
    await Promise.race([waitBegun, waiting]);
    await h.apply(bookinfoPolicy({ weights: [50, 50] }));
    const waited = await waiting;
    assert.equal(waited.code, 0, waited.stdout + waited.stderr);
    assert.match(waited.stderr, /waiting: 3\/4 SYNCED, 1 STALE/, 'the wait began before the sidecar caught up');
    const final = JSON.parse(waited.stdout) as ProxyStatusReport;
    assert.ok(final.proxies.every((p) => p.status === 'SYNCED' && p.revision === 3));
  });

  it('an endpoint whose app stopped is down for its callers, and its 503s count against the success rate', async () => {
    await h.stopApp('reviews-v1-0');
    // The sidecar of reviews-v1-0 notices within its health check's interval (1 s, two failures).
    const endpoints = await waitFor('reviews-v1-0 to be down for productpage', async () => {
      const list = (await snapshot('productpage-0', ['endpoints'])).endpoints!;
      // Down because its own sidecar reports it not ready (not merely slow to answer on a busy machine).
      const v1 = list.filter((e) => e.hostname === 'reviews-v1-0');
      return v1.length && v1.every((e) => e.health === 'down' && e.edsHealthStatus === 'UNHEALTHY') ? list : undefined;
    }, { timeoutMs: 15_000, intervalMs: 250 });
    const v1 = endpoints.find((e: Endpoint) => e.hostname === 'reviews-v1-0')!;
    assert.equal(v1.edsHealthStatus, 'UNHEALTHY');
    assert.match(v1.flags.join(' '), /pod reviews-v1-0 is not ready/);
    assert.ok(endpoints.filter((e) => e.hostname === 'reviews-v2-0').every((e) => e.health === 'healthy'));

    const own = (await snapshot('reviews-v1-0', ['health', 'endpoints']));
    assert.equal(own.health?.ready, false);
    assert.match(own.health!.reason, /app does not answer its health check/);
    assert.equal(own.endpoints!.find((e) => e.cluster === 'inbound_app')?.health, 'failing_health_check');

    const before = upstream((await snapshot('productpage-0', ['stats'])).stats!, 'v1');
    const answers = await fromProductpage(10, '/api/v1/ratings');
    assert.ok(answers.every((a) => a.status === 503), answers.map((a) => a.status).join(','));
    const after = upstream(await statsWhen('productpage-0', (s) => upstream(s, 'v1').requests === before.requests! + 10), 'v1');
    assert.equal(after.responses['5xx'], before.responses['5xx']! + 10);
    assert.ok((after.successRate ?? 100) < 100);

    const status = await readProxyStatus({ timeoutMs: 10_000 });
    const row = status.proxies.find((p) => p.name === 'reviews-v1-0')!;
    assert.equal(row.ready, false);
    assert.match(row.problem ?? '', /its app does not answer on 127\.0\.0\.1:\d+/);
    assert.equal((await cli(['proxy-status', '--proxy-timeout', '10s'])).code, 1);
  });

  it('a proxy that does not answer is marked in its row while the others report; inspect names its socket and exits 3', async () => {
    await h.stopProxy('reviews-v2-0');
    const report = await readProxyStatus({ timeoutMs: 10_000 });
    const row = report.proxies.find((p) => p.name === 'reviews-v2-0')!;
    assert.equal(row.status, 'UNREACHABLE');
    assert.equal(row.reachable, false);
    assert.equal(row.ready, null);
    assert.match(row.problem ?? '', new RegExp(`no answer on its admin port 127\\.0\\.0\\.1:${h.pod('reviews-v2-0').ports.admin} \\(ECONNREFUSED\\)`));
    assert.equal(row.certificate?.source, 'file', 'the certificate still comes from the file');
    for (const name of ['bookinfo-gateway', 'productpage-0']) assert.equal(report.proxies.find((p) => p.name === name)?.status, 'SYNCED');

    const json = await cli(['proxy-status', '--proxy-timeout', '10s', '-o', 'json']);
    assert.equal(json.code, 1);
    const doc = JSON.parse(json.stdout) as ProxyStatusReport;
    assertSchema(validStatus, doc);
    assert.equal(doc.summary.unreachable, 1);
    const text = await cli(['proxy-status', '--proxy-timeout', '10s']);
    assert.match(text.stdout, /reviews-v2-0\s+default\s+sidecar\s+haproxy\s+-\s+UNREACHABLE\s+-/);
    assert.match(text.stdout, /productpage-0\s+default\s+sidecar\s+haproxy\s+3\s+SYNCED\s/);

    const inspect = await cli(['inspect', 'pod', 'reviews-v2-0']);
    assert.equal(inspect.code, 3);
    assert.equal(inspect.stderr.trim().split('\n').length, 1, inspect.stderr);
    assert.ok(inspect.stderr.includes(h.pod('reviews-v2-0').paths.runtimeSocket), inspect.stderr);

    // Its callers see it down too.
    const endpoints = (await snapshot('productpage-0', ['endpoints'])).endpoints!;
    const v2 = endpoints.find((e) => e.hostname === 'reviews-v2-0')!;
    assert.equal(v2.health, 'down');
    assert.match(v2.flags.join(' '), /sidecar of pod reviews-v2-0 does not answer/);
  });
});
