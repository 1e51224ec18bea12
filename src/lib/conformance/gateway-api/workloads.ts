// The one place where the local mesh differs from a cluster for the Gateway API conformance suite:
// its Deployments of the suite's echo images become Workloads running meshctl's echo app
// (examples/gateway-api/echo.mjs), with the same labels, namespace and replica count.
//
// Pod names keep the shape the suite's harness reads: a Deployment's pods are named
// `<deployment>-<replicaset hash>-<pod hash>`, and the harness finds the backend by dropping the last
// two dash-separated parts. A local pod is `<workload>-<n>`, so the Workload is named
// `<deployment>-<namespace tag>` (the namespace's distinguishing labels without dashes, which also
// keeps pod names unique across namespaces as the local mesh requires): `infra-backend-v1` in
// `gateway-conformance-infra` runs as pods `infra-backend-v1-infra-0` and `infra-backend-v1-infra-1`.
import type { Resource } from '../../policy/load.js';
import { K } from '../../policy/kinds.js';

const ECHO_IMAGE = /\/gateway-api\/conformance\/echo-(basic|advanced)(:|@|$)/;

export interface WorkloadMapping {
  /** Workload objects (apiVersion meshctl.dev/v1alpha1), ready to be loaded as resources. */
  workloads: Record<string, unknown>[];
  /** Deployments left out (not of an echo image), one sentence each. */
  skipped: string[];
}

/** The dash-free tags that tell `namespaces` apart: their dash-separated labels after the ones they all share. */
export function namespaceTags(namespaces: string[]): Map<string, string> {
  const split = [...new Set(namespaces)].map((n) => n.split('-'));
  let shared = 0;
  while (split.length > 1 && split.every((s) => s.length > shared + 1 && s[shared] === split[0][shared])) shared++;
  return new Map(split.map((s) => [s.join('-'), s.slice(shared).join('')]));
}

export function echoWorkloads(resources: Resource[], echoScript: string): WorkloadMapping {
  const deployments = resources.filter((r) => r.kindId === K.Deployment);
  const tags = namespaceTags(deployments.map((d) => d.namespace || 'default'));
  const workloads: Record<string, unknown>[] = [];
  const skipped: string[] = [];
  for (const d of deployments) {
    const namespace = d.namespace || 'default';
    const template = d.spec?.template ?? {};
    const containers: Record<string, unknown>[] = Array.isArray(template.spec?.containers) ? template.spec.containers : [];
    if (!containers.some((c) => typeof c.image === 'string' && ECHO_IMAGE.test(c.image))) {
      skipped.push(`Deployment ${namespace}/${d.name} runs no echo image of the suite; it has no local Workload.`);
      continue;
    }
    workloads.push({
      apiVersion: 'meshctl.dev/v1alpha1',
      kind: 'Workload',
      metadata: { name: `${d.name}-${tags.get(namespace)}`, namespace, labels: { ...(template.metadata?.labels ?? {}) } },
      spec: {
        command: ['node', echoScript],
        // The suite's pods read these from the downward API.
        env: { NAMESPACE: namespace },
        replicas: Number.isInteger(d.spec?.replicas) ? d.spec.replicas : 1,
      },
    });
  }
  return { workloads, skipped };
}
