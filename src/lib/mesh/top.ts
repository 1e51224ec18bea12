// `meshctl top`: traffic per service and subset over a recent window (RPS, success rate, latency
// percentiles), as the mesh target's traffic figures give them: the figures route shift's gates judge;
// beside them, what the resilience and security policy did (retries, refusals by kind, ejections).
// Each request is counted once, by the proxy that sent it to the service (the caller's sidecar, or the
// ingress proxy), so requests a caller's sidecar failed before they reached any pod count too.
import { usageError } from '../errors.js';
import { requestHostNames, serviceOfFqdn } from '../policy/hosts.js';
import { noRequests, resilienceNotReported, upstreamKey, type ResilienceFigures, type TrafficFigures, type TrafficWindow, type UpstreamFigures } from '../runtime/figures.js';

export interface TopRow extends TrafficFigures {
  /** Short service name (the first label of a mesh service's FQDN, or the whole host). */
  service: string;
  /** Namespace of a mesh service; null for other hosts. */
  namespace: string | null;
  host: string;
  subset: string | null;
  /** What the resilience and security policy did to the window's requests; a null figure is one the mesh does not report. */
  resilience: ResilienceFigures;
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
  /** Endpoints outlier detection has ejected now, by `upstreamKey(host, subset)`, where a mesh reads them apart from its figures. */
  ejectedEndpoints?(): Promise<Map<string, number>>;
}

/** Ejections are a state read as it is now: a window that ended longer ago than this has none to show. */
const LIVE_WITHIN_MS = 2000;

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
    const live = Date.now() - now.getTime() < LIVE_WITHIN_MS;
    const [installed, figures, routed, ejected] = await Promise.all([
      this.mesh.installed(),
      this.traffic.figures(window),
      this.mesh.routedUpstreams(),
      live ? this.mesh.ejectedEndpoints?.() : undefined,
    ]);
    // Every destination some proxy routes to has a row, with or without traffic: no request was retried or refused.
    const upstreams = new Map<string, UpstreamFigures>();
    const none: ResilienceFigures = { retried: 0, retries: 0, denied: 0, rateLimited: 0, overflows: 0, timeouts: 0, noRoute: 0, upstreamFailures: 0, ejected: null };
    for (const d of routed) upstreams.set(upstreamKey(d.host, d.subset), { host: d.host, subset: d.subset, ...noRequests(), resilience: none });
    for (const u of figures) upstreams.set(upstreamKey(u.host, u.subset), u);
    let selected = [...upstreams.values()];
    const namespace = this.options.namespace;
    if (namespace !== undefined) selected = selected.filter((u) => serviceOf(u.host).namespace === namespace);
    const filter = this.options.host;
    if (filter) {
      selected = selected.filter((u) => hostNamedBy(filter, u.host));
      if (!selected.length) {
        // Hosts the mesh has no route for are not its services, though their refused requests have rows.
        const known = [...new Set([...upstreams.values()].filter((u) => u.resilience?.noRoute !== u.requests || !u.requests).map((u) => u.host))].sort();
        throw usageError(`No service of the mesh is named "${filter}" (services: ${known.length ? known.map((h) => serviceOf(h).service).filter((s, i, a) => a.indexOf(s) === i).join(', ') : 'none'}).`);
      }
    }
    const rows: TopRow[] = selected.map(({ host, subset, resilience, ...figures }) => {
      const counted = resilience ?? resilienceNotReported();
      const ejectedNow = ejected ? ejected.get(upstreamKey(host, subset)) ?? 0 : counted.ejected;
      return { ...serviceOf(host), host, subset: subset || null, ...figures, resilience: { ...counted, ejected: live ? ejectedNow : null } };
    });
    rows.sort((a, b) => a.service.localeCompare(b.service) || (a.namespace ?? '').localeCompare(b.namespace ?? '') || (a.subset ?? '').localeCompare(b.subset ?? ''));
    const notes: string[] = [];
    if (!installed) notes.push(`no mesh is installed at ${this.mesh.location}`);
    if (!live) notes.push('ejected endpoints are read as they are now, so a window that ended before now shows none');
    return { home: this.mesh.location, readAt: now.toISOString(), windowSeconds, host: filter ?? null, rows, notes };
  }
}
