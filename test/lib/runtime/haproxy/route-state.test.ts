// Route values that change at run time: a VirtualService's route timeout and header value reach every sidecar of a
// 20-pod mesh through the runtime API (route maps), under a steady load, with no reload and no failed
// request, and the new deadline is the one served; a change that needs a reload still loses nothing.
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { meshForSuite, type EchoAnswer } from '../../../support/mesh.js';
import { answered, request, steadyLoad, type HttpAnswer } from '../../../support/net.js';
import { serviceYaml, workloadYaml } from '../../../support/policy-yaml.js';
import { RuntimeApi } from '../../../../src/lib/runtime/haproxy/runtime-api.js';
import { proxyStatus } from '../../../../src/lib/runtime/haproxy/apply.js';
import { parseRouteMap, renderRouteMap, ROUTE_MAP_NAMES, routeMapFile, routeStateCommands } from '../../../../src/lib/runtime/haproxy/route-state.js';
import { servedRevision } from '../../../../src/lib/runtime/haproxy/admin.js';
import { loadSources } from '../../../../src/lib/policy/load.js';
import { buildMeshModel, desiredPods } from '../../../../src/lib/policy/mesh-model.js';
import { compileMesh } from '../../../../src/lib/runtime/haproxy/compiler.js';
import { proxyPaths } from '../../../../src/lib/runtime/haproxy/types.js';

test('route state changes become set, add and del map commands, one per changed route value', () => {
  const before = { deadlineMs: { 'vs:default:a:0': 300, 'vs:default:b:0': 100 }, attemptMs: { 'vs:default:a:0': 300 }, headerValues: { 'vs:default:a:0:0/request/set/x-note': 'one' }, faultValues: {}, hostRoutes: {}, routeBackends: {} };
  const after = { deadlineMs: { 'vs:default:a:0': 800, 'vs:default:c:0': 50 }, attemptMs: { 'vs:default:a:0': 300 }, headerValues: { 'vs:default:a:0:0/request/set/x-note': 'two words; one' }, faultValues: {}, hostRoutes: {}, routeBackends: {} };
  assert.deepEqual(routeStateCommands('/m/p 1', before, after), [
    'set map /m/p\\ 1/route-deadline.map vs:default:a:0 800',
    'add map /m/p\\ 1/route-deadline.map vs:default:c:0 50',
    'del map /m/p\\ 1/route-deadline.map vs:default:b:0',
    'set map /m/p\\ 1/route-headers.map vs:default:a:0:0/request/set/x-note two\\ words\\;\\ one',
  ]);
  assert.deepEqual(routeStateCommands('/m/p', after, after), []);
  assert.deepEqual(parseRouteMap(renderRouteMap(after.headerValues)), after.headerValues);
  assert.deepEqual(parseRouteMap('0x55d0c1e0 vs:default:a:0 800\n0x55d0c1f0 vs:default:c:0 50\n'), { 'vs:default:a:0': '800', 'vs:default:c:0': '50' });
});

const TARGETS = 19;
const policy = (timeout: string, extraRoutes = '', note = 'first', abortPercent = 100) => `${workloadYaml({ name: 'caller', labels: 'app: caller', serviceAccount: 'caller' })}
${workloadYaml({ name: 'target', labels: 'app: target', serviceAccount: 'target', replicas: TARGETS })}
${serviceYaml('caller')}
${serviceYaml('target')}
${serviceYaml('faulted', 'target')}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: faulted, namespace: default }
spec:
  hosts: [faulted]
  http:
  - route: [{ destination: { host: faulted } }]
    fault: { abort: { httpStatus: 418, percentage: { value: ${abortPercent} } } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: target, namespace: default }
spec:
  hosts: [target]
  http:
${extraRoutes}  - name: main
    route: [{ destination: { host: target } }]
    timeout: ${timeout}
    headers: { request: { set: { x-route-note: "${note}" } } }
---
`;

