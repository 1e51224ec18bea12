// Incremental compiles: after every kind of change a mesh goes through, compiling on from the last
// compile gives every proxy exactly what compiling the whole mesh gives (configuration, Lua, routes,
// runtime values, revision, notes), and a sidecar the change does not concern is its last compile.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSources, type Resource } from '../../../../src/lib/policy/load.js';
import { buildMeshModel, desiredPods, type MeshModel } from '../../../../src/lib/policy/mesh-model.js';
import { proxyPaths, type MeshGatewayProxy, type MeshPod } from '../../../../src/lib/runtime/haproxy/types.js';
import { compileMesh, compileSidecar } from '../../../../src/lib/runtime/haproxy/compiler.js';
import { SHAPE_LINE_PREFIX } from '../../../../src/lib/runtime/haproxy/binary.js';

type Doc = Record<string, unknown>;

const workload = (name: string, namespace: string, labels: Record<string, string>, replicas = 1): Doc => ({
  apiVersion: 'meshctl.dev/v1alpha1', kind: 'Workload', metadata: { name, namespace, labels },
  spec: { command: ['node', 'app.js'], port: 9080, replicas, serviceAccount: name },
});
const service = (name: string, namespace: string): Doc => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 9080 }] },
});

/** A mesh of two namespaces, scoped sidecars, a split, subsets and policies: every part a change below touches. */
function initialMesh(): Map<string, Doc> {
  const docs: Doc[] = [
    workload('frontend', 'default', { app: 'frontend' }),
    workload('reviews-v1', 'default', { app: 'reviews', version: 'v1' }),
    workload('reviews-v2', 'default', { app: 'reviews', version: 'v2' }, 2),
    workload('ratings', 'default', { app: 'ratings' }),
    workload('billing', 'finance', { app: 'billing' }),
    workload('ledger', 'finance', { app: 'ledger' }),
    service('frontend', 'default'), service('reviews', 'default'), service('ratings', 'default'),
    service('billing', 'finance'), service('ledger', 'finance'),
    {
      apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'finance' },
      spec: { egress: [{ hosts: ['./*'] }], outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } },
    },
    {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'ratings', namespace: 'default' },
      spec: { hosts: ['ratings'], http: [{ name: 'all', timeout: '5s', retries: { attempts: 2, perTryTimeout: '1s' }, route: [{ destination: { host: 'ratings' } }] }] },
    },
    {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default' },
      spec: { hosts: ['reviews'], http: [{ name: 'split', route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 90 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 10 }] }] },
    },
    {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'ledger', namespace: 'finance' },
      spec: { hosts: ['ledger'], http: [{ name: 'all', timeout: '3s', route: [{ destination: { host: 'ledger' } }] }] },
    },
    {
      apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'default' },
      spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] },
    },
  ];
  return new Map(docs.map((d) => [`${d.kind}/${(d.metadata as Doc).namespace}/${(d.metadata as Doc).name}`, d]));
}

function modelOf(docs: Map<string, Doc>): MeshModel {
  const text = [...docs.values()].map((d) => JSON.stringify(d)).join('\n---\n');
  return buildMeshModel(loadSources([{ path: 'mesh.yaml', text, format: 'yaml', size: text.length }], { defaultNamespace: 'default' }).resources);
}

/** The pods the model asks for; a pod placed before keeps its ports, as the agent's placement does. */
function placed(model: MeshModel, before: MeshPod[], nextPort: { value: number }): MeshPod[] {
  return desiredPods(model).map((p) => {
    const kept = before.find((b) => b.name === p.name);
    const port = () => nextPort.value++;
    return { ...p, ports: kept ? { ...kept.ports } : { app: port(), inbound: port(), mtls: port(), outbound: port(), admin: port() }, paths: proxyPaths(path.join('/meshctl-test-home/pods', p.name)) };
  });
}

