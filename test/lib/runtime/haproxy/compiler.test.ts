// The compiler: Istio policy → HAProxy configs that HAProxy accepts, with weights kept out of the
// configuration text so that a weight change never needs a reload.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { loadSources } from '../../../../src/lib/policy/load.js';
import { buildMeshModel, desiredPods, mtlsModeOf } from '../../../../src/lib/policy/mesh-model.js';
import { podEnvironment } from '../../../../src/lib/mesh/pods.js';
import { proxyPaths, type MeshGatewayProxy, type MeshPod } from '../../../../src/lib/runtime/haproxy/types.js';
import { compileMesh } from '../../../../src/lib/runtime/haproxy/compiler.js';
import { routeMapTexts } from '../../../../src/lib/runtime/haproxy/route-state.js';
import { createMeshCa, issueWorkloadCertificate, writeWorkloadCertificate } from '../../../../src/lib/mesh/ca.js';
import { checkConfig, findHaproxy } from '../../../../src/lib/runtime/haproxy/binary.js';
import { bookinfoPolicy } from '../../../support/bookinfo-policy.js';

function model(text: string) {
  const { resources } = loadSources([{ path: 'mesh.yaml', text, format: 'yaml', size: text.length }], { defaultNamespace: 'default' });
  return buildMeshModel(resources);
}

