// Traffic splits of a VirtualService: Istio accepts any non-negative weights and splits in proportion,
// so a sum other than 100 is legal but rarely what the author meant; an all-zero split is rejected.
import type { AnalysisContext, Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { listOf, numberOf, objectOf, specOf, type Mistyped, type VirtualServiceSpecHttp, type VirtualServiceSpecTcp, type VirtualServiceSpecTls } from '../spec.js';
import { routeLabel } from './util.js';

/** A route of any of the three sections: each holds weighted destinations under `route`. */
type WeightedRoute = VirtualServiceSpecHttp | VirtualServiceSpecTcp | VirtualServiceSpecTls;

const ROUTE_KINDS = [
  { field: 'http', label: '' },
  { field: 'tcp', label: 'TCP' },
  { field: 'tls', label: 'TLS' },
] as const;

export const routeWeights: Analyzer = {
  name: 'meshctl.RouteWeights',
  description: 'Checks that the destination weights of each VirtualService route sum to 100 and are not all zero.',
  inputs: [K.VirtualService],
  codes: ['MSH2001', 'MSH2002'],
  run(ctx) {
    for (const vs of ctx.of(K.VirtualService)) {
      const spec = specOf(vs, K.VirtualService);
      for (let k = 0; k < ROUTE_KINDS.length; k++) {
        const { field, label } = ROUTE_KINDS[k]!;
        const routes = listOf<WeightedRoute | Mistyped>(spec[field]);
        for (let i = 0; i < routes.length; i++) checkRoute(ctx, vs, field, label, routes[i], i);
      }
    }
  },
};

/** One route's weights; the message parts are built only for a route that gets a finding. */
function checkRoute(ctx: AnalysisContext, vs: Resource, field: string, label: string, route: WeightedRoute | Mistyped, i: number): void {
  const destinations = listOf(objectOf(route).route);
  if (destinations.length === 0) return;
  let sum = 0;
  let firstGiven = -1;
  for (let k = 0; k < destinations.length; k++) {
    const w = objectOf(destinations[k]).weight;
    if (w === undefined || w === null) continue;
    if (typeof w === 'number' && Number.isInteger(w) && w >= 0) {
      sum += w;
      if (firstGiven === -1) firstGiven = k;
    } else {
      return; // Not a weight at all: the schema check reports it.
    }
  }
  if (destinations.length === 1) {
    // Istio sends everything to a lone destination whatever its weight says.
    if (firstGiven === 0 && sum !== 100) {
      ctx.report('MSH2001', vs, weightPointer(field, i, firstGiven), `${cap(where(vs, label, route, i))} gives its only destination weight ${sum}, but a lone destination receives 100% of traffic; set the weight to 100 or remove it.`);
    }
    return;
  }
  if (sum === 0) {
    ctx.report('MSH2002', vs, weightPointer(field, i, firstGiven), `${cap(where(vs, label, route, i))} gives all ${destinations.length} destinations weight 0, which Istio rejects; give at least one destination a positive weight.`);
    return;
  }
  if (sum !== 100) {
    // Every given weight is a non-negative integer here (any other value returned above).
    const weights = destinations.map((d) => {
      const w = numberOf(objectOf(d).weight);
      return w === undefined ? { value: 0, given: false } : { value: w, given: true };
    });
    const missing = weights.filter((w) => !w.given).length;
    const terms = weights.map((w) => `${w.value}%`).join(' + ');
    const note = missing ? ` (${missing === 1 ? 'a destination without a weight counts' : `${missing} destinations without a weight count`} as 0%)` : '';
    ctx.report('MSH2001', vs, weightPointer(field, i, firstGiven), `${cap(where(vs, label, route, i))} sends ${terms} = ${sum}% of traffic${note}; make the weights sum to 100.`);
  }
}

function weightPointer(field: string, i: number, firstGiven: number): string {
  return `/spec/${field}/${i}/route/${firstGiven === -1 ? 0 : firstGiven}/weight`;
}

function where(vs: Resource, label: string, route: WeightedRoute | Mistyped, i: number): string {
  return `${label ? `${label} ` : ''}${routeLabel(route, i)} of VirtualService ${vs.name}`;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
