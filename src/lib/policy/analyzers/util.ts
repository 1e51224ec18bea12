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
