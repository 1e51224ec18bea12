// `meshctl top`: traffic per service and subset over a recent window (RPS, success rate, latency
// percentiles), from the access logs of every proxy of the local mesh. Each request is counted once,
// by the proxy that sent it to the service (the caller's sidecar, or the ingress proxy), so requests
// a caller's sidecar failed before they reached any pod count too.
import { promises as fs } from 'node:fs';
import { usageError } from '../errors.js';
import { requestHostNames, serviceOfFqdn } from '../policy/hosts.js';
import type { CompiledProxy } from '../runtime/haproxy/types.js';
import { noRequests, upstreamKey, type TrafficFigures, type UpstreamFigures } from '../runtime/figures.js';
import { AccessLogTail, figuresByUpstream, isSentRequest } from '../runtime/haproxy/traffic.js';
import { readLocalMesh } from './proxies.js';

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

/** Keeps every proxy's recent requests in memory and adds only new log lines at each snapshot. */
export class TrafficWatcher {
  private readonly tail = new AccessLogTail((e) => isSentRequest(e));

  constructor(
    private readonly home: string | undefined,
    /** `namespace`: only the services of that namespace (top -n). */
    private readonly options: { windowSeconds: number; host?: string; namespace?: string },
  ) {}

  /** The window that ends at `now`. */
  async snapshot(now: Date = new Date()): Promise<TopSnapshot> {
    const mesh = await readLocalMesh(this.home);
    const windowSeconds = this.options.windowSeconds;
    const window = { sinceMs: now.getTime() - Math.round(windowSeconds * 1000), untilMs: now.getTime() };
    const [entries, compiled] = await Promise.all([
      this.tail.since(mesh.proxies.map((p) => p.paths.accessLog), window.sinceMs),
      Promise.all(mesh.proxies.map((p) => fs.readFile(p.paths.state, 'utf8').then((t) => JSON.parse(t) as CompiledProxy, () => null))),
    ]);
    // Every destination some proxy routes to has a row, with or without traffic.
    const upstreams = new Map<string, UpstreamFigures>();
    for (const c of compiled) for (const r of c?.routes ?? []) for (const d of r.destinations) upstreams.set(upstreamKey(d.host, d.subset), { host: d.host, subset: d.subset, ...noRequests() });
    for (const u of figuresByUpstream(entries, window)) upstreams.set(upstreamKey(u.host, u.subset), u);
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
    if (!mesh.installed) notes.push(`no mesh is installed at ${mesh.layout.root}`);
    return { home: mesh.layout.root, readAt: now.toISOString(), windowSeconds, host: filter ?? null, rows, notes };
  }
}
