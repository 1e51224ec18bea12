// The HAProxy runtime's one traffic pipeline, behind route shift's gates, top and inspect's stats: the
// requests the proxies logged as their senders, read from the JSON access logs, grouped by destination
// host and subset and turned into figures by the runtime-neutral rules of ../figures.ts.
import { promises as fs } from 'node:fs';
import { figuresOf, resilienceFiguresOf, upstreamKey, type TrafficWindow, type UpstreamFigures } from '../figures.js';
import { readAccessLog, readRecentAccessLog, type AccessLogEntry, type LogPosition } from './access-log.js';

/**
 * Which lines count: each request once, where it was sent from (a sidecar's outbound listener, an
 * ingress proxy), so that requests a caller's sidecar failed before they reached any pod count too;
 * with `mirrored`, the copies a mirror listener sent instead. Requests that matched no route (404)
 * have no destination and count for none.
 */
export function isSentRequest(e: AccessLogEntry, options: { mirrored?: boolean } = {}): boolean {
  if (!e.destinationHost) return false;
  if (options.mirrored) return e.mirror;
  return isSenderLine(e);
}

/** A line of the proxy that sent the request (a sidecar's outbound listener, an ingress proxy), not a mirror copy. */
function isSenderLine(e: AccessLogEntry): boolean {
  return !e.mirror && (e.direction === 'outbound' || e.direction === 'ingress');
}

/**
 * A sent request refused by its destination's connection pool (UO): the pool answers before the
 * destination is recorded, so its line names only the backend, which the proxy's other lines name.
 */
function isOverflowWithoutDestination(e: AccessLogEntry): boolean {
  return !e.destinationHost && isSenderLine(e) && isPoolOverflow(e);
}

/** A request an AuthorizationPolicy denied, on the line of the proxy that denied it (an app's own 403 is none). */
export function isPolicyDenial(e: AccessLogEntry): boolean {
  return e.status === 403 && (e.authz ?? '').startsWith('rbac_access_denied');
}

/** A request a rate limit refused (RL), on the line of the proxy that refused it. */
export function isRateLimited(e: AccessLogEntry): boolean {
  return e.responseFlags.includes('RL');
}

/** A request refused at once because its destination's connection pool was full (UO). */
export function isPoolOverflow(e: AccessLogEntry): boolean {
  return e.responseFlags.includes('UO');
}

/** A refusal the destination's sidecar decided (a denial, a rate limit): the sender's line shows only the status it passed on. */
function isRefusalAtDestination(e: AccessLogEntry): boolean {
  return e.direction === 'inbound' && !e.mirror && (isPolicyDenial(e) || isRateLimited(e));
}

/** A sent request refused for want of a route (NR: no route matched, or a host outside a REGISTRY_ONLY sidecar's registry). */
function isUnrouted(e: AccessLogEntry): boolean {
  return !e.destinationHost && isSenderLine(e) && e.responseFlags.includes('NR');
}

/** The host a request asked for, as a row names it: lower case, without the port. */
function requestedHost(e: AccessLogEntry): string {
  return e.host.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
}

/** The lines the figures read (of the requests sent to `host` only, when given). */
export function isTrafficLine(host?: string): (e: AccessLogEntry) => boolean {
  return (e) => isRefusalAtDestination(e) || isOverflowWithoutDestination(e) || (host === undefined && isUnrouted(e))
    || ((isSentRequest(e) || isSentRequest(e, { mirrored: true })) && (host === undefined || e.destinationHost === host));
}

/**
 * The figures of every destination (host, subset) the counted requests of `window` went to, sorted by
 * host then subset. Requests refused for want of a route count for the host they asked for (no subset).
 */