describe('compiler: incremental mesh compiles', () => {
  it('gives every proxy the configuration a whole compile gives, through a sequence of changes', () => {
    const docs = initialMesh();
    const nextPort = { value: 40000 };
    let pods = placed(modelOf(docs), [], nextPort);
    let whole = compileMesh(modelOf(docs), { pods }, { revision: 1 });
    let incremental = compileMesh(modelOf(docs), { pods }, { revision: 1 });

    const vs = (key: string) => docs.get(`VirtualService/${key}`)!.spec as { http: Record<string, unknown>[] };
    const changes: [string, () => void, string[]][] = [
      // [what changed, the change, sidecars it must leave as they were]
      ['a route timeout', () => { vs('default/ratings').http[0]!.timeout = '7s'; }, ['billing-0', 'ledger-0']],
      ['a weight', () => { (vs('default/reviews').http[0]!.route as { weight: number }[])[0]!.weight = 60; (vs('default/reviews').http[0]!.route as { weight: number }[])[1]!.weight = 40; }, ['billing-0', 'ledger-0']],
      ['a timeout scoped to the finance namespace', () => { vs('finance/ledger').http[0]!.timeout = '4s'; }, []],
      ['a new service', () => { docs.set('Workload/default/details', workload('details', 'default', { app: 'details' })); docs.set('Service/default/details', service('details', 'default')); }, ['billing-0', 'ledger-0']],
      ['a Sidecar scope', () => { (docs.get('Sidecar/finance/default')!.spec as { egress: unknown }).egress = [{ hosts: ['./*', 'default/ratings.default.svc.cluster.local'] }]; }, ['frontend-0', 'ratings-0']],
      ['an AuthorizationPolicy', () => docs.set('AuthorizationPolicy/default/ratings', {
        apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'ratings', namespace: 'default' },
        spec: { selector: { matchLabels: { app: 'ratings' } }, action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/frontend'] } }] }] },
      }), ['frontend-0', 'billing-0', 'reviews-v1-0']],
      ['a PeerAuthentication', () => docs.set('PeerAuthentication/finance/ledger', {
        apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'ledger', namespace: 'finance' },
        spec: { selector: { matchLabels: { app: 'ledger' } }, mtls: { mode: 'DISABLE' } },
      }), []],
      ['a DestinationRule', () => { (docs.get('DestinationRule/default/reviews')!.spec as Record<string, unknown>).trafficPolicy = { loadBalancer: { simple: 'ROUND_ROBIN' }, connectionPool: { tcp: { maxConnections: 10 } } }; }, ['billing-0', 'ledger-0']],
      ['a subset', () => { (docs.get('DestinationRule/default/reviews')!.spec as { subsets: unknown[] }).subsets.push({ name: 'v3', labels: { version: 'v3' } }); }, ['billing-0', 'ledger-0']],
      ['a replica more', () => { (docs.get('Workload/default/reviews-v1')!.spec as { replicas: number }).replicas = 2; }, ['billing-0', 'ledger-0']],
      ['a VirtualService removed', () => { docs.delete('VirtualService/default/ratings'); }, []],
      ['nothing', () => undefined, ['frontend-0', 'ratings-0', 'billing-0', 'ledger-0']],
    ];
    changes.forEach(([what, change, untouched], n) => {
      const revision = n + 2;
      change();
      const model = modelOf(docs);
      pods = placed(model, pods, nextPort);
      // A copy of the last whole compile carries nothing of how it was compiled: every sidecar is compiled again.
      const wholeNext = compileMesh(model, { pods }, { revision }, { ...whole });
      const incrementalNext = compileMesh(model, { pods }, { revision }, incremental);
      assert.deepEqual(incrementalNext.sidecars.map((s) => s.name), wholeNext.sidecars.map((s) => s.name), what);
      wholeNext.sidecars.forEach((expected, i) => assert.deepStrictEqual(incrementalNext.sidecars[i], expected, `${what}: sidecar ${expected.name}`));
      assert.deepStrictEqual(incrementalNext.notes, wholeNext.notes, `${what}: notes`);
      // A mesh compile shares route builds between sidecars: each is what compiling the sidecar alone makes.
      for (const sidecar of wholeNext.sidecars.filter((s) => s.revision === revision)) {
        const alone = compileSidecar(model, pods.find((p) => p.name === sidecar.name)!, pods, { revision });
        assert.equal(sidecar.config.split('\n').filter((l) => !l.startsWith(SHAPE_LINE_PREFIX)).join('\n'), alone.config, `${what}: ${sidecar.name} compiled alone`);
        assert.deepStrictEqual({ ...sidecar, config: alone.config }, alone, `${what}: ${sidecar.name} compiled alone`);
      }
      for (const name of untouched) {
        const last = incremental.sidecars.find((s) => s.name === name)!;
        assert.equal(incrementalNext.sidecars.find((s) => s.name === name), last, `${what}: ${name} is left as it was compiled`);
        assert.ok(last.revision < revision, `${what}: ${name} keeps its revision`);
      }
      whole = wholeNext;
      incremental = incrementalNext;
    });
    // The changes did reach the sidecars they concern.
    const ledger = incremental.sidecars.find((s) => s.name === 'billing-0')!;
    assert.ok(ledger.routes.some((r) => r.id === 'vs:finance:ledger:all' && r.deadlineMs === 4000));
    assert.match(incremental.sidecars.find((s) => s.name === 'ledger-0')!.config, /PeerAuthentication DISABLE/);
  });

  it('compiles a sidecar again when a pod it routes to moves to another port', () => {
    const docs = initialMesh();
    const pods = placed(modelOf(docs), [], { value: 41000 });
    const model = modelOf(docs);
    const first = compileMesh(model, { pods }, { revision: 1 });
    const moved = pods.map((p) => (p.name === 'ratings-0' ? { ...p, ports: { ...p.ports, app: 42000 } } : p));
    const second = compileMesh(model, { pods: moved }, { revision: 1 }, first);
    assert.deepStrictEqual(second.sidecars, compileMesh(model, { pods: moved }, { revision: 1 }, { ...first }).sidecars);
    assert.match(second.sidecars.find((s) => s.name === 'ratings-0')!.config, /server app 127\.0\.0\.1:42000/);
    assert.equal(second.sidecars.find((s) => s.name === 'billing-0'), first.sidecars.find((s) => s.name === 'billing-0'));
  });

  it('gives every proxy of the example mesh what a whole compile gives, whichever one resource is removed', () => {
    const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../examples/bookinfo');
    const sources = readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => {
      const text = readFileSync(path.join(dir, f), 'utf8');
      return { path: f, text, format: 'yaml' as const, size: text.length };
    });
    const resources = loadSources(sources, { defaultNamespace: 'default' }).resources;
    assert.ok(resources.length > 10, 'the example mesh is loaded');
    const nextPort = { value: 43000 };
    const meshOf = (kept: Resource[], before: MeshPod[]) => {
      const model = buildMeshModel(kept);
      const gateways: MeshGatewayProxy[] = model.gateways.map((g) => ({
        name: g.name, namespace: g.namespace, serviceAccount: 'istio-ingressgateway-service-account',
        listeners: Object.fromEntries(g.servers.map((server) => [server.port, server.port])), ports: { admin: 44000 },
        paths: proxyPaths(path.join('/meshctl-test-home/gateways', g.namespace, g.name)),
      }));
      return { model, pods: placed(model, before, nextPort), gateways };
    };
    const full = meshOf(resources, []);
    const base = compileMesh(full.model, { pods: full.pods, gateways: full.gateways }, { revision: 1 });
    resources.forEach((removed, i) => {
      const { model, pods, gateways } = meshOf(resources.filter((_, j) => j !== i), full.pods);
      const what = `without ${removed.kind} ${removed.namespace}/${removed.name}`;
      const whole = compileMesh(model, { pods, gateways }, { revision: 2 }, { ...base });
      const incremental = compileMesh(model, { pods, gateways }, { revision: 2 }, base);
      assert.deepStrictEqual(incremental.sidecars, whole.sidecars, what);
      assert.deepStrictEqual(incremental.gateways, whole.gateways, what);
      assert.deepStrictEqual(incremental.notes, whole.notes, what);
    });
  });
});
