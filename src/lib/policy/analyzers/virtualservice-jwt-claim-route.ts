// virtualservice.JWTClaimRouteAnalyzer: routing on a JWT claim (`@request.auth.claims.*` headers) only
// works on gateway pods that a RequestAuthentication applies to (IST0149).
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { joinPointer } from '../locate.js';
import { K } from '../kinds.js';
import { selectorMatches } from '../selectors.js';
import { listOf, objectOf, specOf } from '../spec.js';
import { MESH_GATEWAY, shortOrFullName } from './hosts.js';

const JWT_CLAIM_HEADER = '@request.auth.claims';

const HEADER_FIELDS = ['headers', 'withoutHeaders'] as const;

/** The first header match on a JWT claim, with its pointer. */
function claimRouteOf(vs: Resource): { key: string; pointer: string } | undefined {
  const http = listOf(specOf(vs, K.VirtualService).http);
  for (let i = 0; i < http.length; i++) {
    const matches = listOf(objectOf(http[i]).match);
    for (let j = 0; j < matches.length; j++) {
      const m = objectOf(matches[j]);
      for (const field of HEADER_FIELDS) {
        for (const key of Object.keys(objectOf(m[field]))) {
          if (key.startsWith(JWT_CLAIM_HEADER)) return { key, pointer: joinPointer(`/spec/http/${i}/match/${j}/${field}`, key) };
        }
      }
    }
  }
  return undefined;
}

function requestAuthSelectors(ctx: AnalysisContext): Map<string, (Record<string, unknown> | undefined)[]> {
  const byNamespace = new Map<string, (Record<string, unknown> | undefined)[]>();
  for (const ra of ctx.of(K.RequestAuthentication)) {
    let list = byNamespace.get(ra.namespace);
    if (!list) byNamespace.set(ra.namespace, (list = []));
    const labels = objectOf(specOf(ra, K.RequestAuthentication).selector).matchLabels;
    list.push(labels && typeof labels === 'object' && !Array.isArray(labels) ? (labels as Record<string, unknown>) : undefined);
  }
  return byNamespace;
}

export const jwtClaimRoute: Analyzer = {
  name: 'virtualservice.JWTClaimRouteAnalyzer',
  description: 'Checks the VirtualService using JWT claim based routing has corresponding RequestAuthentication',
  inputs: [K.VirtualService, K.RequestAuthentication, K.Gateway, K.Pod],
  codes: ['IST0149'],
  run(ctx) {
    const selectors = requestAuthSelectors(ctx);
    const rootNamespace = ctx.meshConfig.rootNamespace || ctx.istioNamespace;
    for (const vs of ctx.of(K.VirtualService)) {
      const claim = claimRouteOf(vs);
      if (!claim) continue;
      const vsId = vs.namespace ? `${vs.namespace}/${vs.name}` : vs.name;
      for (const ref of listOf(specOf(vs, K.VirtualService).gateways)) {
        if (typeof ref !== 'string' || ref === MESH_GATEWAY) continue;
        const { namespace, name } = shortOrFullName(vs.namespace, ref);
        // A missing gateway is the gateway analyzer's finding.
        const gateway = ctx.find(K.Gateway, namespace, name);
        if (!gateway) continue;
        const gwSelector = objectOf(specOf(gateway, K.Gateway).selector);
        for (const pod of ctx.of(K.Pod)) {
          if (!selectorMatches(gwSelector, pod.labels)) continue;
          const candidates = [...(selectors.get(rootNamespace) ?? []), ...(pod.namespace === rootNamespace ? [] : selectors.get(pod.namespace) ?? [])];
          if (candidates.some((sel) => selectorMatches(sel, pod.labels))) continue;
          const podId = pod.namespace ? `${pod.namespace}/${pod.name}` : pod.name;
          ctx.report(
            'IST0149',
            vs,
            claim.pointer,
            `VirtualService ${vsId} routes on JWT claim ${claim.key}, but no RequestAuthentication applies to pod ${podId} of gateway ${namespace ? `${namespace}/` : ''}${name}; add one selecting that pod, or the claim never matches.`,
          );
        }
      }
    }
  },
};
