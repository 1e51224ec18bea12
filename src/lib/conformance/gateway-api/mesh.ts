// A live local mesh for the Gateway API conformance run: the echo app's pods (real processes, each
// beside a real HAProxy sidecar with mTLS certificates from a fresh mesh CA) and one ingress proxy per
// Gateway, all on loopback, compiled by meshctl's own compiler. Policy is replaced test by test, as
// `meshctl apply` replaces it; only the proxies whose configuration changed are touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createMeshCa, issueWorkloadCertificate, writeWorkloadCertificate, type MeshCa } from '../../mesh/ca.js';
import { podEnvironment } from '../../mesh/pods.js';
import { PortAllocator, portListening } from '../../mesh/ports.js';
import type { Resource } from '../../policy/load.js';
import { buildMeshModel, desiredPods, type MeshModel } from '../../policy/mesh-model.js';
import { compileMesh } from '../../runtime/haproxy/compiler.js';
import { applyProxyConfig, stopProxy } from '../../runtime/haproxy/apply.js';
import { proxyPaths, type CompiledProxy, type MeshGatewayProxy, type MeshPod } from '../../runtime/haproxy/types.js';

export interface EchoPod extends MeshPod {
  process: ChildProcess;
  /** The app's stdout lines, with the time each arrived (the mirror checks read them). */
  log: { at: number; line: string }[];
}

export interface ConformanceMesh {
  pods: EchoPod[];
  gateways: MeshGatewayProxy[];
  model: MeshModel;
  /** Replaces the mesh's policy (workloads stay) and waits until every changed proxy serves it. */
  apply(resources: Resource[]): Promise<void>;
  gateway(namespace: string, name: string): MeshGatewayProxy | undefined;
  stop(): Promise<void>;
}

function waitForPort(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = async () => {
      if (await portListening(port)) return resolve();
      if (Date.now() > deadline) return reject(new Error(`the echo app did not listen on 127.0.0.1:${port} in time`));
      setTimeout(attempt, 50);
    };
    void attempt();
  });
}

/**
 * Starts the pods of `workloads` (Workload resources) and their sidecars. Gateway proxies start
 * when a policy first names their Gateway. Everything started is stopped by `stop()`, also when
 * starting fails.
 */