test('a new route timeout, header value or fault percentage keeps the structure and changes the runtime state alone; a new route changes the structure', () => {
  const compile = (text: string) => {
    const { resources } = loadSources([{ path: 'mesh.yaml', text, format: 'yaml', size: text.length }], { defaultNamespace: 'default' });
    const model = buildMeshModel(resources);
    let port = 30000;
    const pods = desiredPods(model).map((p) => ({ ...p, ports: { app: port++, inbound: port++, outbound: port++, admin: port++ }, paths: proxyPaths(`pods/${p.name}`) }));
    return compileMesh(model, { pods }, { revision: 1 }).sidecars.find((p) => p.name === 'caller-0')!;
  };
  const [a, b] = [compile(policy('3s')), compile(policy('1s', '', 'another value', 12.5))];
  assert.equal(a.config, b.config);
  assert.equal(a.structureHash, b.structureHash);
  assert.deepEqual([a.runtimeState?.faultValues, b.runtimeState?.faultValues], [{ 'vs:default:faulted:0/abort-cut': 1_000_000 }, { 'vs:default:faulted:0/abort-cut': 125_000 }]);
  assert.deepEqual([a.runtimeState?.deadlineMs['vs:default:target:main'], b.runtimeState?.deadlineMs['vs:default:target:main']], [3000, 1000]);
  assert.notEqual(compile(policy('1s', '  - name: canary\n    match: [{ headers: { x-canary: { exact: "yes" } } }]\n    route: [{ destination: { host: target } }]\n')).structureHash, a.structureHash);
});

const RPS = 100;
const LOAD_MS = 3000;

