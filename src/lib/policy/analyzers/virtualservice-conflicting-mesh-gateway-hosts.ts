// virtualservice.ConflictingMeshGatewayHostsAnalyzer: two VirtualServices bound to the mesh gateway that
// claim the same host for the same namespaces leave the routing undefined (IST0109). Hosts are compared
// per exportTo scope: a host exported to some namespaces conflicts with the same host there, or with a
// host exported everywhere that overlaps it (wildcards included).
import type { Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { asArray } from './util.js';
import { EXPORT_ALL, exportScopes, exportToList, hostMatches, hostNames, MESH_GATEWAY } from './hosts.js';

interface Claim {
  vs: Resource;
  hostIndex: number;
  host: string;
}

function boundToMesh(vs: Resource): boolean {
  const gateways = asArray(vs.spec?.gateways);
  return gateways.length === 0 || gateways.includes(MESH_GATEWAY);
}

function fullName(vs: Resource): string {
  return vs.namespace ? `${vs.namespace}/${vs.name}` : vs.name;
}

export const conflictingMeshGatewayHosts: Analyzer = {
  name: 'virtualservice.ConflictingMeshGatewayHostsAnalyzer',
  description: 'Checks if multiple virtual services associated with the mesh gateway have conflicting hosts',
  inputs: [K.VirtualService],
  codes: ['IST0109'],
  run(ctx) {
    const names = hostNames(ctx);
    // scope → FQDN → claims, in input order.
    const claims = new Map<string, Map<string, Claim[]>>();
    // A second definition of one VirtualService is MSH1012's finding, not a conflict with itself.
    const redefined = new Set(ctx.redefined.map((r) => r.resource));
    for (const vs of ctx.of(K.VirtualService)) {
      if (!boundToMesh(vs) || redefined.has(vs)) continue;
      const scopes = exportScopes(exportToList(vs.spec?.exportTo), vs.namespace);
      asArray(vs.spec?.hosts).forEach((h, hostIndex) => {
        if (typeof h !== 'string') return;
        const host = names.fqdn(vs.namespace, h);
        for (const scope of scopes) {
          let byHost = claims.get(scope);
          if (!byHost) claims.set(scope, (byHost = new Map()));
          let list = byHost.get(host);
          if (!list) byHost.set(host, (list = []));
          if (!list.some((c) => c.vs === vs)) list.push({ vs, hostIndex, host });
        }
      });
    }
    const everywhere = claims.get(EXPORT_ALL) ?? new Map<string, Claim[]>();
    // For each VirtualService: the first conflicting host it declares, and every other VirtualService in conflict.
    const conflicts = new Map<Resource, { claim: Claim; hosts: Set<string>; others: Set<Resource> }>();
    const note = (group: Claim[]) => {
      if (group.length < 2) return; // One claim conflicts with nothing.
      const members = new Set(group.map((c) => c.vs));
      if (members.size < 2) return;
      for (const c of group) {
        let entry = conflicts.get(c.vs);
        if (!entry) conflicts.set(c.vs, (entry = { claim: c, hosts: new Set(), others: new Set() }));
        else if (c.hostIndex < entry.claim.hostIndex) entry.claim = c;
        entry.hosts.add(c.host);
        for (const m of members) if (m !== c.vs) entry.others.add(m);
      }
    };
    for (const [scope, byHost] of claims) {
      for (const [host, list] of byHost) {
        if (scope === EXPORT_ALL) {
          note(list);
          continue;
        }
        const group = [...list];
        for (const [otherHost, otherList] of everywhere) {
          if (hostMatches(host, otherHost)) group.push(...otherList);
        }
        note(group);
      }
    }
    for (const [vs, { claim, hosts, others }] of conflicts) {
      const names = [...others].map(fullName).sort();
      ctx.report(
        'IST0109',
        vs,
        `/spec/hosts/${claim.hostIndex}`,
        `Host${hosts.size > 1 ? 's' : ''} ${[...hosts].sort().join(', ')} of VirtualService ${fullName(vs)} on the mesh gateway overlap${hosts.size > 1 ? '' : 's'} the hosts of VirtualService${names.length > 1 ? 's' : ''} ${names.join(', ')} in the same namespaces, so which routes apply is undefined; merge them into one VirtualService or narrow their hosts or exportTo.`,
      );
    }
  },
};
