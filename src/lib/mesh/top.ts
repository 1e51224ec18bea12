// `meshctl top`: traffic per service and subset over a recent window (RPS, success rate, latency
// percentiles), from the access logs of every proxy of the local mesh. Each request is counted once,
// by the proxy that sent it to the service (the caller's sidecar, or the ingress proxy), so requests
// a caller's sidecar failed before they reached any pod count too.
import { promises as fs } from 'node:fs';
import { usageError } from '../errors.js';
import type { CompiledProxy } from '../runtime/haproxy/types.js';
import { readAccessLog, type AccessLogEntry } from '../runtime/haproxy/access-log.js';
import { readRecentAccessLog, trafficFigures, upstreamKey, withUnsetFields } from '../runtime/haproxy/traffic.js';
import { readLocalMesh, type LocalProxy } from './proxies.js';

export interface TopRow {
  /** Short service name (the first label of a mesh service's FQDN, or the whole host). */
  service: string;
  /** Namespace of a mesh service; null for other hosts. */
  namespace: string | null;
  host: string;
  subset: string | null;
  /** Requests that started within the window. */
  requests: number;
  /** Requests per second over the window. */
  rps: number;
  /** Non-5xx over all requests, in percent; null without requests. */
  successRate: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  responses: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
}

export interface TopSnapshot {
  home: string;
  readAt: string;
  windowSeconds: number;
  /** The HOST argument, when one was given. */
  host: string | null;
  rows: TopRow[];
  notes: string[];
}

/** `reviews.default.svc.cluster.local` → reviews / default. */
export function serviceOf(host: string): { service: string; namespace: string | null } {
  const m = /^([^.]+)\.([^.]+)\.svc\.[^.]+(?:\.[^.]+)*$/.exec(host);
  return m ? { service: m[1]!, namespace: m[2]! } : { service: host, namespace: null };
}

/** HOST as a user types it (reviews, reviews.default, the FQDN) against a destination host. */
export function hostMatches(filter: string, host: string): boolean {
  const f = filter.toLowerCase().replace(/\.$/, '');
  return host === f || host.startsWith(`${f}.`);
}

interface LogState {
  offset: number;
  entries: AccessLogEntry[];
}

/** Keeps every proxy's recent requests in memory and adds only new log lines at each snapshot. */
export class TrafficWatcher {
  private readonly logs = new Map<string, LogState>();

  constructor(
    private readonly home: string | undefined,
    private readonly options: { windowSeconds: number; host?: string },
  ) {}

  private async recent(proxy: LocalProxy, sinceMs: number): Promise<AccessLogEntry[]> {
    const file = proxy.paths.accessLog;
    const direction = proxy.kind === 'gateway' ? 'ingress' : 'outbound';
    let state = this.logs.get(file);
    if (!state) {
      const read = await readRecentAccessLog(file, { sinceMs });
      state = { offset: read.nextOffset, entries: read.entries };
      this.logs.set(file, state);
    } else {
      const read = await readAccessLog(file, state.offset);
      // A log that was truncated since (rotated) is read again from its start.
      if (read.nextOffset < state.offset) state.entries = [];
      state.offset = read.nextOffset;
      state.entries.push(...withUnsetFields(read.entries));
    }
    state.entries = state.entries.filter((e) => e.startMs >= sinceMs && e.direction === direction && e.destinationHost !== '');
    return state.entries;
  }

  async snapshot(now: Date = new Date()): Promise<TopSnapshot> {
    const mesh = await readLocalMesh(this.home);
    const windowSeconds = this.options.windowSeconds;
    const sinceMs = now.getTime() - windowSeconds * 1000;
    const [entries, compiled] = await Promise.all([
      Promise.all(mesh.proxies.map((p) => this.recent(p, sinceMs))),
      Promise.all(mesh.proxies.map((p) => fs.readFile(p.paths.state, 'utf8').then((t) => JSON.parse(t) as CompiledProxy, () => null))),
    ]);
    // Every destination some proxy routes to has a row, with or without traffic.
    const upstreams = new Map<string, { host: string; subset: string; entries: AccessLogEntry[] }>();
    const add = (host: string, subset: string) => {
      const key = upstreamKey(host, subset);
      let u = upstreams.get(key);
      if (!u) upstreams.set(key, (u = { host, subset, entries: [] }));
      return u;
    };
    for (const c of compiled) for (const r of c?.routes ?? []) for (const d of r.destinations) add(d.host, d.subset);
    for (const list of entries) for (const e of list) add(e.destinationHost, e.destinationSubset).entries.push(e);
    let selected = [...upstreams.values()];
    const filter = this.options.host;
    if (filter) {
      selected = selected.filter((u) => hostMatches(filter, u.host));
      if (!selected.length) {
        const known = [...new Set([...upstreams.values()].map((u) => u.host))].sort();
        throw usageError(`No service of the mesh is named "${filter}" (services: ${known.length ? known.map((h) => serviceOf(h).service).filter((s, i, a) => a.indexOf(s) === i).join(', ') : 'none'}).`);
      }
    }
    const rows: TopRow[] = selected.map((u) => {
      const f = trafficFigures(u.entries, windowSeconds);
      return {
        ...serviceOf(u.host),
        host: u.host,
        subset: u.subset || null,
        requests: f.requests,
        rps: f.ratePerSecond ?? 0,
        successRate: f.successRate,
        latencyMs: { p50: f.latencyMs.p50, p95: f.latencyMs.p95, p99: f.latencyMs.p99 },
        responses: { '2xx': f.responses['2xx'], '3xx': f.responses['3xx'], '4xx': f.responses['4xx'], '5xx': f.responses['5xx'] + f.responses.other },
      };
    });
    rows.sort((a, b) => a.service.localeCompare(b.service) || (a.namespace ?? '').localeCompare(b.namespace ?? '') || (a.subset ?? '').localeCompare(b.subset ?? ''));
    const notes: string[] = [];
    if (!mesh.installed) notes.push(`no mesh is installed at ${mesh.layout.root}`);
    return { home: mesh.layout.root, readAt: now.toISOString(), windowSeconds, host: filter ?? null, rows, notes };
  }
}