describe('route timeouts change at run time on a 20-pod mesh (live HAProxy on loopback)', { timeout: 240_000 }, () => {
  const suite = meshForSuite(policy('3s'), 32);
  const caller = () => suite.mesh.pod('caller-0');
  // `fresh`: a new connection, which only the current process accepts (after a reload, the old one
  // still answers the requests of connections it holds, once each).
  const call = (headers: Record<string, string> = {}, fresh = false): Promise<HttpAnswer> =>
    request({ port: caller().ports.outbound, path: '/', headers: { host: 'target', ...headers }, agent: fresh ? false : suite.agent, timeoutMs: 10_000 });
  const timed = async (delayMs: number): Promise<{ status: number; ms: number }> => {
    const started = Date.now();
    const a = await call({ 'x-echo-delay-ms': String(delayMs) });
    return { status: a.status, ms: Date.now() - started };
  };
  /** Applies `text` a third of the way into a steady load on the caller's sidecar; the load runs to its end. */
  async function applyUnderLoad(text: string) {
    let results: Awaited<ReturnType<typeof suite.mesh.apply>> | undefined;
    const load = await steadyLoad({
      rps: RPS,
      durationMs: LOAD_MS,
      send: () => call(),
      during: async (progress) => {
        await answered(progress, Math.round((RPS * LOAD_MS) / 3000));
        results = await suite.mesh.apply(text);
      },
    });
    return { load, results };
  }
  const proxyPids = async () => Promise.all(suite.mesh.pods.map(async (p) => (await proxyStatus(p)).pid));

  it('a new route timeout, header value and fault percentage under a steady load: no reload on any of the 20 sidecars, no failed request, the new values served', async () => {
    assert.equal(suite.mesh.pods.length, 20);
    // Before: a 1.5 s answer is within the 3 s deadline.
    assert.equal((await timed(1500)).status, 200);
    assert.equal((await request({ port: caller().ports.outbound, path: '/', headers: { host: 'faulted' }, agent: suite.agent })).status, 418);
    const pidsBefore = await proxyPids();
    const { load, results } = await applyUnderLoad(policy('1s', '', "it's 100% second; with blanks", 0.0001));
    assert.deepEqual(load.failures, []);
    assert.equal(load.ok, load.sent);
    assert.ok(results);
    for (const [name, r] of results) assert.equal(r.action, 'runtime', name);
    // The same processes (the runtime API's own answer agrees with the pid files).
    assert.deepEqual(await proxyPids(), pidsBefore);
    assert.deepEqual(await Promise.all(suite.mesh.pods.map(async (p) => Number((await new RuntimeApi(p.paths.runtimeSocket).showInfo()).Pid))), pidsBefore);
    for (const p of suite.mesh.pods) assert.equal(await servedRevision(p.ports.admin), 2, p.name);
    // The fault that aborted every request now aborts one in a million.
    for (let i = 0; i < 20; i++) assert.equal((await request({ port: caller().ports.outbound, path: '/', headers: { host: 'faulted' }, agent: suite.agent })).status, 200);
    // The new header value reaches the app.
    const echoed = JSON.parse((await call()).body) as EchoAnswer;
    assert.equal(echoed.headers['x-route-note'], "it's 100% second; with blanks");
    // The new deadline: the same 1.5 s answer is cut at 1 s.
    const cut = await timed(1500);
    assert.equal(cut.status, 504);
    assert.ok(cut.ms >= 950 && cut.ms < 1450, `504 after ${cut.ms} ms`);
  });

  it('serves exactly what a proxy started from its files would: the live route maps equal the files on disk and the compiled state', async () => {
    for (const pod of [caller(), suite.mesh.pod('target-7')]) {
      const compiled = suite.mesh.compiledOf(pod.name);
      assert.equal(await fs.readFile(pod.paths.config, 'utf8'), compiled.config);
      const api = new RuntimeApi(pod.paths.runtimeSocket);
      for (const name of ROUTE_MAP_NAMES) {
        const file = routeMapFile(pod.paths.dir, name);
        const live = parseRouteMap(await api.command(`show map ${file}`));
        assert.deepEqual(live, parseRouteMap(await fs.readFile(file, 'utf8')), `${pod.name} ${name}`);
        assert.deepEqual(live, Object.fromEntries(Object.entries(compiled.runtimeState?.[name] ?? {}).map(([k, v]) => [k, String(v)])), `${pod.name} ${name}`);
      }
      assert.equal(compiled.runtimeState?.deadlineMs['vs:default:target:main'], 1000);
      assert.deepEqual(Object.values(compiled.runtimeState?.headerValues ?? {}), ["it's 100% second; with blanks"]);
    }
  });

  it('a change that adds a route (a reload) under the same load loses no request; the new route has its own deadline', async () => {
    const extra = `  - name: canary
    match: [{ headers: { x-canary: { exact: "yes" } } }]
    route: [{ destination: { host: target } }]
    timeout: 100ms
`;
    // Twenty sidecars reloading at once starve this machine's two cores for seconds; the 1 s
    // deadline would then rightly answer 504 to requests that wait for a starved app. A generous
    // deadline first (a runtime change) keeps this test about lost requests.
    assert.equal((await suite.mesh.apply(policy('10s', '', "it's 100% second; with blanks", 0.0001))).get('caller-0')?.action, 'runtime');
    const before = await proxyPids();
    const { load, results } = await applyUnderLoad(policy('10s', extra, "it's 100% second; with blanks", 0.0001));
    assert.deepEqual(load.failures, []);
    assert.equal(load.ok, load.sent);
    assert.equal(results?.get('caller-0')?.action, 'reloaded');
    // A reloaded sidecar runs as its successor process now; the others as before.
    const after = await proxyPids();
    suite.mesh.pods.forEach((p, i) => (results?.get(p.name)?.action === 'reloaded' ? assert.notEqual : assert.equal)(after[i], before[i], p.name));
    assert.equal((await timed(1500)).status, 200);
    assert.equal((await call({ 'x-canary': 'yes', 'x-echo-delay-ms': '400' }, true)).status, 504);
  });
});
