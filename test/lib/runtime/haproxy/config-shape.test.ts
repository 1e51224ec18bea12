// Configuration shapes: sidecars that differ only in their own names, ports, paths and identity share a
// shape and are checked by `haproxy -c` once, a policy of one workload gives its sidecar a shape of its
// own, a refusal reused for another proxy names that proxy's own file, and a mesh compiled again keeps
// the compiled form (and revision) of every proxy whose configuration did not change.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { loadSources } from '../../../../src/lib/policy/load.js';
import { buildMeshModel, desiredPods } from '../../../../src/lib/policy/mesh-model.js';
import { proxyPaths, type CompiledProxy, type MeshPod } from '../../../../src/lib/runtime/haproxy/types.js';
import { compileMesh } from '../../../../src/lib/runtime/haproxy/compiler.js';
import { createMeshCa, issueWorkloadCertificate, writeWorkloadCertificate } from '../../../../src/lib/mesh/ca.js';
import { checkConfig, configCheckCounts, findHaproxy, SHAPE_LINE_PREFIX } from '../../../../src/lib/runtime/haproxy/binary.js';
import { serviceYaml, workloadYaml } from '../../../support/policy-yaml.js';
import { routeMapTexts } from '../../../../src/lib/runtime/haproxy/route-state.js';

function model(text: string) {
  const { resources } = loadSources([{ path: 'mesh.yaml', text, format: 'yaml', size: text.length }], { defaultNamespace: 'default' });
  return buildMeshModel(resources);
}

const MESH = [0, 1, 2].map((i) => workloadYaml({ name: `w${i}`, labels: `app: w${i}`, serviceAccount: `w${i}` }) + serviceYaml(`w${i}`)).join('');
const W1_POLICY = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: w1-callers, namespace: default }
spec:
  selector: { matchLabels: { app: w1 } }
  action: ALLOW
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/w0"] } }] }]
`;

const shapeOf = (p: CompiledProxy) => p.config.split('\n').find((l) => l.startsWith(SHAPE_LINE_PREFIX));

describe('configuration shapes', () => {
  let dir: string;
  let pods: MeshPod[];
  let bin: string;

  before(async () => {
    bin = (await findHaproxy()).path;
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-shape-'));
    const ca = await createMeshCa();
    let port = 31000;
    pods = desiredPods(model(MESH)).map((p) => ({ ...p, ports: { app: port++, inbound: port++, outbound: port++, admin: port++ }, paths: proxyPaths(path.join(dir, p.name)) }));
    for (const p of pods) await writeWorkloadCertificate(await issueWorkloadCertificate(ca, { namespace: p.namespace, serviceAccount: p.serviceAccount }), ca, p.paths);
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function write(p: CompiledProxy, config = p.config): Promise<string> {
    await fs.writeFile(p.paths.lua, p.lua);
    for (const [file, text] of routeMapTexts(p.paths.dir, p.runtimeState!)) await fs.writeFile(file, text);
    await fs.writeFile(p.paths.config, config);
    return p.paths.config;
  }

  it('sidecars of one shape are checked once; a policy of one workload gives its sidecar a shape of its own', async () => {
    const plain = compileMesh(model(MESH), { pods }, { revision: 1 });
    assert.equal(new Set(plain.sidecars.map(shapeOf)).size, 1, 'the three sidecars differ only in their own parts');
    const before = configCheckCounts();
    for (const p of plain.sidecars) assert.equal(await checkConfig(bin, await write(p)), null);
    const after = configCheckCounts();
    assert.deepEqual({ run: after.run - before.run, reused: after.reused - before.reused }, { run: 1, reused: 2 });

    const policed = compileMesh(model(MESH + W1_POLICY), { pods }, { revision: 2 });
    const shapes = policed.sidecars.map(shapeOf);
    assert.equal(shapes[0], shapes[2]);
    assert.notEqual(shapes[1], shapes[0], "w1's authorization rules are its own");
  });

  it('a refusal taken from a proxy of the same shape names the proxy\'s own file', async () => {
    const compiled = compileMesh(model(MESH), { pods }, { revision: 1 });
    // The same mistake in two sidecars of one shape (a shape no other check has seen).
    const broken = (p: CompiledProxy) => p.config.replace(SHAPE_LINE_PREFIX, `${SHAPE_LINE_PREFIX}refused-`).replace('\ndefaults', '\n  no-such-keyword on\ndefaults');
    const before = configCheckCounts();
    const [first, second] = await Promise.all(compiled.sidecars.slice(0, 2).map(async (p) => checkConfig(bin, await write(p, broken(p)))));
    const after = configCheckCounts();
    assert.deepEqual({ run: after.run - before.run, reused: after.reused - before.reused }, { run: 1, reused: 1 });
    assert.match(first ?? '', /no-such-keyword/);
    assert.ok(first!.includes(compiled.sidecars[0]!.paths.config), first!);
    assert.ok(second!.includes(compiled.sidecars[1]!.paths.config), second!);
    assert.ok(!second!.includes(compiled.sidecars[0]!.paths.dir), second!);
  });

  it('compiled again, a proxy whose configuration did not change keeps its compiled form and revision', () => {
    const first = compileMesh(model(MESH), { pods }, { revision: 1 });
    const second = compileMesh(model(MESH + W1_POLICY), { pods }, { revision: 2 }, first);
    assert.deepEqual(second.sidecars.map((s) => [s.name, s.revision]), [['w0-0', 1], ['w1-0', 2], ['w2-0', 1]]);
    assert.equal(second.sidecars[0], first.sidecars[0]);
    assert.equal(second.revision, 2);
  });
});
