// A pod's Envoy on a cluster, read as the local mesh's proxies are: its admin API (config_dump,
// clusters, server_info, certs, stats) through a port-forward to 15000, which listens on the pod's
// loopback only (the API server's pod proxy cannot reach it), into the same admin model
// `inspect --admin-url` reads. Errors name the pod instead of the forward's local address.
import { EXIT, MeshctlError, usageError } from '../errors.js';
import type { ProxyAdapter } from '../runtime/adapter.js';
import type { Certificate, Cluster, Endpoint, Health, Listener, ProxySource, RouteConfig, Stats } from '../runtime/model.js';
import type { KubeClient } from './client.js';
import { PortForward, type PodRef } from './port-forward.js';
import { KINDS, getObject, type KubeObject } from './resources.js';

/** Istio's sidecar (and gateway) Envoy admin port, on the pod's loopback. */
export const ENVOY_ADMIN_PORT = 15000;
/** The sidecar container Istio injects. */
export const SIDECAR_CONTAINER = 'istio-proxy';

interface PodSpec {
  containers?: { name: string }[];
  initContainers?: { name: string; restartPolicy?: string }[];
}

/** Whether the pod runs Istio's proxy: a sidecar container, a native sidecar (init container that keeps running), or a gateway's. */
export function runsIstioProxy(pod: KubeObject): boolean {
  const spec = (pod.spec ?? {}) as PodSpec;
  return [...(spec.containers ?? []), ...(spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')].some((c) => c.name === SIDECAR_CONTAINER);
}

/** The pod, checked to run an Envoy meshctl can read: exit 2 when there is no such pod, 3 when it has no proxy. */
export async function readProxyPod(client: KubeClient, pod: PodRef): Promise<KubeObject> {
  const object = await getObject(client, KINDS.Pod, pod.namespace, pod.name);
  if (!object) throw usageError(`There is no pod "${pod.name}" in namespace "${pod.namespace}" on ${client.where}; kubectl get pods -n ${pod.namespace} lists them (or pass -n NAMESPACE).`);
  if (!runsIstioProxy(object)) {
    const containers = ((object.spec ?? {}) as PodSpec).containers?.map((c) => c.name).join(', ') || 'none';
    throw new MeshctlError(`Pod ${pod.namespace}/${pod.name} on ${client.where} has no ${SIDECAR_CONTAINER} container (containers: ${containers}), so there is no Envoy to read; enable sidecar injection for namespace ${pod.namespace} (meshctl install --target kubernetes -n ${pod.namespace}) and restart the pod.`, EXIT.environment);
  }
  return object;
}

/**
 * The admin model of the pod's Envoy through a port-forward; `close()` ends the forward. The adapter is
 * the one `inspect --admin-url` uses, so a cluster's pod prints exactly what a local admin API does.
 */
export async function openPodAdmin(client: KubeClient, pod: PodRef, options: { timeoutMs?: number; now?: () => Date; rateWindowMs?: number } = {}): Promise<ForwardedAdmin> {
  await readProxyPod(client, pod);
  const forward = await PortForward.open(client, pod, ENVOY_ADMIN_PORT, { timeoutMs: options.timeoutMs });
  try {
    const [{ EnvoyAdminAdapter }, { EnvoyAdminClient }] = await Promise.all([import('../runtime/envoy/adapter.js'), import('../runtime/envoy/admin-client.js')]);
    const inner = new EnvoyAdminAdapter(new EnvoyAdminClient(forward.url, { timeoutMs: options.timeoutMs }), options.now, { rateWindowMs: options.rateWindowMs });
    const admin = new ForwardedAdmin(inner, forward, { runtime: 'envoy', kind: 'admin', target: `pod ${pod.namespace}/${pod.name} (context ${client.access.context})` });
    await admin.guard(() => inner.verify());
    return admin;
  } catch (err) {
    await forward.close();
    throw err;
  }
}

/** The admin adapter of a forwarded pod: the same sections, errors that name the pod, and the forward to close. */
export class ForwardedAdmin implements ProxyAdapter {
  constructor(private readonly inner: ProxyAdapter, private readonly forward: PortForward, readonly source: ProxySource) {}

  /** Runs a read; an error that names the forward's local address names the pod instead. */
  async guard<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof MeshctlError) || !err.message.includes(this.forward.url)) throw err;
      const pod = `pod ${this.forward.pod.namespace}/${this.forward.pod.name}`;
      const why = this.forward.lastError ?? err.message.replace(/; (check|point|forward) .*$/, '').replace(/\.$/, '');
      const message = this.forward.lastError
        ? `Reading the Envoy admin API of ${pod} through a port-forward to ${this.forward.port} failed: ${why.replace(/\.$/, '')}.`
        : `${why.replaceAll(`The Envoy admin API at ${this.forward.url}`, `The Envoy admin API of ${pod} (port ${this.forward.port}, through a port-forward)`).replaceAll(this.forward.url, `${pod}:${this.forward.port}`)}.`;
      const wrapped = new MeshctlError(message, err.exitCode);
      // Keep what inspect tells a missing endpoint by (an HTTP 404 is a gap in one section, not a failure).
      Object.assign(wrapped, { status: (err as { status?: number }).status, endpoint: (err as { endpoint?: string }).endpoint });
      throw wrapped;
    }
  }

  health(): Promise<Health> {
    return this.guard(() => this.inner.health());
  }

  listeners(): Promise<Listener[]> {
    return this.guard(() => this.inner.listeners());
  }

  routes(): Promise<RouteConfig[]> {
    return this.guard(() => this.inner.routes());
  }

  clusters(): Promise<Cluster[]> {
    return this.guard(() => this.inner.clusters());
  }

  endpoints(): Promise<Endpoint[]> {
    return this.guard(() => this.inner.endpoints());
  }

  stats(): Promise<Stats> {
    return this.guard(() => this.inner.stats());
  }

  certs(): Promise<Certificate[]> {
    return this.guard(() => this.inner.certs());
  }

  config(): Promise<unknown> {
    return this.guard(() => this.inner.config());
  }

  close(): Promise<void> {
    return this.forward.close();
  }
}
