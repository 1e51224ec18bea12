// virtualservice.DestinationHostAnalyzer: every route and mirror destination must reach a Service or a
// ServiceEntry host visible where the VirtualService is used (IST0101), name a port the host has
// (IST0101) or name one when the host has several (IST0112); and routes of a gateway VirtualService
// without a subset are flagged when a mesh VirtualService splits the same host by subset (IST0140).
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { listOf, specOf } from '../spec.js';
import { mirrorDestinationsOf, routeDestinationsOf, type RouteDestination } from './util.js';
import type { HostNames } from '../hosts.js';
import { consumersOf, hostNames, ServiceHostIndex, type ServiceHost } from './hosts.js';
import { fewWords } from './groups.js';

function vsName(vs: Resource): string {
  return vs.namespace ? `${vs.namespace}/${vs.name}` : vs.name;
}

function describe(d: RouteDestination): string {
  return d.section === 'http.mirror' || d.section === 'http.mirrors' ? 'Mirror host' : 'Destination host';
}

function checkPorts(ctx: AnalysisContext, vs: Resource, d: RouteDestination, target: ServiceHost): void {
  const what = () => `${target.kind} ${target.resource.namespace ? `${target.resource.namespace}/` : ''}${target.resource.name}`;
  if (d.port === undefined) {
    if (target.ports.length > 1) {
      ctx.report(
        'IST0112',
        vs,
        `${d.pointer}/port`,
        `${describe(d)} ${d.host} in VirtualService ${vsName(vs)} names no port, but ${what()} exposes ports ${fewWords(target.ports.map(String))}; add destination.port.number.`,
      );
    }
    return;
  }
  if (!target.ports.includes(d.port)) {
    const has = target.ports.length ? `only exposes ${fewWords(target.ports.map(String))}` : 'declares no ports';
    ctx.report(
      'IST0101',
      vs,
      `${d.pointer}/port/number`,
      `Port ${d.port} of ${describe(d).toLowerCase()} ${d.host} in VirtualService ${vsName(vs)} is not a port of ${what()}, which ${has}; use one of its ports.`,
    );
  }
}

function checkHosts(ctx: AnalysisContext, vs: Resource, index: ServiceHostIndex): void {
  const consumers = consumersOf(ctx, vs);
  checkDestinations(ctx, vs, index, consumers, routeDestinationsOf(ctx, vs));
  checkDestinations(ctx, vs, index, consumers, mirrorDestinationsOf(ctx, vs));
}

function checkDestinations(ctx: AnalysisContext, vs: Resource, index: ServiceHostIndex, consumers: string[], destinations: readonly RouteDestination[]): void {
  for (let i = 0; i < destinations.length; i++) {
    const d = destinations[i]!;
    const target = index.resolveFqdn(d.fqdnIn(index.names, vs.namespace), consumers);
    if (!target) {
      const named = consumers.filter(Boolean);
      const where = named.length ? ` visible from namespace${named.length > 1 ? 's' : ''} ${fewWords(named)}` : '';
      const message = d.host
        ? `${describe(d)} ${d.host} in VirtualService ${vsName(vs)} matches no Service or ServiceEntry${where}; fix the host, add the ServiceEntry, or export the service to that namespace.`
        : `A ${d.section.startsWith('http.mirror') ? 'mirror' : 'route destination'} of VirtualService ${vsName(vs)} names no host; set its host to a Service or ServiceEntry host.`;
      ctx.report('IST0101', vs, `${d.pointer}/host`, message);
      continue;
    }
    checkPorts(ctx, vs, d, target);
  }
}

/** Hosts (as FQDNs) that mesh VirtualServices split by subset, with the VirtualService doing it. */
function subsetRoutedHosts(ctx: AnalysisContext, names: HostNames): Map<string, Resource[]> {
  const out = new Map<string, Resource[]>();
  const services = ctx.of(K.VirtualService);
  for (let v = 0; v < services.length; v++) {
    const vs = services[v]!;
    let own: string[] | undefined;
    const destinations = routeDestinationsOf(ctx, vs);
    for (let i = 0; i < destinations.length; i++) {
      const d = destinations[i]!;
      if (d.section !== 'http' || !d.subset) continue;
      own ??= ownHosts(vs, names);
      const fqdn = d.fqdnIn(names, vs.namespace);
      if (!own.includes(fqdn)) continue;
      let list = out.get(fqdn);
      if (!list) out.set(fqdn, (list = []));
      if (!list.includes(vs)) list.push(vs);
    }
  }
  return out;
}

/** A VirtualService's own hosts as FQDNs. */
function ownHosts(vs: Resource, names: HostNames): string[] {
  const out: string[] = [];
  for (const h of listOf(specOf(vs, K.VirtualService).hosts)) if (typeof h === 'string') out.push(names.fqdn(vs.namespace, h));
  return out;
}

function checkIngressSubsets(ctx: AnalysisContext, vs: Resource, splitHosts: () => Map<string, Resource[]>, names: HostNames): void {
  if (listOf(specOf(vs, K.VirtualService).gateways).length === 0) return;
  const split = splitHosts();
  for (const d of routeDestinationsOf(ctx, vs)) {
    if (d.section !== 'http' || d.subset) continue;
    for (const other of split.get(d.fqdnIn(names, vs.namespace)) ?? []) {
      ctx.report(
        'IST0140',
        vs,
        `${d.pointer}/host`,
        `Gateway VirtualService ${vsName(vs)} routes to ${d.host} without a subset, so the subset routing of VirtualService ${vsName(other)} does not apply to its requests; route to a subset here too.`,
      );
    }
  }
}

export const destinationHosts: Analyzer = {
  name: 'virtualservice.DestinationHostAnalyzer',
  description: 'Checks the destination hosts associated with each virtual service',
  inputs: [K.ServiceEntry, K.VirtualService, K.Service],
  codes: ['IST0101', 'IST0112', 'IST0140'],
  run(ctx) {
    const names = hostNames(ctx);
    const index = ServiceHostIndex.of(ctx);
    // Only gateway VirtualServices read the hosts split by subset: built when the first one is met.
    let split: Map<string, Resource[]> | undefined;
    const splitHosts = () => (split ??= subsetRoutedHosts(ctx, names));
    const services = ctx.of(K.VirtualService);
    for (let v = 0; v < services.length; v++) {
      const vs = services[v]!;
      checkHosts(ctx, vs, index);
      checkIngressSubsets(ctx, vs, splitHosts, names);
    }
  },
};
