// serviceentry.ConflictingServiceEntryProtocolAnalyzer: ServiceEntries visible in the same namespace that
// declare the same host and port with different protocols (IST0177). Each ServiceEntry is reported once.
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { RawGroup } from '../findings.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { exportScopes, exportToList } from '../hosts.js';
import { listOf, objectOf, specOf } from '../spec.js';
import { fewOf, fewWords, NAMED_MEMBERS, othersOf } from './groups.js';
import { qualifiedName } from './workloads.js';

interface Entry {
  se: Resource;
  /** The ServiceEntry's place in the input, for listing group members in reading order. */
  order: number;
  /** Index of the port in spec.ports. */
  port: number;
  protocol: string;
}

/** The entries declaring one host and port in one scope. */
interface Slot {
  scope: string;
  host: string;
  port: string;
  entries: Entry[];
  /** Distinct protocols (upper case), sorted. */
  protocols: string[];
  /** Distinct ServiceEntry names, sorted; worked out only for a slot that conflicts (namesOf). */
  names: string[] | undefined;
}

// Keys for the maps below, built for every port of every ServiceEntry: each part but the last carries its
// length, so no two triples (or pairs) share a key, without building an array and a JSON text per port.
const keyOf = (scope: string, host: string, port: string) => `${scope.length}:${scope}${host.length}:${host}${port}`;
const hostPortOf = (slot: Slot) => `${slot.host.length}:${slot.host}${slot.port}`;

function namesOf(slot: Slot): string[] {
  return (slot.names ??= [...new Set(slot.entries.map((e) => qualifiedName(e.se)))].sort());
}

/** The first `limit` distinct values of two sorted lists, merged. */
function firstOfBoth(a: string[], b: string[], limit: number): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < a.length || j < b.length)) {
    const next = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (out[out.length - 1] !== next) out.push(next);
  }
  return out;
}

function slotsOf(ctx: AnalysisContext): { index: Map<string, Slot>; byHostPort: Map<string, Slot[]> } {
  const index = new Map<string, Slot>();
  const byHostPort = new Map<string, Slot[]>();
  ctx.of(K.ServiceEntry).forEach((se, order) => {
    const spec = specOf(se, K.ServiceEntry);
    for (const scope of exportScopes(exportToList(spec.exportTo), se.namespace)) {
      for (const h of listOf(spec.hosts)) {
        const host = String(h);
        listOf(spec.ports).forEach((p, i) => {
          const port = objectOf(p);
          const number = port.number === undefined || port.number === null ? '0' : String(port.number);
          const key = keyOf(scope, host, number);
          let slot = index.get(key);
          if (!slot) {
            index.set(key, (slot = { scope, host, port: number, entries: [], protocols: [], names: undefined }));
            const hostPort = hostPortOf(slot);
            const same = byHostPort.get(hostPort);
            if (same) same.push(slot);
            else byHostPort.set(hostPort, [slot]);
          }
          slot.entries.push({ se, order, port: i, protocol: port.protocol === undefined || port.protocol === null ? '' : String(port.protocol) });
        });
      }
    }
  });
  for (const slot of index.values()) {
    // Most slots hold one entry: its protocol alone, without a set and a sort.
    slot.protocols = slot.entries.length === 1 ? [slot.entries[0]!.protocol.toUpperCase()] : [...new Set(slot.entries.map((e) => e.protocol.toUpperCase()))].sort();
  }
  return { index, byHostPort };
}

export const serviceEntryConflictingProtocol: Analyzer = {
  name: 'serviceentry.ConflictingServiceEntryProtocolAnalyzer',
  description: 'Checks that ServiceEntries visible together do not declare the same host and port with different protocols',
  inputs: [K.ServiceEntry],
  codes: ['IST0177'],
  run(ctx) {
    const { index, byHostPort } = slotsOf(ctx);
    const none: Slot = { scope: '*', host: '', port: '', entries: [], protocols: [], names: [] };
    // A namespace-scoped slot also sees the entries exported to every namespace.
    const everywhereOf = (slot: Slot) => (slot.scope === '*' ? none : (index.get(keyOf('*', slot.host, slot.port)) ?? none));
    const conflicting = (slot: Slot) => firstOfBoth(slot.protocols, everywhereOf(slot).protocols, 2).length > 1;
    // One group per host and port: every entry of a conflicting slot, with the entries exported everywhere.
    // undefined for a ServiceEntry whose own ports disagree: a group of one.
    const groups = new Map<string, RawGroup | undefined>();
    const groupOf = (slot: Slot): RawGroup | undefined => {
      const key = hostPortOf(slot);
      let group = groups.get(key);
      if (!groups.has(key)) {
        const members = new Map<Resource, Entry>();
        const add = (s: Slot) => {
          for (const e of s.entries) if (!members.has(e.se)) members.set(e.se, e);
        };
        for (const s of byHostPort.get(key)!) {
          if (!conflicting(s)) continue;
          add(s);
          add(everywhereOf(s));
        }
        const sorted = [...members.values()].sort((a, b) => a.order - b.order);
        group = sorted.length > 1 ? ctx.group('IST0177', sorted.map((e) => ({ resource: e.se, pointer: `/spec/ports/${e.port}/protocol` }))) : undefined;
        groups.set(key, group);
      }
      return group;
    };
    const reported = new Set<Resource>();
    for (const slot of index.values()) {
      if (!conflicting(slot)) continue;
      const everywhere = everywhereOf(slot);
      const protocols = firstOfBoth(slot.protocols, everywhere.protocols, Infinity).map((p) => p || '(none)');
      const names = namesOf(slot);
      const everywhereNames = namesOf(everywhere);
      const firstNames = firstOfBoth(names, everywhereNames, NAMED_MEMBERS + 1);
      const others = names.length + everywhereNames.length - 1;
      for (const e of [...slot.entries, ...everywhere.entries]) {
        if (reported.has(e.se)) continue;
        reported.add(e.se);
        const name = qualifiedName(e.se);
        ctx.report(
          'IST0177',
          e.se,
          `/spec/ports/${e.port}/protocol`,
          `ServiceEntry ${name}${others ? ` and ${fewOf(othersOf(firstNames, name), others, 'ServiceEntry', 'ServiceEntries')} declare` : ' declares'} host ${slot.host} port ${slot.port} with different protocols (${fewWords(protocols)}); use one protocol for that host and port.`,
          groupOf(slot),
        );
      }
    }
  },
};
