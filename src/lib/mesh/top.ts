// `meshctl top`: traffic per service and subset over a recent window (RPS, success rate, latency
// percentiles), as the mesh target's traffic figures give them: the figures route shift's gates judge.
// Each request is counted once, by the proxy that sent it to the service (the caller's sidecar, or the
// ingress proxy), so requests a caller's sidecar failed before they reached any pod count too.
import { usageError } from '../errors.js';
import { requestHostNames, serviceOfFqdn } from '../policy/hosts.js';
import { noRequests, upstreamKey, type TrafficFigures, type TrafficWindow, type UpstreamFigures } from '../runtime/figures.js';

export interface TopRow extends TrafficFigures {
  /** Short service name (the first label of a mesh service's FQDN, or the whole host). */
  service: string;
  /** Namespace of a mesh service; null for other hosts. */
  namespace: string | null;
  host: string;
  subset: string | null;
}

export interface TopSnapshot {
  home: string;
  /** The end of the window (now, or --until). */
  readAt: string;
  windowSeconds: number;
  /** The HOST argument, when one was given. */
  host: string | null;
  rows: TopRow[];
  notes: string[];
}

/** `reviews.default.svc.cluster.local` → reviews / default. */
export function serviceOf(host: string): { service: string; namespace: string | null } {
  const service = serviceOfFqdn(host);
  return service ? { service: service.name, namespace: service.namespace } : { service: host, namespace: null };
}

/** HOST as a user types it (reviews, reviews.default, the FQDN, any namespace) names a destination host by any name a client of its namespace would use. */
export function hostNamedBy(filter: string, host: string): boolean {
  return requestHostNames(host, serviceOfFqdn(host)?.namespace ?? '').includes(filter.trim().toLowerCase().replace(/\.$/, ''));
}

/** What top reads of a mesh (its target): the traffic figures of a window and the destinations it routes to. */
export interface TrafficSource {
  readonly location: string;
  installed(): Promise<boolean>;
  traffic(): { figures(window: TrafficWindow): Promise<UpstreamFigures[]> };
  /** The figures of every destination, where a mesh reads them otherwise than one host's (a cluster without Prometheus). */
  trafficOfEveryService?(): { figures(window: TrafficWindow): Promise<UpstreamFigures[]> };
  routedUpstreams(): Promise<{ host: string; subset: string }[]>;
}

/** Keeps every proxy's recent requests in memory and adds only new ones at each snapshot. */
export class TrafficWatcher {
  private readonly traffic: ReturnType<TrafficSource['traffic']>;

  constructor(
    private readonly mesh: TrafficSource,
    /** `namespace`: only the services of that namespace (top -n). */
    private readonly options: { windowSeconds: number; host?: string; namespace?: string },
  ) {
    this.traffic = mesh.trafficOfEveryService?.() ?? mesh.traffic();
  }

  /** The window that ends at `now`. */
  async snapshot(now: Date = new Date()): Promise<TopSnapshot> {
    const windowSeconds = this.options.windowSeconds;
    const window = { sinceMs: now.getTime() - Math.round(windowSeconds * 1000), untilMs: now.getTime() };
    const [installed, figures, routed] = await Promise.all([this.mesh.installed(), this.traffic.figures(window), this.mesh.routedUpstreams()]);
    // Every destination some proxy routes to has a row, with or without traffic.
    const upstreams = new Map<string, UpstreamFigures>();
    for (const d of routed) upstreams.set(upstreamKey(d.host, d.subset), { host: d.host, subset: d.subset, ...noRequests() });
    for (const u of figures) upstreams.set(upstreamKey(u.host, u.subset), u);
    let selected = [...upstreams.values()];
    const namespace = this.options.namespace;
    if (namespace !== undefined) selected = selected.filter((u) => serviceOf(u.host).namespace === namespace);
    const filter = this.options.host;
    if (filter) {
      selected = selected.filter((u) => hostNamedBy(filter, u.host));
      if (!selected.length) {
        const known = [...new Set([...upstreams.values()].map((u) => u.host))].sort();
        throw usageError(`No service of the mesh is named "${filter}" (services: ${known.length ? known.map((h) => serviceOf(h).service).filter((s, i, a) => a.indexOf(s) === i).join(', ') : 'none'}).`);
      }
    }
    const rows: TopRow[] = selected.map(({ host, subset, ...figures }) => ({ ...serviceOf(host), host, subset: subset || null, ...figures }));
    rows.sort((a, b) => a.service.localeCompare(b.service) || (a.namespace ?? '').localeCompare(b.namespace ?? '') || (a.subset ?? '').localeCompare(b.subset ?? ''));
    const notes: string[] = [];
    if (!installed) notes.push(`no mesh is installed at ${this.mesh.location}`);
    return { home: this.mesh.location, readAt: now.toISOString(), windowSeconds, host: filter ?? null, rows, notes };
  }
}
