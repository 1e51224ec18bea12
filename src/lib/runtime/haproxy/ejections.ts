// The endpoints outlier detection has ejected now, per destination (host, subset), as every proxy that
// sends to it sees them: each sidecar ejects on its own (as each Envoy does), so an endpoint counts
// once when any proxy has taken it out. Read from each proxy's runtime API (`show stat`), live only.
import { promises as fs } from 'node:fs';
import { upstreamKey } from '../figures.js';
import { RuntimeApi, statNumber, type StatRow } from './runtime-api.js';
import type { CompiledProxy, ProxyPaths } from './types.js';

/** A server whose responses are watched (outlier detection); the servers of an upstream without it have no check status. */
export function isObservedServer(row: StatRow): boolean {
  return row.type === 'server' && Boolean((row.fields.check_status ?? '').trim());
}

/** A server its observed responses took down (observe layer7), not one whose own health check failed. */
export function isEjected(row: StatRow): boolean {
  return isObservedServer(row) && (row.fields.status ?? '').startsWith('DOWN') && statNumber(row, 'hanafail') > 0;
}

/** `upstreamKey(host, subset)` → endpoints ejected now; a proxy that does not answer is left out. */
export async function ejectedEndpoints(proxies: readonly { paths: Pick<ProxyPaths, 'runtimeSocket' | 'state'> }[], timeoutMs = 2000): Promise<Map<string, number>> {
  const ejected = new Map<string, Set<string>>();
  await Promise.all(proxies.map(async ({ paths }) => {
    const compiled = await fs.readFile(paths.state, 'utf8').then((t) => JSON.parse(t) as CompiledProxy, () => null);
    const destinations = new Map<string, string>();
    for (const r of compiled?.routes ?? []) for (const d of r.destinations) destinations.set(d.backend, upstreamKey(d.host, d.subset));
    if (!destinations.size) return;
    const stat = await new RuntimeApi(paths.runtimeSocket, timeoutMs).showStat().catch(() => [] as StatRow[]);
    for (const row of stat) {
      const key = destinations.get(row.proxy);
      if (key === undefined || !isEjected(row)) continue;
      const servers = ejected.get(key) ?? new Set<string>();
      servers.add(row.name);
      ejected.set(key, servers);
    }
  }));
  return new Map([...ejected].map(([key, servers]) => [key, servers.size]));
}
