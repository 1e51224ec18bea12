// serviceentry.ConflictingServiceEntryProtocolAnalyzer: ServiceEntries visible in the same namespace that
// declare the same host and port with different protocols (IST0177). Each ServiceEntry is reported once.
import type { Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { asArray, asObject } from './util.js';

interface Entry {
  se: Resource;
  /** Index of the port in spec.ports. */
  port: number;
  protocol: string;
}

/** Where a ServiceEntry is visible: '*' for everywhere, else the namespaces its exportTo names. */
function exportScopes(exportTo: unknown, namespace: string): Set<string> {
  const list = asArray(exportTo).map(String);
  if (list.length === 0 || list.includes('*')) return new Set(['*']);
  return new Set(list.map((e) => (e === '.' ? namespace : e)));
}

const keyOf = (scope: string, host: string, port: string) => JSON.stringify([scope, host, port]);

export const serviceEntryConflictingProtocol: Analyzer = {
  name: 'serviceentry.ConflictingServiceEntryProtocolAnalyzer',
  description: 'Checks that ServiceEntries visible together do not declare the same host and port with different protocols',
  inputs: [K.ServiceEntry],
  codes: ['IST0177'],
  run(ctx) {
    const index = new Map<string, { scope: string; host: string; port: string; entries: Entry[] }>();
    for (const se of ctx.of(K.ServiceEntry)) {
      const spec = asObject(se.spec);
      for (const scope of exportScopes(spec.exportTo, se.namespace)) {
        for (const h of asArray(spec.hosts)) {
          const host = String(h);
          asArray(spec.ports).forEach((p, i) => {
            const port = asObject(p);
            const number = port.number === undefined || port.number === null ? '0' : String(port.number);
            const key = keyOf(scope, host, number);
            let slot = index.get(key);
            if (!slot) index.set(key, (slot = { scope, host, port: number, entries: [] }));
            slot.entries.push({ se, port: i, protocol: port.protocol === undefined || port.protocol === null ? '' : String(port.protocol) });
          });
        }
      }
    }
    const reported = new Set<Resource>();
    for (const slot of index.values()) {
      // A namespace-scoped key also sees the entries exported to every namespace.
      const entries = slot.scope === '*' ? slot.entries : [...slot.entries, ...(index.get(keyOf('*', slot.host, slot.port))?.entries ?? [])];
      const protocols = [...new Set(entries.map((e) => e.protocol.toUpperCase()))].sort();
      if (protocols.length < 2) continue;
      const names = [...new Set(entries.map((e) => (e.se.namespace ? `${e.se.namespace}/${e.se.name}` : e.se.name)))].sort();
      const shown = protocols.map((p) => p || '(none)').join(', ');
      for (const e of entries) {
        if (reported.has(e.se)) continue;
        reported.add(e.se);
        ctx.report(
          'IST0177',
          e.se,
          `/spec/ports/${e.port}/protocol`,
          `ServiceEntries ${names.join(', ')} declare host ${slot.host} port ${slot.port} with different protocols (${shown}); use one protocol for that host and port.`,
        );
      }
    }
  },
};
