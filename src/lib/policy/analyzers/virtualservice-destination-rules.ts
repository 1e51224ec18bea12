// virtualservice.DestinationRuleAnalyzer: a route or mirror destination that names a subset needs a
// DestinationRule for its host, visible where the VirtualService is used, that defines the subset (IST0101).
import type { Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { virtualServiceMirrorDestinations, virtualServiceRouteDestinations } from './util.js';
import { applicableDestinationRules, clusterDomainOf, destinationRuleHosts, toFqdn, virtualServiceConsumers } from './hosts.js';

function vsName(vs: Resource): string {
  return vs.namespace ? `${vs.namespace}/${vs.name}` : vs.name;
}

export const destinationRules: Analyzer = {
  name: 'virtualservice.DestinationRuleAnalyzer',
  description: 'Checks the destination rules associated with each virtual service',
  inputs: [K.VirtualService, K.DestinationRule],
  codes: ['IST0101'],
  run(ctx) {
    const domain = clusterDomainOf(ctx);
    const rules = destinationRuleHosts(ctx);
    for (const vs of ctx.of(K.VirtualService)) {
      const consumers = virtualServiceConsumers(vs);
      for (const d of [...virtualServiceRouteDestinations(vs.spec), ...virtualServiceMirrorDestinations(vs.spec)]) {
        if (!d.subset) continue;
        const fqdn = toFqdn(vs.namespace, d.host, domain);
        const applicable = applicableDestinationRules(rules, fqdn, consumers);
        if (applicable.some((r) => r.subsets.includes(d.subset))) continue;
        const what = d.section.startsWith('http.mirror') ? 'Mirror' : 'Route';
        const message = applicable.length
          ? `${what} subset ${d.subset} of host ${d.host} in VirtualService ${vsName(vs)} is not defined by DestinationRule ${applicable
              .map((r) => (r.resource.namespace ? `${r.resource.namespace}/${r.resource.name}` : r.resource.name))
              .join(', ')}; add the subset there or fix the name.`
          : `${what} subset ${d.subset} of host ${d.host} in VirtualService ${vsName(vs)} has no DestinationRule for that host visible here; add one that defines the subset.`;
        ctx.report('IST0101', vs, `${d.pointer}/subset`, message);
      }
    }
  },
};