describe('mesh compiler', () => {
  let dir: string;
  let pods: MeshPod[];
  let gateways: MeshGatewayProxy[];
  let bin: string;

  before(async () => {
    bin = (await findHaproxy()).path;
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-compile-'));
    const ca = await createMeshCa();
    let port = 30000;
    pods = desiredPods(model(bookinfoPolicy())).map((p) => ({ ...p, ports: { app: port++, inbound: port++, outbound: port++, admin: port++ }, paths: proxyPaths(path.join(dir, p.name)) }));
    gateways = [{ name: 'bookinfo-gateway', namespace: 'default', serviceAccount: 'ingress', listeners: { 8080: port++ }, ports: { admin: port++ }, paths: proxyPaths(path.join(dir, 'gw')) }];
    for (const t of [...pods, ...gateways]) {
      await writeWorkloadCertificate(await issueWorkloadCertificate(ca, { namespace: t.namespace, serviceAccount: t.serviceAccount }), ca, t.paths);
    }
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function assertHaproxyAccepts(text: string) {
    const compiled = compileMesh(model(text), { pods, gateways }, { revision: 1 });
    for (const p of [...compiled.sidecars, ...compiled.gateways]) {
      await fs.writeFile(p.paths.lua, p.lua);
      for (const [file, text] of routeMapTexts(p.paths.dir, p.runtimeState!)) await fs.writeFile(file, text);
      await fs.writeFile(p.paths.config, p.config);
      assert.equal(await checkConfig(bin, p.paths.config), null, `${p.name}:\n${p.config}`);
    }
    return compiled;
  }

  it('compiles sidecars and the ingress gateway into configurations HAProxy accepts', async () => {
    const compiled = await assertHaproxyAccepts(bookinfoPolicy());
    assert.deepEqual(compiled.sidecars.map((s) => [s.name, s.mtlsMode]), [['productpage-0', 'PERMISSIVE'], ['reviews-v1-0', 'STRICT'], ['reviews-v2-0', 'STRICT']]);
    const pp = compiled.sidecars[0];
    assert.deepEqual(pp.routes.map((r) => r.id), ['vs:default:reviews:jason', 'vs:default:reviews:api', 'vs:default:reviews:split', 'host:productpage.default.svc.cluster.local']);
    const split = pp.routes.find((r) => r.id === 'vs:default:reviews:split');
    assert.deepEqual(split?.destinations.map((d) => [d.subset, d.weight, d.loadBalancer, d.servers.map((s) => s.pod)]), [
      ['v1', 80, 'LEAST_REQUEST', ['reviews-v1-0']],
      ['v2', 20, 'ROUND_ROBIN', ['reviews-v2-0']],
    ]);
    assert.equal(compiled.gateways[0].routes.length, 2);
  });

  it('keeps weights and the revision out of the configuration text', () => {
    const a = compileMesh(model(bookinfoPolicy({ weights: [80, 20] })), { pods, gateways }, { revision: 1 });
    const b = compileMesh(model(bookinfoPolicy({ weights: [30, 70] })), { pods, gateways }, { revision: 2 });
    for (let i = 0; i < a.sidecars.length; i++) {
      assert.equal(a.sidecars[i].config, b.sidecars[i].config);
      assert.equal(a.sidecars[i].structureHash, b.sidecars[i].structureHash);
    }
    assert.notEqual(a.sidecars[0].lua, b.sidecars[0].lua);
    assert.match(b.sidecars[0].lua, /revision = 2/);
    assert.match(b.sidecars[0].lua, /"vs:default:reviews:split", \{ "vs:default:reviews:split:0", "vs:default:reviews:split:1" \}, \{ 30, 70 \}/);
    const c = compileMesh(model(bookinfoPolicy({ extraRoutes: '  - match: [{ method: { exact: POST } }]\n    route: [{ destination: { host: reviews, subset: v1 } }]\n' })), { pods, gateways }, { revision: 3 });
    assert.notEqual(c.sidecars[0].structureHash, a.sidecars[0].structureHash);
  });

  it('quotes policy text so that no value can break out of its argument', async () => {
    const hostile = `
  - name: hostile
    match: [{ uri: { regex: "/a b/[0-9]+ #x" }, headers: { x-q: { exact: "it's \\"quoted\\" $HOME %[src]" } } }]
    headers: { response: { set: { x-pct: "100% sure; it's" } } }
    directResponse: { status: 418, body: { string: "line one\\nline 'two' # not a comment" } }
`;
    const compiled = await assertHaproxyAccepts(bookinfoPolicy({ extraRoutes: hostile }));
    assert.match(compiled.sidecars[0].config, /return status 418/);
  });

  it('reports policy it cannot enforce, and routes to an undefined subset answer 503', () => {
    const text = bookinfoPolicy().replace('subset: v2 } }]', 'subset: v9 } }]');
    const compiled = compileMesh(model(text), { pods, gateways }, { revision: 1 });
    assert.ok(compiled.notes.some((n) => /subset v9 of reviews is not defined/.test(n)), compiled.notes.join('\n'));
  });

  it('compiles a DestinationRule trafficPolicy (hashing, connection pool, ejection) into the backends, and nothing when absent', async () => {
    const policy = `  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: X-User } }
    connectionPool:
      tcp: { maxConnections: 1, connectTimeout: 250ms }
      http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1, idleTimeout: 2s }
    outlierDetection: { consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 5s }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 }, trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: session, path: /, ttl: 60s } } } } }
`;
    const text = bookinfoPolicy().replace(/  trafficPolicy: \{ loadBalancer: \{ simple: LEAST_REQUEST \} \}\n  subsets:\n.*\n.*\n/, policy);
    assert.notEqual(text, bookinfoPolicy());
    const compiled = await assertHaproxyAccepts(text);
    const config = compiled.sidecars[0].config;
    const backend = (name: string) => config.split('\n\n').find((b) => b.startsWith(`backend ${name}\n`)) ?? '';
    const v1 = backend('vs:default:reviews:split:0');
    assert.match(v1, /balance hdr\(x-user\)\n  hash-type consistent/);
    assert.match(v1, /timeout connect 250\n/);
    assert.match(v1, /http-request return status 503 .* if \{ queue\(\) ge 1 \}/);
    assert.match(v1, /server reviews-v1-0 127\.0\.0\.1:\d+ ssl .* maxconn 1 max-reuse 0 pool-purge-delay 2000 check inter 1000 rise 6 fall 3 observe layer7 error-limit 3 on-error mark-down$/m);
    // The subset replaces the load balancer only: the pool and the ejection still apply.
    const v2 = backend('vs:default:reviews:split:1');
    assert.match(v2, /balance hash var\(txn\.hash_cookie\)/);
    assert.match(v2, /http-response add-header set-cookie "session=%\[var\(txn\.hash_cookie\)\]; Path=\/; Max-Age=60; HttpOnly" if \{ var\(txn\.hash_cookie_new\) -m bool \}/);
    assert.match(v2, /maxconn 1 .*error-limit 3 on-error mark-down$/m);
    // A destination without a trafficPolicy gets no extra rule and no server keyword.
    const plain = compileMesh(model(bookinfoPolicy()), { pods, gateways }, { revision: 1 }).sidecars[0].config;
    assert.doesNotMatch(plain, /maxconn|queue\(\)|observe layer7|hash-type|set-cookie/);
    assert.ok(!compiled.notes.some((n) => /DestinationRule default\/reviews is not enforced/.test(n)), compiled.notes.join('\n'));
  });

  const MIRROR_ROUTES = `  - name: shadowed
    match: [{ headers: { x-shadow: { exact: all } } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
    mirror: { host: reviews, subset: v2 }
  - name: sampled
    match: [{ headers: { x-shadow: { exact: some } } }]
    rewrite: { uri: /sampled }
    route: [{ destination: { host: reviews, subset: v1 }, weight: 50 }, { destination: { host: reviews, subset: v2 }, weight: 50 }]
    mirrors:
    - { destination: { host: reviews, subset: v2 }, percentage: { value: 12.5 } }
    - { destination: { host: productpage } }
  - name: off
    match: [{ headers: { x-shadow: { exact: none } } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
    mirror: { host: reviews, subset: v2 }
    mirrorPercentage: { value: 0 }
`;

  it('reads mirror, mirrorPercentage and mirrors as Istio does (100% when no percentage is given)', () => {
    const vs = model(bookinfoPolicy({ extraRoutes: MIRROR_ROUTES })).virtualServices.find((v) => v.name === 'reviews')!;
    const of = (name: string) => vs.http.find((r) => r.name === name)!.mirrors.map((m) => [m.fqdn, m.subset, m.percent]);
    assert.deepEqual(of('shadowed'), [['reviews.default.svc.cluster.local', 'v2', 100]]);
    assert.deepEqual(of('sampled'), [['reviews.default.svc.cluster.local', 'v2', 12.5], ['productpage.default.svc.cluster.local', '', 100]]);
    assert.deepEqual(of('off'), [['reviews.default.svc.cluster.local', 'v2', 0]]);
    assert.deepEqual(of('split'), []);
  });

  it('compiles mirrors into a mirror listener and backends HAProxy accepts; routes without a mirror get no Lua call', async () => {
    const compiled = await assertHaproxyAccepts(bookinfoPolicy({ extraRoutes: MIRROR_ROUTES }));
    assert.ok(!compiled.notes.some((n) => /mirror/i.test(n)), compiled.notes.join('\n'));
    const pp = compiled.sidecars.find((s) => s.name === 'productpage-0')!;
    const route = (id: string) => pp.routes.find((r) => r.id === `vs:default:reviews:${id}`)!;
    assert.deepEqual(route('shadowed').mirrors?.map((m) => [m.backend, m.host, m.subset, m.percent, m.servers.map((s) => s.pod)]), [
      ['vs:default:reviews:shadowed:mirror:0', 'reviews.default.svc.cluster.local', 'v2', 100, ['reviews-v2-0']],
    ]);
    assert.deepEqual(route('sampled').mirrors?.map((m) => [m.backend, m.percent]), [['vs:default:reviews:sampled:mirror:0', 12.5], ['vs:default:reviews:sampled:mirror:1', 100]]);
    assert.deepEqual(route('off').mirrors, []);
    assert.deepEqual(route('split').mirrors, []);
    // Mirror backends are the pods over mTLS, like every other backend; the listener is a 0600 UNIX socket.
    const section = (name: string) => {
      const text = pp.config.split('\n\n').find((b) => b.split('\n').some((l) => l === `backend ${name}` || l === `frontend ${name}`));
      assert.ok(text, `no section ${name}`);
      return text;
    };
    assert.match(section('vs:default:reviews:shadowed:mirror:0'), /server reviews-v2-0 127\.0\.0\.1:\d+ ssl crt \S+proxy\.pem ca-file \S+ca\.pem verify required/);
    assert.match(section('vs:default:reviews:shadowed:mirror:0'), /set-var\(txn\.dest\) str\("reviews\.default\.svc\.cluster\.local\\tv2"\)/);
    const listener = section('mirror');
    assert.match(listener, new RegExp(`bind unix@${pp.paths.mirrorSocket.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} mode 600`));
    // Its access-log lines name their direction mirror: how readers tell copies from real traffic.
    const logFormat = /^ {2}log-format "(.*)"$/m.exec(listener)?.[1] ?? '';
    assert.equal(logFormat.split('\\t')[6], 'mirror', listener);
    assert.match(listener, /-m str vs:default:reviews:shadowed:mirror:0 vs:default:reviews:sampled:mirror:0 vs:default:reviews:sampled:mirror:1 unless|unless \{ var\(txn\.backend\) -m str vs:default:reviews:shadowed:mirror:0 vs:default:reviews:sampled:mirror:0 vs:default:reviews:sampled:mirror:1 \}/);
    // Every destination backend of a mirrored route ends with the copy: after the rewrite, before the servers.
    const shadowed = section('vs:default:reviews:shadowed:0').split('\n').map((l) => l.trim());
    const lua = shadowed.findIndex((l) => l.startsWith('http-request lua.mesh_mirror'));
    assert.equal(shadowed[lua], `http-request lua.mesh_mirror ${pp.paths.mirrorSocket} vs:default:reviews:shadowed:mirror:0 vs:default:reviews:shadowed`);
    assert.ok(!shadowed.some((l) => l.includes('wait-for-body')), 'no wait-for-body: in HAProxy 2.6 it answers 408 when its time runs out');
    assert.ok(lua < shadowed.findIndex((l) => l.startsWith('server ')));
    for (const b of ['vs:default:reviews:sampled:0', 'vs:default:reviews:sampled:1']) {
      const lines = section(b).split('\n').map((l) => l.trim());
      assert.ok(lines.findIndex((l) => l.startsWith('http-request set-path')) < lines.findIndex((l) => l.startsWith('http-request lua.mesh_mirror')), b);
      assert.ok(lines.includes('http-request set-var(txn.mirror_0) bool(true) if { rand(1000000) lt 125000 }'), b);
      assert.ok(lines.includes(`http-request lua.mesh_mirror ${pp.paths.mirrorSocket} vs:default:reviews:sampled:mirror:0 vs:default:reviews:sampled if { var(txn.mirror_0) -m bool }`), b);
      assert.ok(lines.includes(`http-request lua.mesh_mirror ${pp.paths.mirrorSocket} vs:default:reviews:sampled:mirror:1 vs:default:reviews:sampled`), b);
    }
    for (const b of ['vs:default:reviews:off:0', 'vs:default:reviews:split:0', 'vs:default:reviews:jason:0']) {
      assert.doesNotMatch(section(b), /lua\.|wait-for-body|mirror/, b);
    }
    assert.doesNotMatch(section('outbound'), /lua\.mesh_mirror|wait-for-body/);
    // Without any mirror, no mirror listener at all.
    const plain = compileMesh(model(bookinfoPolicy()), { pods, gateways }, { revision: 1 });
    assert.ok(plain.sidecars.every((s) => !/frontend mirror|mesh_mirror|wait-for-body/.test(s.config)));
  });

  it('an ingress gateway mirrors too, through its own mirror listener', async () => {
    const text = bookinfoPolicy().replace('    rewrite: { uri: / }\n', '    rewrite: { uri: / }\n    mirror: { host: reviews, subset: v2 }\n    mirrorPercentage: { value: 50 }\n');
    assert.notEqual(text, bookinfoPolicy());
    const compiled = await assertHaproxyAccepts(text);
    const gw = compiled.gateways[0];
    const route = gw.routes.find((r) => (r.mirrors ?? []).length)!;
    assert.deepEqual(route.mirrors!.map((m) => [m.subset, m.percent]), [['v2', 50]]);
    assert.match(gw.config, new RegExp(`frontend mirror\\n  bind unix@${gw.paths.mirrorSocket.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} mode 600`));
    assert.match(gw.config, /http-request set-var\(txn\.mirror_0\) bool\(true\) if \{ rand\(1000000\) lt 500000 \}/);
    assert.ok(compiled.sidecars.every((s) => !s.config.includes('frontend mirror')), 'the sidecars route no mirrored route');
  });

  it("resolves a rule's hosts as Istio does: only short names are expanded, in the rule's namespace", () => {
    const m = model(bookinfoPolicy({ extraRoutes: `  - name: dotted
    match: [{ headers: { x-case: { exact: dotted } } }]
    route: [{ destination: { host: reviews.default } }]
  - name: capitals
    match: [{ headers: { x-case: { exact: capitals } } }]
    route: [{ destination: { host: Reviews } }]
` }));
    const reviews = m.virtualServices.find((vs) => vs.name === 'reviews')!;
    assert.deepEqual(reviews.http.slice(0, 2).map((r) => r.route[0]!.fqdn), ['reviews.default', 'reviews.default.svc.cluster.local']);
    assert.deepEqual(m.destinationRules.map((d) => d.fqdn), ['reviews.default.svc.cluster.local']);
  });

  it('picks the mTLS mode: workload PeerAuthentication, then namespace, then mesh-wide, else PERMISSIVE (Istio default)', () => {
    const pa = (name: string, ns: string, mode: string, selector = '') => `---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: ${name}, namespace: ${ns} }\nspec: { ${selector}mtls: { mode: ${mode} } }\n`;
    const pod = { namespace: 'default', labels: { app: 'reviews' } };
    assert.equal(mtlsModeOf(model(''), pod), 'PERMISSIVE');
    assert.equal(mtlsModeOf(model(pa('mesh', 'istio-system', 'STRICT')), pod), 'STRICT');
    assert.equal(mtlsModeOf(model(pa('mesh', 'istio-system', 'PERMISSIVE') + pa('ns', 'default', 'STRICT')), pod), 'STRICT');
    assert.equal(mtlsModeOf(model(pa('ns', 'default', 'STRICT') + pa('wl', 'default', 'DISABLE', 'selector: { matchLabels: { app: reviews } }, ')), pod), 'DISABLE');
  });

  it('gives every pod its name, identity and where to send its calls', () => {
    const pod = pods.find((p) => p.name === 'reviews-v2-0') as MeshPod;
    assert.equal(pod.workload, 'reviews-v2');
    const env = podEnvironment(pod, { GREETING: 'hi' });
    assert.equal(env.PORT, String(pod.ports.app));
    assert.equal(env.MESH_OUTBOUND_URL, `http://127.0.0.1:${pod.ports.outbound}`);
    assert.equal(env.HTTP_PROXY, env.MESH_OUTBOUND_URL);
    assert.equal(env.MESH_SPIFFE_ID, 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews');
    assert.equal(env.GREETING, 'hi');
  });
});
