// An ALLOW policy is a list of what to let through; with no rules it lets nothing through, and every
// request to the workloads it selects is denied. Istio documents this as its allow-nothing pattern, so it
// is only a warning: intended lock-downs stay legal, accidental ones get noticed.
import type { Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { listOf, objectOf, specOf } from '../spec.js';

/** Who the policy applies to, as a phrase: "every workload in namespace shop", "workloads labelled app=web in namespace shop". */
function scopeOf(policy: Resource, rootNamespace: string): string {
  const spec = specOf(policy, K.AuthorizationPolicy);
  const refs = [...(spec.targetRef ? [spec.targetRef] : []), ...listOf(spec.targetRefs)].map((ref) => objectOf(ref));
  if (refs.length > 0) {
    const names = refs.map((r) => `${typeof r.kind === 'string' ? r.kind : 'target'} ${typeof r.name === 'string' ? r.name : '?'}`);
    return `the targeted ${names.join(', ')} in namespace ${policy.namespace}`;
  }
  const labels = Object.entries(objectOf(objectOf(spec.selector).matchLabels));
  if (labels.length > 0) {
    return `workloads labelled ${labels.map(([k, v]) => `${k}=${String(v)}`).join(',')} in namespace ${policy.namespace}`;
  }
  if (policy.namespace === rootNamespace) return 'every workload in the mesh';
  return `every workload in namespace ${policy.namespace}`;
}

export const allowWithoutRules: Analyzer = {
  name: 'meshctl.AllowWithoutRules',
  description: 'Finds ALLOW AuthorizationPolicies without rules, which deny every request to the workloads they select.',
  inputs: [K.AuthorizationPolicy],
  codes: ['MSH2008'],
  run(ctx) {
    for (const policy of ctx.of(K.AuthorizationPolicy)) {
      const spec = specOf(policy, K.AuthorizationPolicy);
      const action = spec.action ?? 'ALLOW';
      if (action !== 'ALLOW') continue;
      if (Array.isArray(spec.rules) && spec.rules.length > 0) continue;
      // A dry-run policy is only logged, never enforced.
      if (policy.annotations['istio.io/dry-run'] === 'true') continue;
      ctx.report(
        'MSH2008',
        policy,
        '/spec/rules',
        `AuthorizationPolicy ${policy.name} allows with no rules, so every request to ${scopeOf(policy, ctx.meshConfig.rootNamespace || ctx.istioNamespace)} is denied (Istio's allow-nothing pattern); add rules if that is not intended.`,
      );
    }
  },
};
