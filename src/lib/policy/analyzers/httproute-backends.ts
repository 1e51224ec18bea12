// Gateway API routes send traffic to backendRefs: a Service that does not exist, or one in another
// namespace that no ReferenceGrant opens up, leaves the backend invalid (requests get 500s); so do
// weights that are all zero. A route bound to Services alone (GAMMA) needs no ReferenceGrant: it only
// adds to what its clients can reach already (GEP-1294).
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { boundToServicesAlone } from '../gateway-api/types.js';
import { listOf, objectOf, specOf, type GRPCRouteSpec, type GRPCRouteSpecRules, type GRPCRouteSpecRulesBackendRefs, type HTTPRouteSpec, type HTTPRouteSpecRules, type HTTPRouteSpecRulesBackendRefs, type Mistyped } from '../spec.js';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** True when a ReferenceGrant in `namespace` lets `routeKind`s of `fromNamespace` refer to Service `name`. */
function granted(ctx: AnalysisContext, routeKind: string, fromNamespace: string, namespace: string, name: string): boolean {
  return ctx.of(K.ReferenceGrant).some((grant) => {
    if (grant.namespace !== namespace) return false;
    const spec = specOf(grant, K.ReferenceGrant);
    const from = listOf(spec.from).map(objectOf).some((f) => f.group === GATEWAY_GROUP && f.kind === routeKind && f.namespace === fromNamespace);
    const to = listOf(spec.to).map(objectOf).some((t) => (t.group ?? '') === '' && t.kind === 'Service' && (t.name === undefined || t.name === null || t.name === '' || t.name === name));
    return from && to;
  });
}

function checkRoute(ctx: AnalysisContext, route: Resource): void {
  const spec: HTTPRouteSpec | GRPCRouteSpec = route.kindId === K.GRPCRoute ? specOf(route, K.GRPCRoute) : specOf(route, K.HTTPRoute);
  const meshOnly = boundToServicesAlone(listOf(spec.parentRefs).map(objectOf));
  listOf<HTTPRouteSpecRules | GRPCRouteSpecRules | Mistyped>(spec.rules).forEach((rule, i) => {
    const refs = listOf<HTTPRouteSpecRulesBackendRefs | GRPCRouteSpecRulesBackendRefs | Mistyped>(objectOf(rule).backendRefs).map(objectOf);
    refs.forEach((ref, j) => {
      const group = ref.group ?? '';
      const kind = ref.kind ?? 'Service';
      if (group !== '' || kind !== 'Service' || typeof ref.name !== 'string' || ref.name === '') return;
      const namespace = typeof ref.namespace === 'string' && ref.namespace !== '' ? ref.namespace : route.namespace;
      const field = `rule ${i} of ${route.kind} ${route.name}`;
      if (!ctx.find(K.Service, namespace, ref.name)) {
        ctx.report(
          'MSH2011',
          route,
          `/spec/rules/${i}/backendRefs/${j}/name`,
          `${cap(field)} sends traffic to Service ${namespace}/${ref.name} (backendRefs[${j}]), which no input defines; fix the name${ref.namespace ? ' or namespace' : ''} or add the Service.`,
        );
      }
      if (!meshOnly && namespace !== route.namespace && !granted(ctx, route.kind, route.namespace, namespace, ref.name)) {
        ctx.report(
          'MSH2011',
          route,
          `/spec/rules/${i}/backendRefs/${j}/namespace`,
          `${cap(field)} refers to Service ${ref.name} in namespace ${namespace} (backendRefs[${j}]), but no ReferenceGrant there allows ${route.kind}s from namespace ${route.namespace}; add a ReferenceGrant in ${namespace} from ${route.kind} in ${route.namespace} to Service.`,
        );
      }
    });
    if (refs.length > 0 && refs.every((ref) => ref.weight === 0)) {
      ctx.report(
        'MSH2012',
        route,
        `/spec/rules/${i}/backendRefs/0/weight`,
        `Rule ${i} of ${route.kind} ${route.name} gives all its backendRefs weight 0, so every request it matches gets an HTTP 500; give at least one backend a positive weight.`,
      );
    }
  });
}

export const httpRouteBackends: Analyzer = {
  name: 'meshctl.HTTPRouteBackends',
  description: 'Checks that Gateway API HTTPRoute and GRPCRoute backendRefs name existing, permitted Services and do not all weigh zero.',
  inputs: [K.HTTPRoute, K.GRPCRoute, K.Service, K.ReferenceGrant],
  codes: ['MSH2011', 'MSH2012'],
  run(ctx) {
    for (const route of [...ctx.of(K.HTTPRoute), ...ctx.of(K.GRPCRoute)]) checkRoute(ctx, route);
  },
};

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
