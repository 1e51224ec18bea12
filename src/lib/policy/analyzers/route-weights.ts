// Traffic splits of a VirtualService: Istio accepts any non-negative weights and splits in proportion,
// so a sum other than 100 is legal but rarely what the author meant; an all-zero split is rejected.
import type { Analyzer } from '../analysis.js';
import { K } from '../kinds.js';
import { asArray, asObject, routeLabel } from './util.js';

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
      const spec = asObject(vs.spec);
      for (const { field, label } of ROUTE_KINDS) {
        asArray(spec[field]).forEach((route, i) => {
          const destinations = asArray(asObject(route).route);
          if (destinations.length === 0) return;
          const weights: { value: number; given: boolean }[] = [];
          for (const d of destinations) {
            const w = asObject(d).weight;
            if (w === undefined || w === null) {
              weights.push({ value: 0, given: false });
            } else if (typeof w === 'number' && Number.isInteger(w) && w >= 0) {
              weights.push({ value: w, given: true });
            } else {
              return; // Not a weight at all: the schema check reports it.
            }
          }
          const firstGiven = weights.findIndex((w) => w.given);
          const pointer = `/spec/${field}/${i}/route/${firstGiven === -1 ? 0 : firstGiven}/weight`;
          const where = `${label ? `${label} ` : ''}${routeLabel(route, i)} of VirtualService ${vs.name}`;
          const sum = weights.reduce((a, w) => a + w.value, 0);

          if (destinations.length === 1) {
            // Istio sends everything to a lone destination whatever its weight says.
            const w = weights[0]!;
            if (w.given && w.value !== 100) {
              ctx.report('MSH2001', vs, pointer, `${cap(where)} gives its only destination weight ${w.value}, but a lone destination receives 100% of traffic; set the weight to 100 or remove it.`);
            }
            return;
          }
          if (sum === 0) {
            ctx.report('MSH2002', vs, pointer, `${cap(where)} gives all ${destinations.length} destinations weight 0, which Istio rejects; give at least one destination a positive weight.`);
            return;
          }
          if (sum !== 100) {
            const missing = weights.filter((w) => !w.given).length;
            const terms = weights.map((w) => `${w.value}%`).join(' + ');
            const note = missing ? ` (${missing === 1 ? 'a destination without a weight counts' : `${missing} destinations without a weight count`} as 0%)` : '';
            ctx.report('MSH2001', vs, pointer, `${cap(where)} sends ${terms} = ${sum}% of traffic${note}; make the weights sum to 100.`);
          }
        });
      }
    }
  },
};

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
