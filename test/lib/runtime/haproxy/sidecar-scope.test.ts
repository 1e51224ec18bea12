// The compiler and Istio's Sidecar resource: a sidecar is compiled from the hosts its Sidecar's egress
// scope imports, answers hosts outside it per outboundTrafficPolicy, and a change to a host outside its
// scope leaves its configuration byte for byte as it was.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { loadSources } from '../../../../src/lib/policy/load.js';
import { buildMeshModel, desiredPods } from '../../../../src/lib/policy/mesh-model.js';
import { proxyPaths, type MeshPod } from '../../../../src/lib/runtime/haproxy/types.js';
import { compileMesh } from '../../../../src/lib/runtime/haproxy/compiler.js';
import { createMeshCa, issueWorkloadCertificate, writeWorkloadCertificate } from '../../../../src/lib/mesh/ca.js';
import { checkConfig, findHaproxy } from '../../../../src/lib/runtime/haproxy/binary.js';
import { scopedPolicy } from '../../../support/sidecar-scope-policy.js';
import { routeMapTexts } from '../../../../src/lib/runtime/haproxy/route-state.js';

function model(text: string) {
  const { resources } = loadSources([{ path: 'mesh.yaml', text, format: 'yaml', size: text.length }], { defaultNamespace: 'default' });
  return buildMeshModel(resources);
}

describe('compiler: Sidecar egress scope', () => {
  let dir: string;
  let pods: MeshPod[];
  let bin: string;

  before(async () => {
    bin = (await findHaproxy()).path;
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-scope-'));
    const ca = await createMeshCa();
    let port = 31000;
    pods = desiredPods(model(scopedPolicy())).map((p) => ({ ...p, ports: { app: port++, inbound: port++, outbound: port++, admin: port++ }, paths: proxyPaths(path.join(dir, p.name)) }));
    for (const p of pods) await writeWorkloadCertificate(await issueWorkloadCertificate(ca, { namespace: p.namespace, serviceAccount: p.serviceAccount }), ca, p.paths);
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const compile = (text: string, revision = 1) => compileMesh(model(text), { pods }, { revision });
  const sidecarOf = (compiled: ReturnType<typeof compile>, name: string) => compiled.sidecars.find((s) => s.name === `${name}-0`)!;

  async function assertHaproxyAccepts(proxy: ReturnType<typeof sidecarOf>) {
    await fs.writeFile(proxy.paths.lua, proxy.lua);
    for (const [file, text] of routeMapTexts(proxy.paths.dir, proxy.runtimeState!)) await fs.writeFile(file, text);
    await fs.writeFile(proxy.paths.config, proxy.config);
    assert.equal(await checkConfig(bin, proxy.paths.config), null, proxy.config);
  }

  it('compiles only the routes of hosts in the egress scope into the selected sidecar', async () => {
    const compiled = compile(scopedPolicy());
    const frontend = sidecarOf(compiled, 'frontend');
    assert.deepEqual(frontend.routes.map((r) => r.id), ['vs:default:reviews:all']);
    assert.doesNotMatch(frontend.config, /ratings/);
    // The pod without a Sidecar knows every host.
    assert.deepEqual(sidecarOf(compiled, 'client').routes.map((r) => r.id), ['vs:default:ratings:all', 'vs:default:reviews:all']);
    await assertHaproxyAccepts(frontend);
  });

  it('leaves the scoped sidecar byte-identical when a VirtualService outside its scope changes', () => {
    const before = compile(scopedPolicy({ ratingsTimeout: '5s' }), 1);
    const after = compile(scopedPolicy({ ratingsTimeout: '250ms' }), 2);
    assert.equal(sidecarOf(after, 'frontend').config, sidecarOf(before, 'frontend').config);
    assert.equal(sidecarOf(after, 'frontend').structureHash, sidecarOf(before, 'frontend').structureHash);
    // The change does reach the sidecars that know ratings (a new timeout is a runtime value).
    assert.notDeepEqual(sidecarOf(after, 'client').runtimeState, sidecarOf(before, 'client').runtimeState);
    // Compiled against the mesh it follows, the scoped sidecar is carried over as it was (what the mesh's
    // push leaves alone), the client's is new.
    const carried = compileMesh(model(scopedPolicy({ ratingsTimeout: '250ms' })), { pods }, { revision: 2 }, before);
    assert.equal(sidecarOf(carried, 'frontend'), sidecarOf(before, 'frontend'));
    assert.notEqual(sidecarOf(carried, 'client'), sidecarOf(before, 'client'));
    // Adding or removing an out-of-scope Service or VirtualService leaves it alone too.
    const withoutRatingsVs = scopedPolicy().replace(/apiVersion: networking.istio.io\/v1\nkind: VirtualService\nmetadata: \{ name: ratings[^]*?---/, '');
    assert.doesNotMatch(withoutRatingsVs, /name: ratings, namespace: default \}\nspec: \{ hosts/);
    assert.equal(sidecarOf(compile(withoutRatingsVs), 'frontend').config, sidecarOf(before, 'frontend').config);
  });

  it('answers a host outside the registry 502 with flag NR under REGISTRY_ONLY, and keeps the 404 of no route otherwise', async () => {
    const strict = sidecarOf(compile(scopedPolicy({ mode: 'REGISTRY_ONLY' })), 'frontend');
    const lines = strict.config.split('\n').map((l) => l.trim());
    const registry = lines.indexOf('acl in_registry var(txn.host) -m str reviews.default.svc.cluster.local reviews.default.svc reviews.default reviews');
    assert.ok(registry > 0, strict.config);
    assert.ok(lines.includes('http-request set-var(txn.response_flags) str(NR) unless in_registry'));
    const blocked = lines.findIndex((l) => l.startsWith('http-request return status 502') && l.endsWith('unless in_registry'));
    assert.ok(blocked > registry);
    assert.match(lines[blocked]!, /is not in the egress hosts of Sidecar default\/frontend-egress/);
    // Before any route is chosen.
    assert.ok(blocked < lines.findIndex((l) => l.startsWith('http-request set-var(txn.route)')));
    await assertHaproxyAccepts(strict);
    for (const open of [sidecarOf(compile(scopedPolicy({ mode: 'ALLOW_ANY' })), 'frontend'), sidecarOf(compile(scopedPolicy()), 'frontend'), sidecarOf(compile(scopedPolicy({ mode: 'REGISTRY_ONLY' })), 'client')]) {
      assert.doesNotMatch(open.config, /in_registry|egress hosts/);
      assert.match(open.config, /no route to host/);
    }
  });

  it('blocks every host under REGISTRY_ONLY with ~/* and leaves a sidecar without a Sidecar as before', async () => {
    const closed = scopedPolicy({ mode: 'REGISTRY_ONLY' }).replace('["./reviews.default.svc.cluster.local"]', '["~/*"]');
    const frontend = sidecarOf(compile(closed), 'frontend');
    assert.deepEqual(frontend.routes, []);
    assert.match(frontend.config, /acl in_registry always_false/);
    await assertHaproxyAccepts(frontend);
    // The client's sidecar is the same whether frontend has a Sidecar or not.
    assert.equal(sidecarOf(compile(scopedPolicy()), 'client').config, sidecarOf(compile(scopedPolicy({ sidecar: false })), 'client').config);
  });
});
