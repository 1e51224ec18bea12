// virtualservice.DestinationRuleAnalyzer: a route or mirror destination that names a subset needs a
// DestinationRule for its host, visible where the VirtualService is used, that defines the subset (IST0101).
import type { AnalysisContext, Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { mirrorDestinationsOf, routeDestinationsOf, type RouteDestination } from './util.js';
import type { HostNames } from '../hosts.js';
import { applicableDestinationRules, applicableRuleDefines, destinationRuleHosts, consumersOf, hostNames, type DestinationRuleHost } from './hosts.js';
import { fewWords } from './groups.js';

function vsName(vs: Resource): string {
  return vs.namespace ? `${vs.namespace}/${vs.name}` : vs.name;
}

export const destinationRules: Analyzer = {
  name: 'virtualservice.DestinationRuleAnalyzer',
  description: 'Checks the destination rules associated with each virtual service',
  inputs: [K.VirtualService, K.DestinationRule],
  codes: ['IST0101'],
  run(ctx) {
    const names = hostNames(ctx);
    const rules = destinationRuleHosts(ctx);
    for (const vs of ctx.of(K.VirtualService)) {
      checkSubsets(ctx, vs, rules, names, routeDestinationsOf(ctx, vs));
      checkSubsets(ctx, vs, rules, names, mirrorDestinationsOf(ctx, vs));
    }
  },
};

function checkSubsets(ctx: AnalysisContext, vs: Resource, rules: DestinationRuleHost[], names: HostNames, destinations: readonly RouteDestination[]): void {
  let consumers: string[] | undefined;
  for (let i = 0; i < destinations.length; i++) {
    const d = destinations[i]!;
    if (!d.subset) continue;
    const fqdn = d.fqdnIn(names, vs.namespace);
    consumers ??= consumersOf(ctx, vs);
    if (applicableRuleDefines(rules, fqdn, consumers, d.subset)) continue;
    const applicable = applicableDestinationRules(rules, fqdn, consumers);
    const what = d.section.startsWith('http.mirror') ? 'Mirror' : 'Route';
    const message = applicable.length
      ? `${what} subset ${d.subset} of host ${d.host} in VirtualService ${vsName(vs)} is not defined by DestinationRule ${fewWords(applicable.map((r) => (r.resource.namespace ? `${r.resource.namespace}/${r.resource.name}` : r.resource.name)))}; add the subset there or fix the name.`
      : `${what} subset ${d.subset} of host ${d.host} in VirtualService ${vsName(vs)} has no DestinationRule for that host visible here; add one that defines the subset.`;
    ctx.report('IST0101', vs, `${d.pointer}/subset`, message);
  }
}
