// Live: updating running proxies under a steady load — weights through the runtime API, other
// changes through a hitless reload — without a single failed request; and stopping them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { promises as fs } from 'node:fs';
import { startTestMesh, type EchoAnswer, type TestMesh } from '../../../support/mesh.js';
import { bookinfoPolicy } from '../../../support/bookinfo-policy.js';
import { answered, portClosed, request, steadyLoad, type HttpAnswer } from '../../../support/net.js';
import { readRouteWeights } from '../../../../src/lib/runtime/haproxy/weights.js';
import { RuntimeApi } from '../../../../src/lib/runtime/haproxy/runtime-api.js';
import { proxyStatus, stopProxy } from '../../../../src/lib/runtime/haproxy/apply.js';
import { isRunning, waitFor } from '../../../../src/lib/system/processes.js';
import { readPidFile, type HandOverRecord } from '../../../../src/lib/system/pid-file.js';
import { servedRevision } from '../../../../src/lib/runtime/haproxy/admin.js';
import { HaproxyAdapter } from '../../../../src/lib/runtime/haproxy/inspect.js';

const RPS = 200;
const LOAD_MS = 3000;

describe('applying configs to running proxies (live HAProxy on loopback)', { timeout: 180_000 }, () => {
  let mesh: TestMesh;
  let agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

  before(async () => {
    mesh = await startTestMesh(bookinfoPolicy({ weights: [80, 20] }), { gateways: ['bookinfo-gateway'] });
  });
  after(async () => {
    agent.destroy();
    await mesh?.stop();
  });

  const send = (): Promise<HttpAnswer> => request({ port: mesh.pod('productpage-0').ports.outbound, path: '/load', headers: { host: 'reviews' }, agent });
  const version = (a: HttpAnswer) => (a.status === 200 ? (JSON.parse(a.body) as EchoAnswer).version : `status-${a.status}`);
  const everyProxy = () => [...mesh.pods, ...mesh.gateways];

  it('splits a weighted route exactly: 80/20 over 100 requests in a row, then 30/70 once the runtime API sets it', async () => {
    const countVersions = async (n: number) => {
      const counts = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const v = version(await send());
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
      return Object.fromEntries([...counts].sort());
    };
    assert.deepEqual(await countVersions(100), { v1: 80, v2: 20 });
    // Any 5 in a row hold 4 of v1 and 1 of v2: the split comes without bursts.
    assert.deepEqual(await countVersions(5), { v1: 4, v2: 1 });
    const api = new RuntimeApi(mesh.pod('productpage-0').paths.runtimeSocket);
    await api.setRouteWeights([{ id: 'vs:default:reviews:split', weights: [30, 70] }]);
    try {
      assert.deepEqual(await countVersions(100), { v1: 30, v2: 70 });
    } finally {
      await api.setRouteWeights([{ id: 'vs:default:reviews:split', weights: [80, 20] }]);
    }
    assert.deepEqual(await countVersions(100), { v1: 80, v2: 20 });
  });

  it('changes weights through the runtime API under 200 rps: no reload, no failed request, every proxy serves them', async () => {
    const pidsBefore = await Promise.all(everyProxy().map(async (t) => (await proxyStatus(t)).pid));
    let results: Awaited<ReturnType<TestMesh['apply']>> | undefined;
    const load = await steadyLoad({
      rps: RPS,
      durationMs: LOAD_MS,
      send,
      key: version,
      during: async (progress) => {
        // A third of the load answered first: the change lands while requests flow.
        await answered(progress, Math.round((RPS * LOAD_MS) / 3000));
        results = await mesh.apply(bookinfoPolicy({ weights: [0, 100] }));
      },
    });
    assert.deepEqual(load.failures, []);
    assert.equal(load.ok, load.sent);
    assert.ok(results);
    for (const [name, r] of results) {
      assert.ok(r.action === 'runtime' || r.action === 'unchanged', `${name}: ${r.action}`);
      assert.equal(r.revision, 2);
    }
    assert.equal(results.get('productpage-0')?.action, 'runtime');
    assert.equal(results.get('bookinfo-gateway')?.action, 'runtime');
    // The same processes: nothing was reloaded.
    assert.deepEqual(await Promise.all(everyProxy().map(async (t) => (await proxyStatus(t)).pid)), pidsBefore);
    for (const t of everyProxy()) assert.equal(await servedRevision(t.ports.admin), 2, t.name);
    // The shifter reads weights back by host and subset.
    const served = await readRouteWeights(mesh.pod('productpage-0'));
    assert.equal(served.revision, 2);
    const split = served.routes.find((r) => r.routeId === 'vs:default:reviews:split');
    assert.deepEqual(split?.destinations.map((d) => [d.subset, d.weight]), [['v1', 0], ['v2', 100]]);
    // Both versions served during the load; after the apply everything goes to v2.
    assert.ok((load.byKey.get('v1') ?? 0) > 0 && (load.byKey.get('v2') ?? 0) > 0, JSON.stringify([...load.byKey]));
    for (let i = 0; i < 50; i++) assert.equal(version(await send()), 'v2');
  });

  it('reloads for a structural change under 200 rps: a new process on the same listeners, no failed request, the old one gone', async () => {
    const target = mesh.pod('productpage-0');
    const before = await readPidFile<HandOverRecord>(target.paths.pid);
    assert.ok(before);
    const socketsBefore = await Promise.all([target.paths.runtimeSocket, target.paths.inboundTlsSocket].map(async (s) => (await fs.stat(s).catch(() => null))?.ino ?? null));
    const extra = `  - name: canary-header
    match: [{ headers: { x-canary: { prefix: "yes" } } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
`;
    let results: Awaited<ReturnType<TestMesh['apply']>> | undefined;
    const load = await steadyLoad({
      rps: RPS,
      durationMs: LOAD_MS,
      send,
      key: version,
      during: async (progress) => {
        // A third of the load answered first: the change lands while requests flow.
        await answered(progress, Math.round((RPS * LOAD_MS) / 3000));
        results = await mesh.apply(bookinfoPolicy({ weights: [0, 100], extraRoutes: extra }));
      },
    });
    assert.deepEqual(load.failures, []);
    assert.equal(load.ok, load.sent);
    assert.equal(results?.get('productpage-0')?.action, 'reloaded');
    assert.equal(results?.get('reviews-v1-0')?.action, 'reloaded');
    // A keep-alive connection opened before the reload stays with the old process until it closes (as an
    // Envoy listener drains), so what the new configuration serves is asked on new connections.
    agent.destroy();
    agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const after = await readPidFile<HandOverRecord>(target.paths.pid);
    assert.ok(after);
    assert.notEqual(after.pid, before.pid);
    assert.equal(results?.get('productpage-0')?.pid, after.pid);
    assert.equal(after.reloads, (before.reloads ?? 0) + 1);
    assert.equal(after.startedAt, before.startedAt);
    assert.equal((await proxyStatus(target)).pid, after.pid);
    // inspect tells the reload, and the uptime since the first start.
    const health = await new HaproxyAdapter({ ...target, kind: 'sidecar' }).health();
    assert.match(health.reason, new RegExp(`reloaded ${after.reloads} times? since it started\\.$`));
    assert.ok((health.uptimeSeconds ?? -1) >= Math.floor((Date.now() - Date.parse(before.startedAt ?? '')) / 1000) - 1, String(health.uptimeSeconds));
    // Its connections closed, the process the reload replaced leaves (`hard-stop-after 30s` bounds it).
    assert.ok(await waitFor(() => !isRunning(before), 40_000), `the replaced process ${before.pid} still runs`);
    // The sockets were handed over, not bound again.
    assert.deepEqual(await Promise.all([target.paths.runtimeSocket, target.paths.inboundTlsSocket].map(async (s) => (await fs.stat(s).catch(() => null))?.ino ?? null)), socketsBefore);
    const canary = await request({ port: target.ports.outbound, path: '/c', headers: { host: 'reviews', 'x-canary': 'yes-please' }, agent });
    assert.equal(version(canary), 'v1');
    assert.equal(version(await send()), 'v2');
    for (const t of everyProxy()) assert.equal(await servedRevision(t.ports.admin), 3, t.name);
  });

  it('answers the runtime API: show info, show stat, show servers state, server weights', async () => {
    const api = new RuntimeApi(mesh.pod('productpage-0').paths.runtimeSocket);
    assert.equal(version(await send()), 'v2');
    const info = await api.showInfo();
    assert.match(info.Version, /^2\.\d+/);
    assert.equal(info.node, 'productpage-0');
    const stat = await api.showStat();
    const backend = stat.find((r) => r.proxy === 'vs:default:reviews:split:1' && r.type === 'backend');
    assert.ok(backend && Number(backend.fields.stot) > 0);
    const state = await api.showServersState('vs:default:reviews:split:1');
    assert.deepEqual(state.map((s) => s.server), ['reviews-v2-0']);
    await api.setServerWeight('vs:default:reviews:split:1', 'reviews-v2-0', 5);
    assert.deepEqual(await api.getServerWeight('vs:default:reviews:split:1', 'reviews-v2-0'), { current: 5, initial: 1 });
    await api.setServerWeight('vs:default:reviews:split:1', 'reviews-v2-0', 1);
    await assert.rejects(api.setRouteWeights([{ id: 'vs:default:reviews:split', weights: [1] }]), /2 destinations, got 1/);
  });

  it('stops a proxy with its whole process group and frees its ports', async () => {
    const target = mesh.pod('reviews-v1-0');
    const status = await proxyStatus(target);
    assert.ok(status.running && status.pid);
    assert.equal(await stopProxy(target), true);
    assert.equal(isRunning(status.pid), false, `pid ${status.pid} still runs`);
    assert.equal(await portClosed(target.ports.inbound), true);
    assert.equal(await portClosed(target.ports.admin), true);
    assert.deepEqual(await proxyStatus(target), { running: false, pid: null, revision: null, ready: false });
  });
});
