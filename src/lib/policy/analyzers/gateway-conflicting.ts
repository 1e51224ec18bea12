// gateway.ConflictingGatewayAnalyzer: two Gateways on the same workloads must not bind the same host on the
// same port (and bind address): the proxy keeps one of them and drops the other's routes.
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { joinPointer } from '../locate.js';
import { asArray, asObject } from './util.js';
import {
  describeSelector,
  labelMap,
  labelsMatch,
  qualifiedName,
  reportUnmatchedGatewaySelector,
  selectWorkloads,
  selectorEntryPointer,
  selectorString,
  selectorSubset,
  workloadsOf,
  type Labels,
} from './workloads.js';

interface GatewayInfo {
  resource: Resource;
  selector: Labels;
  key: string;
  /** port → `bind|host` pairs the Gateway's servers listen for on that port. */
  bindings: Map<number, Set<string>>;
  servers: unknown[];
}

function portOf(server: unknown): number {
  const n = Number(asObject(asObject(server).port).number ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function hostsOf(server: unknown): string[] {
  return asArray(asObject(server).hosts).map((h) => String(h));
}

function bindOf(server: unknown): string {
  const b = asObject(server).bind;
  return typeof b === 'string' ? b : '';
}

function infoOf(r: Resource): GatewayInfo {
  const spec = asObject(r.spec);
  const selector = labelMap(spec.selector);
  const servers = asArray(spec.servers);
  const bindings = new Map<number, Set<string>>();
  for (const s of servers) {
    const port = portOf(s);
    let set = bindings.get(port);
    if (!set) bindings.set(port, (set = new Set()));
    for (const h of hostsOf(s)) set.add(`${bindOf(s)}|${h}`);
  }
  return { resource: r, selector, key: selectorString(selector), bindings, servers };
}

/**
 * Whether two Gateways run on the same workloads, as Istio decides it: the same selector, or one selector
 * within the other and a workload in the inputs that both select.
 */
function shareWorkloads(ctx: AnalysisContext, a: GatewayInfo, b: GatewayInfo): boolean {
  if (a.key === b.key) return true;
  if (!selectorSubset(a.selector, b.selector) && !selectorSubset(b.selector, a.selector)) return false;
  return workloadsOf(ctx).some((w) => labelsMatch(a.selector, w.labels) && labelsMatch(b.selector, w.labels));
}

function analyzeGateway(ctx: AnalysisContext, gw: GatewayInfo, all: GatewayInfo[]): void {
  const peers = all.filter((o) => o !== gw && shareWorkloads(ctx, gw, o));
  if (gw.servers.length === 0) {
    // Nothing of this Gateway binds its selector to a listener, and no other Gateway does either.
    if (gw.key !== '' && !peers.some((p) => p.servers.length > 0)) {
      // When the selector matches no modelled workload, say that, in the words the other gateway analyzers use,
      // so a full run reports the selector once.
      if (selectWorkloads(ctx, gw.selector).length === 0 && reportUnmatchedGatewaySelector(ctx, gw.resource, gw.selector)) return;
      ctx.report(
        'IST0101',
        gw.resource,
        selectorEntryPointer('/spec/selector', gw.selector, workloadsOf(ctx)),
        `Gateway ${qualifiedName(gw.resource)} has no servers and no other Gateway listens on ${describeSelector(gw.selector)}; add servers or fix the selector.`,
      );
    }
    return;
  }
  gw.servers.forEach((server, i) => {
    const port = portOf(server);
    const bind = bindOf(server);
    const hosts = hostsOf(server);
    const conflicting: string[] = [];
    let firstHost = -1;
    for (const peer of peers) {
      const theirs = peer.bindings.get(port);
      if (!theirs) continue;
      const j = hosts.findIndex((h) => theirs.has(`${bind}|${h}`));
      if (j === -1) continue;
      conflicting.push(qualifiedName(peer.resource));
      if (firstHost === -1 || j < firstHost) firstHost = j;
    }
    if (conflicting.length === 0) return;
    conflicting.sort();
    const host = hosts[firstHost]!;
    ctx.report(
      'IST0145',
      gw.resource,
      joinPointer('/spec/servers', i, 'hosts', firstHost),
      `Gateway ${qualifiedName(gw.resource)} binds host ${host} on port ${port}${bind ? ` (bind ${bind})` : ''} of the same workloads (${describeSelector(gw.selector)}) as ${conflicting.length === 1 ? 'Gateway' : 'Gateways'} ${conflicting.join(', ')}; keep each host and port in one Gateway.`,
    );
  });
}

export const conflictingGateway: Analyzer = {
  name: 'gateway.ConflictingGatewayAnalyzer',
  description: 'Checks that Gateways on the same workloads do not bind the same host on the same port',
  inputs: [K.Gateway, K.Pod, K.Deployment, K.WorkloadEntry],
  codes: ['IST0145', 'IST0101'],
  run(ctx) {
    const all = ctx.of(K.Gateway).map(infoOf);
    for (const gw of all) analyzeGateway(ctx, gw, all);
  },
};
