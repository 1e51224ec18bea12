// Gates without Prometheus: a shift's figures from the Envoy sidecars of the calling pods themselves,
// read by the same reader as `top` on a cluster, so the numbers a shift gates on are the numbers top
// shows. What this adds is the shift's view: the shifted host per subset (or an HTTPRoute's backends,
// one destination each), and a reading that cannot be had as "metrics unavailable", where the shift holds.
import { MetricsUnavailable } from './promql.js';
import { SidecarStatsTraffic, SidecarStatsUnavailable, type SidecarStatsSource } from '../kube/sidecar-traffic.js';
import type { TrafficWindow, UpstreamFigures } from '../runtime/figures.js';
import type { TrafficReader } from '../target/target.js';

export { figuresOf, podCounters, type StatsPod } from '../kube/sidecar-traffic.js';
export type EnvoyStatsSource = SidecarStatsSource;

/** The sidecars' reader, with an unreadable reading as "metrics unavailable". */
async function held<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof SidecarStatsUnavailable) throw new MetricsUnavailable(err.reason);
    throw err;
  }
}

/** A shift's figures from the calling pods' sidecars: a reading at the start, one at each window's end. */
export class EnvoyStatsTraffic implements TrafficReader {
  private readonly sidecars: SidecarStatsTraffic;

  constructor(source: EnvoyStatsSource, private readonly host?: string, private readonly hosts: string[] = []) {
    this.sidecars = new SidecarStatsTraffic(source);
  }

  startNow(): Promise<void> {
    return held(() => this.sidecars.startNow());
  }

  async figures(window: TrafficWindow, options: { host?: string; mirrored?: boolean } = {}): Promise<UpstreamFigures[]> {
    // Mirrored copies are not told apart in Istio's standard metrics.
    if (options.mirrored) return [];
    const host = options.host ?? this.host;
    if (!host && !this.hosts.length) return [];
    return held(() => this.sidecars.figures(window, host ? { hosts: [host], bySubset: true } : { hosts: this.hosts, bySubset: false }));
  }
}
