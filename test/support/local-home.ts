// A mesh home run without its agent, for inspect, proxy-status and top: the state store holds the
// applied revision and the placement, echo apps run in this process, and real HAProxy sidecars (and
// gateway proxies) are started and updated through the data plane directly. Each apply can leave
// proxies out, as a control plane that failed to reach them would.
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { loadSources } from '../../src/lib/policy/load.js';
import { createMeshCa, issueWorkloadCertificate, writeWorkloadCertificate, type MeshCa } from '../../src/lib/mesh/ca.js';
import { homeLayout, type HomeLayout } from '../../src/lib/mesh/home.js';
import { buildMeshModel, desiredPods, type MeshModel } from '../../src/lib/policy/mesh-model.js';
import type { CompiledMesh, MeshGatewayProxy, MeshPod, ProxyTarget } from '../../src/lib/runtime/haproxy/types.js';
import { compileMesh } from '../../src/lib/runtime/haproxy/compiler.js';
import { meshGateway, meshPod, writePlacement, type GatewayRecord, type PodRecord } from '../../src/lib/mesh/pods.js';
import { commitRevision, writeMeshConfigFile, STATE_API_VERSION, type StoredResource } from '../../src/lib/mesh/state.js';
import { applyProxyConfig, stopProxy } from '../../src/lib/runtime/haproxy/apply.js';
import { findHaproxy } from '../../src/lib/runtime/haproxy/binary.js';
import { startEchoApp, type EchoApp } from './mesh.js';
import { PortAllocator } from '../../src/lib/mesh/ports.js';

export interface LocalHome {
  /** Temporary directory holding the home. */
  dir: string;
  home: string;
  layout: HomeLayout;
  ca: MeshCa;
  pods: MeshPod[];
  gateways: MeshGatewayProxy[];
  /** The revision the state store holds as applied. */
  readonly revision: number;
  readonly compiled: CompiledMesh;
  pod(name: string): MeshPod;
  gateway(name: string): MeshGatewayProxy;
  /**
   * Records `policy` as the next revision and brings every proxy to it except those named in
   * `skip` (same pods: the policy may change routes and weights, not Workloads).
   */
  apply(policy: string, options?: { skip?: string[] }): Promise<void>;
  /** Stops a pod's app (its sidecar keeps running). */
  stopApp(name: string): Promise<void>;
  /** Stops a proxy (sidecar or gateway). */
  stopProxy(name: string): Promise<void>;
  stop(): Promise<void>;
}

