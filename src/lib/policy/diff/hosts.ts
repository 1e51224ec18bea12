// Host names as Istio resolves them: a short name in a rule means the Service of that name in the rule's
// own namespace, so `reviews` in namespace default and `reviews.default.svc.cluster.local` are one host.
const CLUSTER_SUFFIX = '.svc.cluster.local';

export function qualifyHost(host: string, namespace: string): string {
  const h = host.trim().toLowerCase();
  if (!h || h.includes('*') || h.includes('/') || h.includes('.') || !namespace) return h;
  return `${h}.${namespace}${CLUSTER_SUFFIX}`;
}

/** The Service a Kubernetes name stands for, as a host. */
export function serviceHost(name: string, namespace: string): string {
  return `${name.toLowerCase()}.${namespace || 'default'}${CLUSTER_SUFFIX}`;
}

/** A host as people write it in review: `reviews.default` for a cluster Service, the name itself otherwise. */
export function shortHost(host: string): string {
  return host.endsWith(CLUSTER_SUFFIX) ? host.slice(0, -CLUSTER_SUFFIX.length) : host;
}
