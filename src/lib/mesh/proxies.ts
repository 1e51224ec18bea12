// The local mesh's proxies as inspect, proxy-status, top and route shift read them: straight from the
// mesh home (the placement names the pods and gateway proxies with their ports, the state store the
// applied revision), without asking the agent, so that they answer even when the agent is down. The
// one reader of a home's proxies: everything that lists them comes through here.
import { usageError } from '../errors.js';
import { homeLayout, resolveHome, type HomeLayout } from './home.js';
import { meshGateway, meshPod, readPlacement } from './pods.js';
import { readApplied, readMeshConfigFile } from './state.js';
import { adminGet } from '../runtime/haproxy/admin.js';
import { proxyRevisionKey } from './config-push.js';
import { HaproxyAdapter, type LocalProxyTarget, type PeerReadiness } from '../runtime/haproxy/inspect.js';

export interface LocalProxy extends LocalProxyTarget {
  /** The Workload a pod replicates; null for a gateway proxy. */
  workload: string | null;
  labels: Record<string, string>;
  /** The revision the proxy serves once up to date (its configuration's last change); null: the applied one. */
  wantedRevision: number | null;
}

export interface LocalMesh {
  layout: HomeLayout;
  /** A mesh is installed in the home (its configuration file exists). */
  installed: boolean;
  /** The revision the control plane applied last; null when nothing is installed. */
  appliedRevision: number | null;
  /** The meshctl version that installed the mesh. */
  meshVersion: string | null;
  /** Gateway proxies then pods, each sorted by name. */
  proxies: LocalProxy[];
}

/** Reads the proxies of the mesh in `home` (a --home value, $MESHCTL_HOME or ~/.meshctl when undefined). */
export async function readLocalMesh(home?: string): Promise<LocalMesh> {
  const layout = homeLayout(resolveHome(home));
  const config = await readMeshConfigFile(layout).catch(() => null);
  if (!config) return { layout, installed: false, appliedRevision: null, meshVersion: null, proxies: [] };
  const [proxies, applied] = await Promise.all([readLocalProxies(layout), readApplied(layout)]);
  return { layout, installed: true, appliedRevision: applied.revision, meshVersion: config.meshctlVersion ?? null, proxies };
}

/** The gateway proxies then the pods the placement of `layout` names, each sorted by name. */
export async function readLocalProxies(layout: HomeLayout): Promise<LocalProxy[]> {
  const placement = await readPlacement(layout);
  const wanted = (kind: 'sidecar' | 'gateway', p: { namespace: string; name: string }) => placement.revisions?.[proxyRevisionKey({ kind, ...p })] ?? null;
  const gateways: LocalProxy[] = placement.gateways.map((g) => {
    const m = meshGateway(layout, g);
    return { name: m.name, namespace: m.namespace, kind: 'gateway', paths: m.paths, ports: { admin: m.ports.admin }, workload: null, labels: { istio: 'ingressgateway' }, wantedRevision: wanted('gateway', m) };
  });
  const pods: LocalProxy[] = placement.pods.map((p) => {
    const m = meshPod(layout, p);
    return { name: m.name, namespace: m.namespace, kind: 'sidecar', paths: m.paths, ports: { admin: m.ports.admin, app: m.ports.app }, workload: m.workload, labels: m.labels, wantedRevision: wanted('sidecar', m) };
  });
  const byName = (a: LocalProxy, b: LocalProxy) => a.name.localeCompare(b.name);
  return [...gateways.sort(byName), ...pods.sort(byName)];
}

/** Refuses a pod that -n places in another namespace than its own (an unknown pod is the directory's to name). */
export function checkPodNamespace(proxies: readonly { name: string; namespace: string }[], pod: string, namespace: string): void {
  const proxy = proxies.find((p) => p.name === pod);
  if (proxy && proxy.namespace !== namespace) {
    throw usageError(`There is no pod named "${pod}" in namespace ${namespace}; it is in namespace ${proxy.namespace} (drop -n, or pass -n ${proxy.namespace}).`);
  }
}

/** A pod's readiness as its own sidecar's admin port reports it (what callers of the pod should believe). */
export async function podReadiness(proxy: LocalProxy, timeoutMs = PEER_TIMEOUT_MS): Promise<PeerReadiness> {
  try {
    const answer = await adminGet(proxy.ports.admin, '/ready', timeoutMs);
    if (answer.status === 200) return { ready: true, reason: `pod ${proxy.name} is ready` };
    return { ready: false, reason: `pod ${proxy.name} is not ready (${answer.body.trim() || `HTTP ${answer.status}`})` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ready: null, reason: `the sidecar of pod ${proxy.name} does not answer on 127.0.0.1:${proxy.ports.admin}${code ? ` (${code})` : ''}` };
  }
}

/** How long a pod's sidecar may take to say whether the pod is ready, when an endpoint's health asks. */
const PEER_TIMEOUT_MS = 2000;

export function localAdapter(mesh: LocalMesh, proxy: LocalProxy, options: { timeoutMs?: number; now?: () => Date } = {}): HaproxyAdapter {
  const pods = new Map(mesh.proxies.filter((p) => p.kind === 'sidecar').map((p) => [p.name, p]));
  return new HaproxyAdapter(proxy, {
    appliedRevision: proxy.wantedRevision ?? mesh.appliedRevision,
    meshVersion: mesh.meshVersion,
    timeoutMs: options.timeoutMs,
    now: options.now,
    peer: async (server) => {
      const pod = pods.get(server);
      return pod ? podReadiness(pod, Math.min(options.timeoutMs ?? PEER_TIMEOUT_MS, PEER_TIMEOUT_MS)) : null;
    },
  });
}
