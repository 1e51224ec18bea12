// A live local mesh for data-plane tests: echo apps in this process, real HAProxy sidecars and
// ingress proxies on loopback, certificates from a fresh mesh CA, all in a temporary directory.
import http from 'node:http';
import { after, before } from 'node:test';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { loadSources } from '../../src/lib/policy/load.js';
import { createMeshCa, issueWorkloadCertificate, writeWorkloadCertificate, type MeshCa } from '../../src/lib/mesh/ca.js';
import { buildMeshModel, desiredPods, type MeshModel } from '../../src/lib/policy/mesh-model.js';
import { proxyPaths, type CompiledMesh, type CompiledProxy, type MeshGatewayProxy, type MeshPod, type ProxyTarget } from '../../src/lib/runtime/haproxy/types.js';
import { compileMesh } from '../../src/lib/runtime/haproxy/compiler.js';
import { applyProxyConfig, stopProxy, type ApplyResult } from '../../src/lib/runtime/haproxy/apply.js';
import { freePort } from './net.js';
import { misbehave } from './misbehaving-app.js';

/** What the echo app answers: who served the request and what it received. */
export interface EchoAnswer {
  pod: string;
  version: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** A request an echo app received (the last 500 are kept). */
export interface ReceivedRequest {
  at: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface EchoApp {
  port: number;
  received: ReceivedRequest[];
  /** Requests being answered now, and the most ever answered at once. */
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

/**
 * A dependency-free app that echoes the request as JSON, naming its pod and version. A request with
 * `x-echo-delay-ms: N` is answered N ms late (a slow upstream); a request whose Host ends in `-shadow`
 * (a mirrored copy) and carries `x-shadow-delay-ms: N` likewise. Delays are capped at 10 s.
 * A pod labelled `echo-status: "500"` answers every request with that status.
 * A request with `x-echo-fail: <how>` is answered badly on purpose (see misbehaving-app.ts).
 */
export function startEchoApp(pod: { name: string; labels: Record<string, string> }): Promise<EchoApp> {
  const received: ReceivedRequest[] = [];
  const status = Number(pod.labels['echo-status'] ?? 200) || 200;
  const counters = { inFlight: 0, maxInFlight: 0 };
  const server = http.createServer((req, res) => {
    counters.inFlight++;
    counters.maxInFlight = Math.max(counters.maxInFlight, counters.inFlight);
    res.on('close', () => { counters.inFlight--; });
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      received.push({ at: Date.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (received.length > 500) received.shift();
      const answer: EchoAnswer = { pod: pod.name, version: pod.labels.version ?? '', method: req.method ?? '', url: req.url ?? '', headers: req.headers };
      const shadowDelay = /-shadow(:\d+)?$/.test(String(req.headers.host ?? '')) ? Number(req.headers['x-shadow-delay-ms'] ?? 0) : 0;
      const delay = Math.max(shadowDelay, Number(req.headers['x-echo-delay-ms'] ?? 0) || 0);
      const reply = () => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-served-by': pod.name, 'x-version': pod.labels.version ?? '' });
        res.end(JSON.stringify(answer));
      };
      if (misbehave(req, res, reply)) return;
      if (delay > 0) setTimeout(reply, Math.min(delay, 10_000));
      else reply();
    });
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        port,
        received,
        get inFlight() { return counters.inFlight; },
        get maxInFlight() { return counters.maxInFlight; },
        close: () => new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
      });
    });
  });
}

export interface TestMesh {
  dir: string;
  ca: MeshCa;
  model: MeshModel;
  pods: MeshPod[];
  gateways: MeshGatewayProxy[];
  compiled: CompiledMesh;
  pod(name: string): MeshPod;
  gateway(name: string): MeshGatewayProxy;
  compiledOf(name: string): CompiledProxy;
  /** The echo app of a pod. */
  app(name: string): EchoApp;
  /** Recompiles with new policy text (same pods) at revision + 1 and applies every proxy. */
  apply(policy: string): Promise<Map<string, ApplyResult>>;
  stop(): Promise<void>;
}

function loadPolicy(text: string): MeshModel {
  const { resources } = loadSources([{ path: 'mesh.yaml', text, format: 'yaml', size: Buffer.byteLength(text) }], { defaultNamespace: 'default' });
  return buildMeshModel(resources);
}

