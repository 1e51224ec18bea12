// virtualservice.ConflictingMeshGatewayHostsAnalyzer: two VirtualServices bound to the mesh gateway that
// claim the same host for the same namespaces leave the routing undefined (IST0109). Hosts are compared
// per exportTo scope: a host exported to some namespaces conflicts with the same host there, or with a
// host exported everywhere that overlaps it (wildcards included).
import type { Analyzer } from '../analysis.js';
import type { RawGroup } from '../findings.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { listOf, specOf } from '../spec.js';
import { fewOf, fewWords, NAMED_MEMBERS, othersOf, UnionFind } from './groups.js';
import { qualifiedName } from './workloads.js';
import { EXPORT_ALL, exportScopes, exportToList, hostMatches } from '../hosts.js';
import { hostNames, MESH_GATEWAY } from './hosts.js';

interface Claim {
  vs: Resource;
  /** The VirtualService's place in the input, for listing group members in reading order. */
  order: number;
  hostIndex: number;
  host: string;
}

/** Claims on one host in one scope; in a namespace scope, also the claims exported everywhere that overlap it. */
interface Overlap {
  /** The claims on the host in its scope, then each overlapping list exported everywhere. */
  lists: Claim[][];
  /** VirtualServices in the overlap. */
  size: number;
  firstNames?: string[];
}

interface Conflict {
  claim: Claim;
  overlap: Overlap;
  hosts: Set<string>;
}

function boundToMesh(vs: Resource): boolean {
  const gateways = listOf(specOf(vs, K.VirtualService).gateways);
  return gateways.length === 0 || gateways.includes(MESH_GATEWAY);
}

function firstNamesOf(overlap: Overlap): string[] {
  if (!overlap.firstNames) {
    const names = new Set<string>();
    for (const list of overlap.lists) for (const c of list) names.add(qualifiedName(c.vs));
    overlap.firstNames = [...names].sort().slice(0, NAMED_MEMBERS + 1);
  }
  return overlap.firstNames;
}

export const conflictingMeshGatewayHosts: Analyzer = {
  name: 'virtualservice.ConflictingMeshGatewayHostsAnalyzer',
  description: 'Checks if multiple virtual services associated with the mesh gateway have conflicting hosts',
  inputs: [K.VirtualService],
  codes: ['IST0109'],
  run(ctx) {
    const names = hostNames(ctx);
    const services = ctx.of(K.VirtualService);
    // scope → FQDN → claims, in input order, one per VirtualService.
    const claims = new Map<string, Map<string, Claim[]>>();
    // A second definition of one VirtualService is MSH1012's finding, not a conflict with itself.
    const redefined = new Set(ctx.redefined.map((r) => r.resource));
    services.forEach((vs, order) => {
      if (!boundToMesh(vs) || redefined.has(vs)) return;
      const spec = specOf(vs, K.VirtualService);
      const scopes = exportScopes(exportToList(spec.exportTo), vs.namespace);
      listOf(spec.hosts).forEach((h, hostIndex) => {
        if (typeof h !== 'string') return;
        const host = names.fqdn(vs.namespace, h);
        for (const scope of scopes) {
          let byHost = claims.get(scope);
          if (!byHost) claims.set(scope, (byHost = new Map()));
          let list = byHost.get(host);
          if (!list) byHost.set(host, (list = []));
          // A VirtualService's claims are added together, so a repeated host would be the list's last claim.
          if (list[list.length - 1]?.vs !== vs) list.push({ vs, order, hostIndex, host });
        }
      });
    });
    const everywhere = claims.get(EXPORT_ALL) ?? new Map<string, Claim[]>();
    // For each VirtualService: its first conflicting host and that host's overlap, and every host of it in conflict.
    const conflicts = new Map<Resource, Conflict>();
    // VirtualServices in overlaps that share a member end in one group, each known by its place in the
    // input (a claim's order); the sets are made at the first overlap, as most policy sets have none.
    let sets: UnionFind | undefined;
    const note = (overlap: Overlap) => {
      const first = overlap.lists[0]![0]!;
      sets ??= new UnionFind(services.length);
      for (const list of overlap.lists) {
        for (const c of list) {
          sets.union(first.order, c.order);
          const known = conflicts.get(c.vs);
          if (!known) conflicts.set(c.vs, { claim: c, overlap, hosts: new Set([c.host]) });
          else {
            known.hosts.add(c.host);
            if (c.hostIndex < known.claim.hostIndex) Object.assign(known, { claim: c, overlap });
          }
        }
      }
    };
    for (const [scope, byHost] of claims) {
      for (const [host, list] of byHost) {
        if (scope === EXPORT_ALL) {
          if (list.length > 1) note({ lists: [list], size: list.length });
          continue;
        }
        const lists = [list];
        const members = new Set(list.map((c) => c.vs));
        for (const [otherHost, otherList] of everywhere) {
          if (!hostMatches(host, otherHost)) continue;
          lists.push(otherList);
          for (const c of otherList) members.add(c.vs);
        }
        if (members.size > 1) note({ lists, size: members.size });
      }
    }
    const byRoot = new Map<number, Conflict[]>();
    for (const c of conflicts.values()) {
      const root = sets!.find(c.claim.order);
      const list = byRoot.get(root);
      if (list) list.push(c);
      else byRoot.set(root, [c]);
    }
    const groups = new Map<number, RawGroup>();
    const groupOf = (claim: Claim): RawGroup => {
      const root = sets!.find(claim.order);
      let group = groups.get(root);
      if (!group) {
        const members = byRoot.get(root)!.sort((a, b) => a.claim.order - b.claim.order);
        group = ctx.group('IST0109', members.map((c) => ({ resource: c.claim.vs, pointer: `/spec/hosts/${c.claim.hostIndex}` })));
        groups.set(root, group);
      }
      return group;
    };
    for (const [vs, { claim, overlap, hosts }] of conflicts) {
      const name = qualifiedName(vs);
      const sorted = [...hosts].sort();
      ctx.report(
        'IST0109',
        vs,
        `/spec/hosts/${claim.hostIndex}`,
        `Host${sorted.length > 1 ? 's' : ''} ${fewWords(sorted)} of VirtualService ${name} on the mesh gateway overlap${sorted.length > 1 ? '' : 's'} the hosts of ${fewOf(othersOf(firstNamesOf(overlap), name), overlap.size - 1, 'VirtualService')} in the same namespaces, so which routes apply is undefined; merge them into one VirtualService or narrow their hosts or exportTo.`,
        groupOf(claim),
      );
    }
  },
};
