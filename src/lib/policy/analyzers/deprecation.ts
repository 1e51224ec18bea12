// deprecation.DeprecationAnalyzer (IST0002), with istioctl's semantics: the deprecated fields Istio still
// accepts but ignores or replaces, and the CRDs of kinds Istio removed.
import type { Analyzer } from '../analysis.js';
import { K } from '../kinds.js';
import { joinPointer } from '../locate.js';
import { listOf, objectOf, specOf } from '../spec.js';
import { asObject } from './util.js';

const CRD = 'apiextensions.k8s.io/CustomResourceDefinition';

/** Kinds whose CRDs Istio removed (the RBAC v1 API, replaced by AuthorizationPolicy). */
const REMOVED_KINDS: { group: string; kind: string }[] = [
  { group: 'rbac.istio.io', kind: 'ClusterRbacConfig' },
  { group: 'rbac.istio.io', kind: 'RbacConfig' },
  { group: 'rbac.istio.io', kind: 'ServiceRole' },
  { group: 'rbac.istio.io', kind: 'ServiceRoleBinding' },
];

export const deprecation: Analyzer = {
  name: 'deprecation.DeprecationAnalyzer',
  description: 'Checks for deprecated Istio fields and removed Istio resource types.',
  inputs: [K.VirtualService, K.Sidecar, CRD],
  codes: ['IST0002'],
  run(ctx) {
    for (const vs of ctx.of(K.VirtualService)) {
      listOf(specOf(vs, K.VirtualService).http).forEach((route, i) => {
        const delay = objectOf(objectOf(objectOf(route).fault).delay);
        const percent = delay.percent;
        if (typeof percent === 'number' && percent > 0) {
          ctx.report(
            'IST0002',
            vs,
            joinPointer('/spec/http', i, 'fault', 'delay', 'percent'),
            `spec.http[${i}].fault.delay.percent in VirtualService ${vs.name} is deprecated; use fault.delay.percentage.value instead (e.g. percentage: {value: ${percent}}).`,
          );
        }
      });
    }
    for (const sidecar of ctx.of(K.Sidecar)) {
      const policy = objectOf(specOf(sidecar, K.Sidecar).outboundTrafficPolicy);
      if (policy.egressProxy !== undefined && policy.egressProxy !== null) {
        ctx.report(
          'IST0002',
          sidecar,
          '/spec/outboundTrafficPolicy/egressProxy',
          `spec.outboundTrafficPolicy.egressProxy in Sidecar ${sidecar.name} is deprecated and ignored by Istio; remove it and route egress through an egress gateway.`,
        );
      }
    }
    for (const crd of ctx.of(CRD)) {
      const spec = asObject(crd.spec);
      const group = spec.group;
      const kind = asObject(spec.names).kind;
      const removed = REMOVED_KINDS.find((r) => r.group === group && r.kind === kind);
      if (removed) {
        ctx.report(
          'IST0002',
          crd,
          '/spec/names/kind',
          `CustomResourceDefinition ${crd.name} defines ${removed.kind} (${removed.group}), a type Istio removed; delete the CRD and its resources and use AuthorizationPolicy.`,
        );
      }
    }
  },
};
