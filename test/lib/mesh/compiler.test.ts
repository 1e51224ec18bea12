// The compiler: Istio policy → HAProxy configs that HAProxy accepts, with weights kept out of the
// configuration text so that a weight change never needs a reload.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { loadSources } from '../../../src/lib/policy/load.js';
import {
  buildMeshModel, canonicalHost, desiredPods, hostAliases, mtlsModeOf, podEnvironment, proxyPaths, type MeshGatewayProxy, type MeshPod,
} from '../../../src/lib/mesh/model.js';
import { compileMesh } from '../../../src/lib/mesh/compiler.js';
import { createMeshCa, issueWorkloadCertificate, writeWorkloadCertificate } from '../../../src/lib/mesh/ca.js';
import { checkConfig, findHaproxy } from '../../../src/lib/runtime/haproxy/binary.js';
import { bookinfoPolicy } from '../../support/bookinfo-policy.js';

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

  it('resolves host names as Kubernetes DNS does', () => {
    const ns = new Set(['default', 'shop']);
    assert.equal(canonicalHost('reviews', 'shop', ns), 'reviews.shop.svc.cluster.local');
    assert.equal(canonicalHost('Reviews.default', 'shop', ns), 'reviews.default.svc.cluster.local');
    assert.equal(canonicalHost('reviews.default.svc', 'shop', ns), 'reviews.default.svc.cluster.local');
    assert.equal(canonicalHost('example.com', 'shop', ns), 'example.com');
    assert.deepEqual(hostAliases('reviews.shop.svc.cluster.local', 'shop'), ['reviews.shop.svc.cluster.local', 'reviews.shop.svc', 'reviews.shop', 'reviews']);
    assert.deepEqual(hostAliases('reviews.shop.svc.cluster.local', 'default'), ['reviews.shop.svc.cluster.local', 'reviews.shop.svc', 'reviews.shop']);
  });

  it('picks the mTLS mode: workload PeerAuthentication, then namespace, then mesh-wide, else STRICT', () => {
    const pa = (name: string, ns: string, mode: string, selector = '') => `---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: ${name}, namespace: ${ns} }\nspec: { ${selector}mtls: { mode: ${mode} } }\n`;
    const pod = { namespace: 'default', labels: { app: 'reviews' } };
    assert.equal(mtlsModeOf(model(''), pod), 'STRICT');
    assert.equal(mtlsModeOf(model(pa('mesh', 'istio-system', 'PERMISSIVE')), pod), 'PERMISSIVE');
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
