// Request rates from two readings of the request counters: proxies that publish only counters (Envoy)
// get a rate by being read twice, some seconds apart.
import { perSecond } from './figures.js';
import type { Stats, TrafficStats } from './model.js';

export const ONE_READING = 'a rate needs two readings of the counters; give --rate-window SECONDS to take them';

/** Fills ratePerSecond of `later`'s rows from the same rows of `earlier`, read `seconds` before. */
export function withRates(later: Stats, earlier: Stats, seconds: number): Stats {
  const before = new Map(earlier.upstreams.map((u) => [u.name, u]));
  for (const row of later.upstreams) rate(row, before.get(row.name), seconds);
  if (later.inbound) rate(later.inbound, earlier.inbound ?? undefined, seconds);
  later.notes.push(`rates: requests per second over ${seconds}s between two readings`);
  return later;
}

function rate(row: TrafficStats, before: TrafficStats | undefined, seconds: number): void {
  if (row.requests === null) return;
  if (!before || before.requests === null) {
    row.missing.ratePerSecond = 'the first reading had no request count for this row';
    return;
  }
  const delta = row.requests - before.requests;
  if (delta < 0) {
    row.missing.ratePerSecond = 'the counters went down between the readings (the proxy restarted)';
    return;
  }
  row.ratePerSecond = perSecond(delta, seconds * 1000);
  delete row.missing.ratePerSecond;
}