export function figuresByUpstream(entries: Iterable<AccessLogEntry>, window: TrafficWindow, options: { mirrored?: boolean } = {}): UpstreamFigures[] {
  const lines = [...entries];
  // A proxy's lines that name their destination tell where each of its backends sends.
  const destinationOfBackend = new Map<string, { host: string; subset: string }>();
  // What the destinations' sidecars refused, by request id (the sender's line carries the same id).
  const refusedAtDestination = new Map<string, { denied: boolean; rateLimited: boolean }>();
  for (const e of lines) {
    if (isSentRequest(e) && e.backend) destinationOfBackend.set(`${e.proxy}\0${e.backend}`, { host: e.destinationHost, subset: e.destinationSubset });
    if (isRefusalAtDestination(e) && e.requestId) refusedAtDestination.set(e.requestId, { denied: isPolicyDenial(e), rateLimited: isRateLimited(e) });
  }
  const groups = new Map<string, { host: string; subset: string; entries: AccessLogEntry[] }>();
  for (const e of lines) {
    if (e.startMs < window.sinceMs || e.startMs >= window.untilMs) continue;
    const destination = isSentRequest(e, options)
      ? { host: e.destinationHost, subset: e.destinationSubset }
      : options.mirrored ? undefined
      : isOverflowWithoutDestination(e) ? destinationOfBackend.get(`${e.proxy}\0${e.backend}`)
      : isUnrouted(e) && requestedHost(e) ? { host: requestedHost(e), subset: '' } : undefined;
    if (!destination) continue;
    const key = upstreamKey(destination.host, destination.subset);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ...destination, entries: [] }));
    g.entries.push(e);
  }
  const outcome = (e: AccessLogEntry) => {
    const atDestination = refusedAtDestination.get(e.requestId);
    return { denied: isPolicyDenial(e) || (e.status === 403 && Boolean(atDestination?.denied)), rateLimited: e.status === 429 && Boolean(atDestination?.rateLimited) };
  };
  return [...groups.values()]
    .sort((a, b) => a.host.localeCompare(b.host) || a.subset.localeCompare(b.subset))
    .map((g) => ({ host: g.host, subset: g.subset, ...figuresOf(g.entries, window), resilience: resilienceFiguresOf(g.entries, window, outcome) }));
}

/**
 * The recent lines of a set of access logs, kept in memory between reads: each read adds only what
 * was appended since the last one. A log read for the first time is read back from its end as far
 * as the window starts (or, after `startAtEnd`, from then on only). Windows move forward: lines that
 * started before the latest window are let go.
 */
export class AccessLogTail {
  private readonly positions = new Map<string, LogPosition>();
  private kept: AccessLogEntry[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  /** `keep`: the lines worth keeping (the others are dropped as they are read). */
  constructor(private readonly keep: (e: AccessLogEntry) => boolean = () => true) {}

  /** Only lines appended to these logs from now on are read. */
  startAtEnd(files: readonly string[]): Promise<void> {
    return this.serial(async () => {
      await Promise.all(files.filter((f) => !this.positions.has(f)).map(async (file) => {
        this.positions.set(file, await fs.stat(file).then((s) => ({ offset: s.size, ino: s.ino }), () => ({ offset: 0 })));
      }));
    });
  }

  /** The kept lines of `files` whose requests started at or after `sinceMs`. */
  since(files: readonly string[], sinceMs: number): Promise<readonly AccessLogEntry[]> {
    return this.serial(async () => {
      const fresh: AccessLogEntry[][] = await Promise.all(files.map(async (file) => {
        const position = this.positions.get(file);
        if (position === undefined) {
          const read = await readRecentAccessLog(file, { sinceMs });
          this.positions.set(file, { offset: read.nextOffset, ino: await fs.stat(file).then((s) => s.ino, () => undefined) });
          return read.entries;
        }
        // A log set aside since (rotated) is read to its end, then the new one from its start.
        const read = await readAccessLog(file, position);
        this.positions.set(file, read.position);
        return read.entries;
      }));
      this.kept = this.kept.filter((e) => e.startMs >= sinceMs);
      for (const list of fresh) for (const e of list) if (e.startMs >= sinceMs && this.keep(e)) this.kept.push(e);
      return this.kept;
    });
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