/**
 * Starts every Workload replica of `policy` (an echo app + its sidecar) and a proxy for each
 * Gateway named in `gateways`. Everything started is stopped by `stop()`, also when start fails.
 */
export async function startTestMesh(policy: string, options: { gateways?: string[] } = {}): Promise<TestMesh> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-dp-'));
  const apps: EchoApp[] = [];
  const appOf = new Map<string, EchoApp>();
  const targets: ProxyTarget[] = [];
  const stop = async () => {
    await Promise.all(targets.map((t) => stopProxy(t).catch(() => undefined)));
    await Promise.all(apps.map((a) => a.close()));
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    const ca = await createMeshCa();
    let model = loadPolicy(policy);
    const pods: MeshPod[] = [];
    for (const spec of desiredPods(model)) {
      const app = await startEchoApp(spec);
      apps.push(app);
      appOf.set(spec.name, app);
      pods.push({
        name: spec.name,
        namespace: spec.namespace,
        workload: spec.workload,
        labels: spec.labels,
        serviceAccount: spec.serviceAccount,
        ports: { app: app.port, inbound: await freePort(), mtls: await freePort(), outbound: await freePort(), admin: await freePort() },
        paths: proxyPaths(path.join(dir, spec.name)),
      });
    }
    const gateways: MeshGatewayProxy[] = [];
    for (const name of options.gateways ?? []) {
      const spec = model.gateways.find((g) => g.name === name);
      if (!spec) throw new Error(`no Gateway ${name} in the test policy`);
      const listeners: Record<number, number> = {};
      for (const s of spec.servers) listeners[s.port] = await freePort();
      gateways.push({ name, namespace: spec.namespace, serviceAccount: `${name}-sa`, listeners, ports: { admin: await freePort() }, paths: proxyPaths(path.join(dir, `gw-${name}`)) });
    }
    targets.push(...pods, ...gateways);
    for (const t of [...pods, ...gateways]) {
      const cert = await issueWorkloadCertificate(ca, { namespace: t.namespace, serviceAccount: t.serviceAccount });
      await writeWorkloadCertificate(cert, ca, t.paths);
    }
    let revision = 1;
    let compiled = compileMesh(model, { pods, gateways }, { revision });
    const applyAll = async (c: CompiledMesh) => {
      const results = new Map<string, ApplyResult>();
      await Promise.all([...c.sidecars, ...c.gateways].map(async (p) => {
        const target = [...pods, ...gateways].find((t) => t.name === p.name) as ProxyTarget;
        results.set(p.name, await applyProxyConfig(target, p, { timeoutMs: 20_000 }));
      }));
      return results;
    };
    await applyAll(compiled);
    const mesh: TestMesh = {
      dir,
      ca,
      get model() { return model; },
      pods,
      gateways,
      get compiled() { return compiled; },
      pod: (name) => pods.find((p) => p.name === name) ?? (() => { throw new Error(`no pod ${name}`); })(),
      gateway: (name) => gateways.find((g) => g.name === name) ?? (() => { throw new Error(`no gateway ${name}`); })(),
      app: (name) => appOf.get(name) ?? (() => { throw new Error(`no app ${name}`); })(),
      compiledOf: (name) => [...compiled.sidecars, ...compiled.gateways].find((p) => p.name === name) ?? (() => { throw new Error(`no proxy ${name}`); })(),
      async apply(next: string) {
        model = loadPolicy(next);
        revision += 1;
        compiled = compileMesh(model, { pods, gateways }, { revision });
        return applyAll(compiled);
      },
      stop,
    };
    return mesh;
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * A live mesh for one `describe` block: started before its tests, stopped after them (with a
 * keep-alive agent for the tests' calls, destroyed then too).
 */
export function meshForSuite(policy: string, maxSockets = 8): { readonly mesh: TestMesh; agent: http.Agent } {
  let mesh: TestMesh | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  before(async () => {
    mesh = await startTestMesh(policy);
  });
  after(async () => {
    agent.destroy();
    await mesh?.stop();
  });
  return {
    get mesh() {
      if (!mesh) throw new Error('the test mesh has not started');
      return mesh;
    },
    agent,
  };
}
