// gateway.ConflictingGatewayAnalyzer: two Gateways on the same workloads must not bind the same host on the
// same port (and bind address): the proxy keeps one of them and drops the other's routes.
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { joinPointer } from '../locate.js';
import type { RawGroup } from '../findings.js';
import { selectorMatches } from '../selectors.js';
import { listOf, objectOf, specOf, type GatewaySpecServers, type Mistyped } from '../spec.js';
import { fewOf, NAMED_MEMBERS, othersOf, SelectorIndex, UnionFind } from './groups.js';
import {
  describeSelector,
  labelMap,
  qualifiedName,
  reportUnmatchedGatewaySelector,
  selectWorkloads,
  selectorEntryPointer,
  selectorString,
  workloadsOf,
  type Labels,
} from './workloads.js';

interface GatewayInfo {
  resource: Resource;
  /** Input order, for listing group members the way they were read. */
  index: number;
  selector: Labels;
  servers: readonly ServerInput[];
  selectorClass: SelectorClass;
}

/** Gateways with one selector: they run on the same workloads. */
interface SelectorClass {
  key: string;
  selector: Labels;
  gateways: GatewayInfo[];
  /** Classes (itself included) whose Gateways run on some workload of this class's. */
  sharing: SelectorClass[];
  withServers: boolean;
}

/** The Gateways binding one host on one port (and bind address), by selector. */
interface Binding {
  host: string;
  byClass: Map<SelectorClass, { gateway: GatewayInfo; pointer: string }[]>;
  /** Sorted names of the Gateways sharing workloads with a class, the first few only. */
  firstNames: Map<SelectorClass, string[]>;
  /** Conflict group of each class's Gateways on this binding: the classes connected through shared workloads. */
  groups?: Map<SelectorClass, SelectorClass>;
  rawGroups: Map<SelectorClass, RawGroup>;
}

type ServerInput = GatewaySpecServers | Mistyped;

