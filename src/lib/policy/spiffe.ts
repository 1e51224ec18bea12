// Workload identities as SPIFFE IDs, the form Istio gives them: what a sidecar presents, what a
// certificate's URI SAN carries, and what AuthorizationPolicy principals name (without the scheme).
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export interface WorkloadIdentity {
  namespace: string;
  serviceAccount: string;
  trustDomain?: string;
}

/** `spiffe://<trust domain>/ns/<namespace>/sa/<service account>` */
export function spiffeId(identity: WorkloadIdentity): string {
  const td = identity.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  for (const [what, v] of [['namespace', identity.namespace], ['service account', identity.serviceAccount]] as const) {
    if (!v || /[/\s]/.test(v)) throw new Error(`A SPIFFE ID needs a ${what} without slashes or spaces; got "${v}".`);
  }
  return `spiffe://${td}/ns/${identity.namespace}/sa/${identity.serviceAccount}`;
}

/** Splits a Kubernetes-style SPIFFE ID into its parts; null when it is not one. */
export function parseSpiffeId(id: string): Required<WorkloadIdentity> | null {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(id);
  return m ? { trustDomain: m[1], namespace: m[2], serviceAccount: m[3] } : null;
}