export async function startConformanceMesh(workloads: Resource[]): Promise<ConformanceMesh> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-gwapi-'));
  const allocator = new PortAllocator();
  const pods: EchoPod[] = [];
  const gateways: MeshGatewayProxy[] = [];
  const started: { name: string; namespace: string; ports: { admin: number }; paths: MeshPod['paths'] }[] = [];
  let ca: MeshCa;
  let revision = 0;
  let model = buildMeshModel(workloads);
  const applied = new Map<string, CompiledProxy>();

  const stop = async () => {
    await Promise.all(started.map((t) => stopProxy(t).catch(() => undefined)));
    await Promise.all(pods.map((p) => new Promise<void>((resolve) => {
      if (p.process.exitCode !== null || p.process.signalCode !== null) return resolve();
      p.process.once('exit', () => resolve());
      p.process.kill('SIGTERM');
    })));
    // A proxy that has just exited may still be writing its last log lines.
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => undefined);
  };

  const certify = async (t: { namespace: string; serviceAccount: string; paths: MeshPod['paths'] }) => {
    await fs.mkdir(t.paths.dir, { recursive: true, mode: 0o700 });
    const cert = await issueWorkloadCertificate(ca, { namespace: t.namespace, serviceAccount: t.serviceAccount });
    await writeWorkloadCertificate(cert, ca, t.paths);
  };

  const apply = async (resources: Resource[]) => {
    model = buildMeshModel([...workloads, ...resources]);
    for (const g of model.gateways) {
      if (gateways.some((x) => x.name === g.name && x.namespace === g.namespace)) continue;
      const listeners: Record<number, number> = {};
      for (const s of g.servers) listeners[s.port] ??= await allocator.next();
      const proxy: MeshGatewayProxy = {
        name: g.name, namespace: g.namespace, serviceAccount: 'gateway', listeners,
        ports: { admin: await allocator.next() }, paths: proxyPaths(path.join(dir, `gw${gateways.length}`)),
      };
      await certify(proxy);
      gateways.push(proxy);
    }
    // A Gateway first seen with fewer listeners keeps its ports; new listener ports get one.
    for (const proxy of gateways) {
      const spec = model.gateways.find((g) => g.name === proxy.name && g.namespace === proxy.namespace);
      for (const s of spec?.servers ?? []) proxy.listeners[s.port] ??= await allocator.next();
    }
    const present = gateways.filter((gw) => model.gateways.some((g) => g.name === gw.name && g.namespace === gw.namespace));
    // A loopback port found free may be taken (as a connection's source port) before the proxy binds
    // it: the proxies that could not bind get new ports and the mesh is compiled again.
    for (let attempt = 1; ; attempt++) {
      revision += 1;
      const compiled = compileMesh(model, { pods, gateways: present }, { revision });
      const refused: (MeshPod | MeshGatewayProxy)[] = [];
      const outcomes = await Promise.allSettled([...compiled.sidecars, ...compiled.gateways].map(async (proxy) => {
        const target = [...pods, ...gateways].find((t) => t.name === proxy.name && t.namespace === proxy.namespace) as MeshPod | MeshGatewayProxy;
        const previous = applied.get(`${proxy.namespace}/${proxy.name}`) ?? null;
        if (!started.includes(target)) started.push(target);
        try {
          await applyProxyConfig(target, proxy, { previous, timeoutMs: 30_000 });
        } catch (err) {
          if (/Address already in use/.test(String((err as Error).message) + String((err as { detail?: unknown }).detail ?? ''))) refused.push(target);
          throw err;
        }
        applied.set(`${proxy.namespace}/${proxy.name}`, proxy);
      }));
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (!failed) return;
      if (!refused.length || attempt >= 3) throw failed.reason;
      for (const target of refused) {
        applied.delete(`${target.namespace}/${target.name}`);
        target.ports.admin = await allocator.next();
        if ('inbound' in target.ports) {
          const ports = (target as MeshPod).ports;
          ports.inbound = await allocator.next();
          ports.outbound = await allocator.next();
          ports.mtls = await allocator.next();
        } else {
          const gw = target as MeshGatewayProxy;
          for (const p of Object.keys(gw.listeners)) gw.listeners[Number(p)] = await allocator.next();
        }
      }
    }
  };

  try {
    ca = await createMeshCa();
    const deadline = Date.now() + 60_000;
    for (const spec of desiredPods(model)) {
      const workload = model.workloads.find((w) => w.name === spec.workload && w.namespace === spec.namespace);
      const pod: MeshPod = {
        name: spec.name,
        namespace: spec.namespace,
        workload: spec.workload,
        labels: spec.labels,
        serviceAccount: spec.serviceAccount,
        ports: { app: await allocator.next(), inbound: await allocator.next(), mtls: await allocator.next(), outbound: await allocator.next(), admin: await allocator.next() },
        paths: proxyPaths(path.join(dir, spec.name)),
      };
      await certify(pod);
      const [command, ...args] = spec.command;
      const child = spawn(command === 'node' ? process.execPath : command, args, {
        // Its stdin is a pipe from this process: should this process die before stop(), the apps go too.
        env: { ...process.env, ...podEnvironment(pod, { ...workload?.env, HTTP_PORT: String(pod.ports.app) }), ECHO_EXIT_WITH_STDIN: '1' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const echoPod: EchoPod = { ...pod, process: child, log: [] };
      let partial = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        const at = Date.now();
        for (const line of lines) {
          echoPod.log.push({ at, line });
          if (echoPod.log.length > 20_000) echoPod.log.splice(0, 10_000);
        }
      });
      child.stderr?.resume();
      pods.push(echoPod);
    }
    await Promise.all(pods.map((p) => waitForPort(p.ports.app, deadline)));
    await apply([]);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pods,
    gateways,
    get model() { return model; },
    apply,
    gateway: (namespace, name) => gateways.find((g) => g.name === name && g.namespace === namespace),
    stop,
  };
}