function load(policy: string): { model: MeshModel; stored: StoredResource[] } {
  const { resources } = loadSources([{ path: 'mesh.yaml', text: policy, format: 'yaml', size: Buffer.byteLength(policy) }], { defaultNamespace: 'default' });
  const stored = resources.map((r) => ({ ...r.object, metadata: { ...r.object.metadata, namespace: r.namespace } }) as StoredResource);
  return { model: buildMeshModel(resources), stored };
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function bounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/**
 * Starts every Workload replica of `policy` (an echo app and its sidecar) and a proxy for each Gateway
 * named in `gateways`, in a fresh home. Whatever was started is stopped by `stop()`, also when the
 * start fails half-way.
 */
export async function startLocalHome(policy: string, options: { gateways?: string[]; concurrency?: number } = {}): Promise<LocalHome> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mesh-li-'));
  const home = path.join(dir, 'home');
  const layout = homeLayout(home);
  const apps = new Map<string, EchoApp>();
  const targets: ProxyTarget[] = [];
  const concurrency = options.concurrency ?? 8;
  const stop = async () => {
    await bounded(targets, 16, (t) => stopProxy(t).then(() => undefined, () => undefined));
    await Promise.all([...apps.values()].map((a) => a.close()));
    apps.clear();
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await fs.mkdir(home, { recursive: true, mode: 0o700 });
    await fs.mkdir(layout.stateDir, { recursive: true, mode: 0o700 });
    const haproxy = await findHaproxy();
    await writeMeshConfigFile(layout, {
      apiVersion: STATE_API_VERSION,
      kind: 'MeshConfig',
      createdAt: new Date().toISOString(),
      trustDomain: 'cluster.local',
      proxy: { runtime: 'haproxy', bin: haproxy.path, version: haproxy.version.text },
      env: {},
      meshctlVersion: 'test',
    });
    const ca = await createMeshCa();
    let { model, stored } = load(policy);
    const now = new Date().toISOString();
    // Apps first (each binds its own port); then the proxies' ports, none handed out twice.
    const specs = desiredPods(model);
    for (const spec of specs) apps.set(spec.name, await startEchoApp(spec));
    const ports = new PortAllocator([...apps.values()].map((a) => a.port));
    const podRecords: PodRecord[] = [];
    for (const spec of specs) {
      podRecords.push({
        name: spec.name, namespace: spec.namespace, workload: spec.workload, replica: spec.replica, labels: spec.labels, serviceAccount: spec.serviceAccount,
        command: spec.command, env: spec.env, workingDir: null,
        ports: { app: apps.get(spec.name)!.port, inbound: await ports.next(), mtls: await ports.next(), outbound: await ports.next(), admin: await ports.next() },
        createdAt: now,
      });
    }
    const gatewayRecords: GatewayRecord[] = [];
    for (const name of options.gateways ?? []) {
      const spec = model.gateways.find((g) => g.name === name);
      if (!spec) throw new Error(`no Gateway ${name} in the test policy`);
      const listeners: Record<number, number> = {};
      for (const s of spec.servers) listeners[s.port] = await ports.next();
      gatewayRecords.push({ name, namespace: spec.namespace, serviceAccount: `${name}-sa`, listeners, ports: { admin: await ports.next() }, createdAt: now });
    }
    await writePlacement(layout, { pods: podRecords, gateways: gatewayRecords });
    const pods = podRecords.map((r) => meshPod(layout, r));
    const gateways = gatewayRecords.map((r) => meshGateway(layout, r));
    targets.push(...gateways, ...pods);
    await bounded([...pods, ...gateways], concurrency, async (t) => {
      await fs.mkdir(t.paths.dir, { recursive: true, mode: 0o700 });
      await writeWorkloadCertificate(await issueWorkloadCertificate(ca, { namespace: t.namespace, serviceAccount: t.serviceAccount }), ca, t.paths);
    });

    let revision = 0;
    let compiled: CompiledMesh = { revision: 0, sidecars: [], gateways: [], notes: [] };
    const applyAll = async (skip: string[]) => {
      const record = await commitRevision(layout, stored, [], 'apply');
      revision = record.revision;
      compiled = compileMesh(model, { pods, gateways }, { revision });
      const proxies = [...compiled.gateways, ...compiled.sidecars].filter((p) => !skip.includes(p.name));
      await bounded(proxies, concurrency, async (p) => {
        const target = targets.find((t) => t.name === p.name)!;
        await applyProxyConfig(target, p, { timeoutMs: 30_000, bin: haproxy.path });
      });
    };
    await applyAll([]);
    const byName = <T extends { name: string }>(list: T[], name: string): T => list.find((x) => x.name === name) ?? (() => { throw new Error(`no ${name} in the test mesh`); })();
    return {
      dir,
      home,
      layout,
      ca,
      pods,
      gateways,
      get revision() { return revision; },
      get compiled() { return compiled; },
      pod: (name) => byName(pods, name),
      gateway: (name) => byName(gateways, name),
      async apply(next, applyOptions = {}) {
        ({ model, stored } = load(next));
        await applyAll(applyOptions.skip ?? []);
      },
      async stopApp(name) {
        await apps.get(name)?.close();
        apps.delete(name);
      },
      async stopProxy(name) {
        await stopProxy(byName(targets, name));
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
