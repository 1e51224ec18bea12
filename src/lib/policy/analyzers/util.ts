// Helpers shared by analyzers: host names, label selectors, namespaces.
export const CLUSTER_DOMAIN = 'cluster.local';

/** `reviews` in `default` → `reviews.default.svc.cluster.local`; names with a dot (or `*`) are kept. */
export function fqdn(namespace: string, host: string): string {
  if (host === '*' || host.includes('.')) return host;
  return `${host}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}

/** The Kubernetes Service a host names, when it is a cluster-local name. */
export function serviceOfHost(namespace: string, host: string): { name: string; namespace: string } | undefined {
  const full = fqdn(namespace, host);
  const suffix = `.svc.${CLUSTER_DOMAIN}`;
  if (!full.endsWith(suffix)) return undefined;
  const parts = full.slice(0, -suffix.length).split('.');
  if (parts.length !== 2) return undefined;
  return { name: parts[0]!, namespace: parts[1]! };
}

/** A map selector (matchLabels semantics) matches when every key/value is present. An empty selector matches all. */
export function selectorMatches(selector: Record<string, unknown> | undefined | null, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector)) {
    if (labels[key] !== String(value)) return false;
  }
  return true;
}

export function isSystemNamespace(namespace: string): boolean {
  return ['kube-system', 'kube-public', 'istio-system', 'local-path-storage', 'kube-node-lease'].includes(namespace);
}

export function asArray<T = unknown>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

export function asObject(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

// ---- Mesh membership, as Istio's analyzers judge it ----

/** Namespaces Istio never injects and whose Services its port-name check skips (istio-system is not one of them). */
export const INJECTION_IGNORED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage'];

/** A label or matchLabels map as strings (YAML may give numbers or booleans; null becomes ''). */
export function stringLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, val] of Object.entries(asObject(v))) out[key] = val === null || val === undefined ? '' : String(val);
  return out;
}

/** `app=a,version=v1`: a matchLabels selector printed the way Kubernetes prints it (keys sorted). */
export function selectorString(selector: Record<string, string>): string {
  return Object.keys(selector)
    .sort()
    .map((key) => `${key}=${selector[key]}`)
    .join(',');
}

/** What the sidecar decision reads from a pod or a pod template. */
export interface PodShape {
  annotations: Record<string, string>;
  labels: Record<string, string>;
  namespace: string;
  containers: unknown[];
}

/** Looks up a Namespace resource's labels (the analysis context satisfies this). */
export interface NamespaceLookup {
  find(kindId: string, namespace: string, name: string): { labels: Record<string, string> } | undefined;
}

/**
 * Istio's sidecar decision: a container named istio-proxy with an image; otherwise the
 * sidecar.istio.io/inject label, then the annotation (only "true" injects); otherwise the
 * namespace's istio-injection=enabled label, when the Namespace is known.
 */
export function sidecarInjected(ctx: NamespaceLookup, pod: PodShape): boolean {
  for (const c of pod.containers) {
    const container = asObject(c);
    if (container.name === 'istio-proxy') {
      if (typeof container.image === 'string' && container.image !== '') return true;
      break;
    }
  }
  const inject = 'sidecar.istio.io/inject';
  if (inject in pod.labels) return pod.labels[inject] === 'true';
  if (inject in pod.annotations) return pod.annotations[inject] === 'true';
  const ns = ctx.find('core/Namespace', '', pod.namespace);
  if (ns) return ns.labels['istio-injection'] === 'enabled';
  return false;
}

/** A Pod resource's shape for the sidecar decision (init containers count, as in Istio). */
export function podShape(pod: { annotations: Record<string, string>; labels: Record<string, string>; namespace: string; spec: unknown }): PodShape {
  const spec = asObject(pod.spec);
  return { annotations: pod.annotations, labels: pod.labels, namespace: pod.namespace, containers: [...asArray(spec.containers), ...asArray(spec.initContainers)] };
}

/** A Deployment's pod template shape for the sidecar decision. */
export function deploymentPodShape(deployment: { namespace: string; spec: unknown }): PodShape {
  const template = asObject(asObject(deployment.spec).template);
  const metadata = asObject(template.metadata);
  return {
    annotations: stringLabels(metadata.annotations),
    labels: stringLabels(metadata.labels),
    namespace: deployment.namespace,
    containers: asArray(asObject(template.spec).containers),
  };
}

/** A pod captured by ambient mode (the redirection annotation the CNI sets). */
export function ambientRedirected(annotations: Record<string, string>): boolean {
  return annotations['ambient.istio.io/redirection'] === 'enabled';
}
