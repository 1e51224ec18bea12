// Pods and gateway proxies as the control plane places them: which ones the applied resources ask
// for, with loopback ports kept from their previous placement and fresh ones for new pods.
import { syntheticResource, type Resource } from '../policy/load.js';
import { buildMeshModel, CLUSTER_DOMAIN, desiredPods, type MeshModel, type PodSpec } from '../policy/mesh-model.js';
import { proxyPaths, type MeshGatewayProxy, type MeshPod, type PodPorts } from '../runtime/haproxy/types.js';
import type { HomeLayout } from './home.js';
import { PortAllocator } from './ports.js';
import type { StoredResource } from './state.js';
import { readJson, writeJsonAtomic } from '../system/atomic-file.js';
import { EXIT, MeshctlError } from '../errors.js';

/** Identity of an ingress proxy when it calls pods (as Istio's default ingress gateway). */
export const GATEWAY_SERVICE_ACCOUNT = 'istio-ingressgateway-service-account';

/** A pod as stored: what it was created from and the ports it owns. */
export interface PodRecord {
  name: string;
  namespace: string;
  workload: string;
  replica: number;
  labels: Record<string, string>;
  serviceAccount: string;
  command: string[];
  env: Record<string, string>;
  /** Directory the app runs in (the directory of the file that defined its Workload). */
  workingDir: string | null;
  ports: PodPorts;
  createdAt: string;
}

export interface GatewayRecord {
  name: string;
  namespace: string;
  serviceAccount: string;
  listeners: Record<number, number>;
  ports: { admin: number };
  createdAt: string;
}

export interface Placement {
  pods: PodRecord[];
  gateways: GatewayRecord[];
  /**
   * The revision each proxy serves once up to date, by `sidecar:<namespace>/<name>` or
   * `gateway:<namespace>/<name>`: the one its configuration last changed at, which a revision that
   * leaves the proxy's configuration as it was does not move. Absent: the applied revision, for all.
   */
  revisions?: Record<string, number>;
}

/** Annotation recording where a Workload's file was, so relative paths in its command resolve there. */
export const WORKING_DIR_ANNOTATION = 'meshctl.dev/working-dir';

export async function readPlacement(layout: HomeLayout): Promise<Placement> {
  return readJson<Placement>(layout.podsFile, { pods: [], gateways: [] });
}

export async function writePlacement(layout: HomeLayout, placement: Placement): Promise<void> {
  await writeJsonAtomic(layout.podsFile, placement, 0o600);
}

/** Stored objects back to the loader's resources (the shape the model and analyzers read). */
export function toResources(stored: StoredResource[]): Resource[] {
  return stored.map((r) => syntheticResource(r.apiVersion, r.kind, r.metadata.namespace ?? '', r.metadata.name, r as Record<string, unknown>));
}

export function modelOf(stored: StoredResource[]): MeshModel {
  return buildMeshModel(toResources(stored));
}

function workingDirOf(model: MeshModel, spec: PodSpec): string | null {
  const w = model.workloads.find((x) => x.name === spec.workload && x.namespace === spec.namespace);
  const dir = w?.resource.annotations[WORKING_DIR_ANNOTATION];
  return dir ? dir : null;
}

/** Places every pod and gateway proxy `model` asks for; existing ones keep their ports. */
export async function place(model: MeshModel, previous: Placement): Promise<Placement> {
  const allocator = new PortAllocator();
  for (const p of previous.pods) Object.values(p.ports).forEach((port) => allocator.reserve(port));
  for (const g of previous.gateways) {
    allocator.reserve(g.ports.admin);
    Object.values(g.listeners).forEach((port) => allocator.reserve(port));
  }
  for (const g of model.gateways) g.servers.forEach((s) => allocator.reserve(s.port));
  const now = new Date().toISOString();
  const pods: PodRecord[] = [];
  for (const spec of desiredPods(model)) {
    const before = previous.pods.find((p) => p.name === spec.name && p.namespace === spec.namespace);
    const ports: PodPorts = before ? { ...before.ports } : { app: await allocator.next(), inbound: await allocator.next(), outbound: await allocator.next(), admin: await allocator.next() };
    // A pod placed before sidecars had an mTLS-only listener gets one now.
    ports.mtls ??= await allocator.next();
    pods.push({
      name: spec.name,
      namespace: spec.namespace,
      workload: spec.workload,
      replica: spec.replica,
      labels: spec.labels,
      serviceAccount: spec.serviceAccount,
      command: spec.command,
      env: spec.env,
      workingDir: workingDirOf(model, spec),
      ports,
      createdAt: before?.createdAt ?? now,
    });
  }
  const seen = new Map<string, string>();
  for (const p of pods) {
    const other = seen.get(p.name);
    if (other !== undefined) {
      throw new MeshctlError(`Workloads ${other}/${p.workload} and ${p.namespace}/${p.workload} both make a pod named ${p.name}; pod names must be unique across namespaces in the local mesh, so rename one of the Workloads.`, EXIT.usage);
    }
    seen.set(p.name, p.namespace);
  }
  const gateways: GatewayRecord[] = [];
  for (const g of model.gateways) {
    const before = previous.gateways.find((x) => x.name === g.name && x.namespace === g.namespace);
    const listeners: Record<number, number> = {};
    for (const s of g.servers) if (Number.isInteger(s.port) && s.port > 0) listeners[s.port] = s.port;
    gateways.push({
      name: g.name,
      namespace: g.namespace,
      serviceAccount: GATEWAY_SERVICE_ACCOUNT,
      listeners,
      ports: { admin: before?.ports.admin ?? (await allocator.next()) },
      createdAt: before?.createdAt ?? now,
    });
  }
  return { pods, gateways };
}

export function meshPod(layout: HomeLayout, record: PodRecord): MeshPod {
  return {
    name: record.name,
    namespace: record.namespace,
    workload: record.workload,
    labels: record.labels,
    serviceAccount: record.serviceAccount,
    ports: record.ports,
    paths: proxyPaths(layout.pod(record.name).dir),
  };
}

export function meshGateway(layout: HomeLayout, record: GatewayRecord): MeshGatewayProxy {
  return {
    name: record.name,
    namespace: record.namespace,
    serviceAccount: record.serviceAccount,
    listeners: record.listeners,
    ports: record.ports,
    paths: proxyPaths(layout.gateway(record.namespace, record.name)),
  };
}

/**
 * The environment an app process gets: its Workload's env, PORT, and where to send its calls
 * (MESH_OUTBOUND_URL for origin-form requests with a Host header, HTTP_PROXY for proxy-aware clients).
 */
export function podEnvironment(pod: MeshPod, workloadEnv: Record<string, string> = {}, trustDomain = CLUSTER_DOMAIN): Record<string, string> {
  const outbound = `http://127.0.0.1:${pod.ports.outbound}`;
  return {
    ...workloadEnv,
    PORT: String(pod.ports.app),
    MESH_OUTBOUND_URL: outbound,
    HTTP_PROXY: outbound,
    http_proxy: outbound,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    POD_NAME: pod.name,
    POD_NAMESPACE: pod.namespace,
    SERVICE_ACCOUNT: pod.serviceAccount,
    MESH_SPIFFE_ID: `spiffe://${trustDomain}/ns/${pod.namespace}/sa/${pod.serviceAccount}`,
  };
}