function portOf(server: ServerInput): number {
  const n = Number(objectOf(objectOf(server).port).number ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function hostsOf(server: ServerInput): string[] {
  return listOf(objectOf(server).hosts).map((h) => String(h));
}

function bindOf(server: ServerInput): string {
  const b = objectOf(server).bind;
  return typeof b === 'string' ? b : '';
}

const bindingKey = (port: number, bind: string, host: string) => `${port}|${bind}|${host}`;

/**
 * Whether two selectors run on the same workloads, as Istio decides it: the same selector, or one selector
 * within the other and a workload in the inputs that both select (that is, that the wider one selects).
 */
function linkSharingClasses(ctx: AnalysisContext, classes: SelectorClass[]): void {
  const index = new SelectorIndex(classes);
  const workloads = workloadsOf(ctx);
  const selectsWorkload = new Map<SelectorClass, boolean>();
  const runs = (c: SelectorClass) => {
    let known = selectsWorkload.get(c);
    if (known === undefined) selectsWorkload.set(c, (known = workloads.some((w) => selectorMatches(c.selector, w.labels))));
    return known;
  };
  for (const c of classes) c.sharing.push(c);
  for (const narrow of classes) {
    for (const wide of index.supersetsOf(narrow.selector)) {
      if (wide === narrow || !runs(wide)) continue;
      narrow.sharing.push(wide);
      wide.sharing.push(narrow);
    }
  }
}

function gatewaysOf(ctx: AnalysisContext): { gateways: GatewayInfo[]; classes: SelectorClass[] } {
  const classes = new Map<string, SelectorClass>();
  const gateways = ctx.of(K.Gateway).map((resource, index): GatewayInfo => {
    const spec = specOf(resource, K.Gateway);
    const selector = labelMap(spec.selector);
    const key = selectorString(selector);
    let selectorClass = classes.get(key);
    if (!selectorClass) classes.set(key, (selectorClass = { key, selector, gateways: [], sharing: [], withServers: false }));
    const gateway = { resource, index, selector, servers: listOf(spec.servers), selectorClass };
    selectorClass.gateways.push(gateway);
    if (gateway.servers.length > 0) selectorClass.withServers = true;
    return gateway;
  });
  const list = [...classes.values()];
  linkSharingClasses(ctx, list);
  return { gateways, classes: list };
}

function bindingsOf(gateways: GatewayInfo[]): Map<string, Binding> {
  const bindings = new Map<string, Binding>();
  for (const gateway of gateways) {
    gateway.servers.forEach((server, i) => {
      const port = portOf(server);
      const bind = bindOf(server);
      hostsOf(server).forEach((host, j) => {
        const key = bindingKey(port, bind, host);
        let binding = bindings.get(key);
        if (!binding) bindings.set(key, (binding = { host, byClass: new Map(), firstNames: new Map(), rawGroups: new Map() }));
        let list = binding.byClass.get(gateway.selectorClass);
        if (!list) binding.byClass.set(gateway.selectorClass, (list = []));
        // A Gateway counts once per binding, at its first server and host for it.
        if (list[list.length - 1]?.gateway !== gateway) list.push({ gateway, pointer: joinPointer('/spec/servers', i, 'hosts', j) });
      });
    });
  }
  return bindings;
}

/** How many Gateways (the asking one included) bind this host and port on workloads a class shares. */
function bindersSharing(binding: Binding, selectorClass: SelectorClass): number {
  let n = 0;
  for (const c of selectorClass.sharing) n += binding.byClass.get(c)?.length ?? 0;
  return n;
}

function firstNamesSharing(binding: Binding, selectorClass: SelectorClass): string[] {
  let names = binding.firstNames.get(selectorClass);
  if (!names) {
    const all: string[] = [];
    for (const c of selectorClass.sharing) for (const { gateway } of binding.byClass.get(c) ?? []) all.push(qualifiedName(gateway.resource));
    names = all.sort().slice(0, NAMED_MEMBERS + 1);
    binding.firstNames.set(selectorClass, names);
  }
  return names;
}

function groupOf(ctx: AnalysisContext, binding: Binding, selectorClass: SelectorClass): RawGroup {
  if (!binding.groups) {
    const present = [...binding.byClass.keys()];
    const position = new Map(present.map((c, i) => [c, i]));
    const sets = new UnionFind(present.length);
    present.forEach((c, i) => {
      for (const other of c.sharing) {
        const j = position.get(other);
        if (j !== undefined) sets.union(i, j);
      }
    });
    binding.groups = new Map(present.map((c, i) => [c, present[sets.find(i)]!]));
  }
  const root = binding.groups.get(selectorClass)!;
  let group = binding.rawGroups.get(root);
  if (!group) {
    const members: { gateway: GatewayInfo; pointer: string }[] = [];
    for (const [c, list] of binding.byClass) if (binding.groups.get(c) === root) members.push(...list);
    members.sort((a, b) => a.gateway.index - b.gateway.index);
    group = ctx.group('IST0145', members.map(({ gateway, pointer }) => ({ resource: gateway.resource, pointer })));
    binding.rawGroups.set(root, group);
  }
  return group;
}

function analyzeGateway(ctx: AnalysisContext, gw: GatewayInfo, bindings: Map<string, Binding>): void {
  const own = gw.selectorClass;
  if (gw.servers.length === 0) {
    // Nothing of this Gateway binds its selector to a listener, and no other Gateway does either.
    if (own.key !== '' && !own.sharing.some((c) => c.withServers)) {
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
    // The first host of the server that another Gateway on the same workloads binds too.
    for (let j = 0; j < hosts.length; j++) {
      const binding = bindings.get(bindingKey(port, bind, hosts[j]!))!;
      const others = bindersSharing(binding, own) - 1;
      if (others === 0) continue;
      const name = qualifiedName(gw.resource);
      const shown = othersOf(firstNamesSharing(binding, own), name);
      ctx.report(
        'IST0145',
        gw.resource,
        joinPointer('/spec/servers', i, 'hosts', j),
        `Gateway ${name} binds host ${binding.host} on port ${port}${bind ? ` (bind ${bind})` : ''} of the same workloads (${describeSelector(gw.selector)}) as ${fewOf(shown, others, 'Gateway')}; keep each host and port in one Gateway.`,
        groupOf(ctx, binding, own),
      );
      return;
    }
  });
}

export const conflictingGateway: Analyzer = {
  name: 'gateway.ConflictingGatewayAnalyzer',
  description: 'Checks that Gateways on the same workloads do not bind the same host on the same port',
  inputs: [K.Gateway, K.Pod, K.Deployment, K.WorkloadEntry],
  codes: ['IST0145', 'IST0101'],
  run(ctx) {
    const { gateways } = gatewaysOf(ctx);
    const bindings = bindingsOf(gateways);
    for (const gw of gateways) analyzeGateway(ctx, gw, bindings);
  },
};
