// The agent's metrics endpoint: Istio's standard metrics of every proxy of the mesh, made by the agent
// from the proxies' access logs (the lines they write anyway), so that no request pays for them on its
// way. Each proxy's reports are served on a path of their own, and the list of those paths is kept
// current, as Prometheus' file-based service discovery reads it, whenever pods come and go.
import http from 'node:http';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { readAccessLog, type AccessLogEntry, type LogPosition } from '../../runtime/haproxy/access-log.js';
import { IstioMetrics, type MeshPeer } from '../../runtime/istio-metrics.js';
import { ResilienceCounters } from '../../runtime/resilience-counters.js';
import { RuntimeApi } from '../../runtime/haproxy/runtime-api.js';
import { spanOf, type ZipkinSpan } from '../../runtime/traces.js';
import type { SpanExporter } from './trace-export.js';
import { readSpanCursor, spanStorePaths, SpanStore, writeSpanCursor, type SpanRetention } from './span-store.js';
import { spiffeId } from '../../policy/spiffe.js';
import { readJson, writeJsonAtomic } from '../../system/atomic-file.js';
import { LOOPBACK, portFree } from '../ports.js';
import { meshGateway, meshPod, type Placement } from '../pods.js';
import type { HomeLayout } from '../home.js';

/** Where a home keeps what its telemetry needs (the endpoint's port, the scrape targets). */
export function telemetryPaths(layout: HomeLayout): { dir: string; endpoint: string; scrapeTargets: string } {
  const dir = path.join(layout.root, 'telemetry');
  return { dir, endpoint: path.join(dir, 'endpoint.json'), scrapeTargets: path.join(dir, 'scrape-targets.json') };
}

/** The path one proxy's Istio metrics are served on. */
export function proxyMetricsPath(proxy: string): string {
  return `/proxies/${encodeURIComponent(proxy)}/stats/prometheus`;
}

/** The whole mesh's Istio metrics in one answer (for a look by hand; Prometheus scrapes per proxy). */
export const MESH_METRICS_PATH = '/stats/prometheus';

/** How often the logs are read without a scrape asking, so that a read never has far to go. */
const INGEST_EVERY_MS = 5000;

interface ScrapeTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** The port the agent's metrics endpoint listens on; null when it never started. */
export async function metricsEndpointPort(layout: HomeLayout): Promise<number | null> {
  const saved = await readJson<{ port?: number } | null>(telemetryPaths(layout).endpoint, null).catch(() => null);
  return saved?.port ?? null;
}

export class MeshMetricsEndpoint {
  private readonly metrics = new IstioMetrics();
  private readonly resilience = new ResilienceCounters();
  private peers = new Map<string, MeshPeer>();
  private logs: string[] = [];
  /** Where each log was read last: its offset, its inode, and a log set aside still read (readAccessLog). */
  private readonly positions = new Map<string, LogPosition>();
  private server: http.Server | null = null;
  private port = 0;
  private timer: NodeJS.Timeout | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private placed = false;
  private readonly store: SpanStore;
  private nextIngest: Promise<void> | null = null;
  private runtimeSockets = new Map<string, string>();

  constructor(private readonly layout: HomeLayout, private readonly trustDomain: string, private readonly log: (line: string) => void, private readonly spans?: SpanExporter) {
    this.store = new SpanStore(spanStorePaths(layout).dir);
  }

  /** The span store's bounds (addons enable tracing --keep-spans, --keep-spans-for). */
  setSpanRetention(retention: SpanRetention): void {
    this.store.configure(retention);
  }

  /** Listens on loopback (on the port of the previous agent when it is free, so that bookmarks keep working). */
  async start(): Promise<number> {
    const paths = telemetryPaths(this.layout);
    await fs.mkdir(spanStorePaths(this.layout).dir, { recursive: true, mode: 0o700 });
    const previous = await metricsEndpointPort(this.layout);
    const server = http.createServer((req, res) => void this.answer(req, res));
    const listen = (port: number) => new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: LOOPBACK, port, exclusive: true }, () => {
        server.removeListener('error', reject);
        resolve((server.address() as { port: number }).port);
      });
    });
    this.port = previous && (await portFree(previous)) ? await listen(previous).catch(() => listen(0)) : await listen(0);
    this.server = server;
    await writeJsonAtomic(paths.endpoint, { port: this.port }, 0o644);
    this.timer = setInterval(() => void this.ingest().catch((err: Error) => this.log(`reading the access logs for metrics failed: ${err.message}`)), INGEST_EVERY_MS);
    this.timer.unref();
    return this.port;
  }

  /**
   * The proxies the mesh runs now. A log that exists when the agent starts is counted from its end (its
   * lines were counted by the agent before, whose counters Prometheus saw reset); a proxy that appears
   * later is counted from its first line.
   */
  setPlacement(placement: Placement): Promise<void> {
    return this.serial(async () => {
      const peers = new Map<string, MeshPeer>();
      const logs: string[] = [];
      const sockets = new Map<string, string>();
      for (const p of placement.pods) {
        peers.set(p.name, { name: p.name, namespace: p.namespace, workload: p.workload, labels: p.labels, principal: this.principal(p.namespace, p.serviceAccount) });
        logs.push(meshPod(this.layout, p).paths.accessLog);
        sockets.set(p.name, meshPod(this.layout, p).paths.runtimeSocket);
      }
      for (const g of placement.gateways) {
        peers.set(g.name, { name: g.name, namespace: g.namespace, workload: g.name, labels: { app: g.name, istio: 'ingressgateway' }, principal: this.principal(g.namespace, g.serviceAccount) });
        logs.push(meshGateway(this.layout, g).paths.accessLog);
        sockets.set(g.name, meshGateway(this.layout, g).paths.runtimeSocket);
      }
      // The spans a previous agent had not stored yet are stored now (their requests were counted already).
      const stored = this.placed ? {} : await readSpanCursor(this.layout);
      for (const file of logs) {
        if (this.positions.has(file)) continue;
        const { size: end, ino } = this.placed ? { size: 0, ino: undefined } : await fs.stat(file).then((s) => ({ size: s.size, ino: s.ino }), () => ({ size: 0, ino: undefined }));
        this.positions.set(file, { offset: end, ino });
        const from = stored[file];
        if (from !== undefined && from < end) await this.storeSpans((await readAccessLog(file, from)).entries);
      }
      for (const file of [...this.positions.keys()]) if (!logs.includes(file)) this.positions.delete(file);
      this.placed = true;
      this.peers = peers;
      this.logs = logs;
      this.runtimeSockets = sockets;
      this.metrics.retain(new Set(peers.keys()));
      this.resilience.retain(new Set(peers.keys()));
      await this.writeScrapeTargets();
    });
  }

  private principal(namespace: string, serviceAccount: string): string {
    try {
      return spiffeId({ trustDomain: this.trustDomain, namespace, serviceAccount });
    } catch {
      return 'unknown';
    }
  }

  /**
   * Counts the lines appended to every proxy's log since the last read. Callers that arrive while a read
   * waits its turn share it (it starts after they arrived, so each sees every line logged before it
   * asked): a round of scrapes of every proxy costs one read of the logs, not one per proxy.
   */
  ingest(): Promise<void> {
    this.nextIngest ??= this.serial(async () => {
      this.nextIngest = null;
      const appended: AccessLogEntry[] = [];
      for (const file of this.logs) {
        const read = await readAccessLog(file, this.positions.get(file) ?? 0);
        this.positions.set(file, read.position);
        for (const e of read.entries) this.metrics.record(e, this.peers);
        this.resilience.recordAll(read.entries);
        appended.push(...read.entries);
      }
      await this.storeSpans(appended);
      await writeSpanCursor(this.layout, Object.fromEntries([...this.positions].map(([file, p]) => [file, p.offset])));
    });
    return this.nextIngest;
  }

  /** Keeps the lines' spans in the store and hands them to the export; a store that cannot be written loses them, never the metrics. */
  private async storeSpans(entries: readonly AccessLogEntry[]): Promise<void> {
    // In the order the requests ended, whichever proxy logged them, so that a store past its size drops the
    // oldest. A request on a reused connection carries the connection's accept date: the second its line
    // was written then says better when it ended.
    const endMs = (e: AccessLogEntry) => Math.max(e.startMs + Math.max(0, e.durationMs), Date.parse(e.time) || 0);
    const ordered = [...entries].sort((a, b) => endMs(a) - endMs(b));
    const spans = ordered.map((e) => spanOf(e, this.peers)).filter((x): x is ZipkinSpan => x !== null);
    await this.store.append(spans).catch((err: Error) => this.log(`the span store could not be written: ${err.message}`));
    if (this.spans?.enabled) this.spans.offer(spans);
  }

  /** One target per proxy, labelled as Istio's Prometheus labels a pod's, written atomically (Prometheus may read at any moment). */
  private async writeScrapeTargets(): Promise<void> {
    const address = `${LOOPBACK}:${this.port}`;
    const groups: ScrapeTargetGroup[] = [...this.peers.values()].map((p) => ({
      targets: [address],
      labels: { __metrics_path__: proxyMetricsPath(p.name), instance: p.name, pod: p.name, namespace: p.namespace, workload: p.workload },
    }));
    await writeJsonAtomic(telemetryPaths(this.layout).scrapeTargets, groups, 0o644);
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/proxies\/([^/]+)\/stats\/prometheus$/.exec(url.pathname);
    const proxy = m ? decodeURIComponent(m[1]!) : undefined;
    if (req.method !== 'GET' || (!m && url.pathname !== MESH_METRICS_PATH) || (proxy !== undefined && !this.peers.has(proxy))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    try {
      // A scrape sees every request logged before it.
      await this.ingest();
      const ejections = proxy === undefined ? '' : await this.ejectionLines(proxy);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(this.metrics.render(proxy) + this.resilience.render(proxy) + ejections + (proxy === undefined ? this.exportLines() : ''));
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  }

  /** The proxy's outlier ejections, from its runtime API; nothing when it does not answer (a scrape never fails for it). */
  private async ejectionLines(proxy: string): Promise<string> {
    const socket = this.runtimeSockets.get(proxy);
    if (!socket) return '';
    const stat = await new RuntimeApi(socket, 2000).showStat().catch(() => null);
    return stat ? this.resilience.ejections(proxy, stat) : '';
  }

  /** The span export's counters, beside the mesh's metrics. */
  private exportLines(): string {
    if (!this.spans) return '';
    const c = this.spans.counters;
    return [
      '# HELP meshctl_trace_spans_exported_total Spans the agent sent to the tracing backend.',
      '# TYPE meshctl_trace_spans_exported_total counter',
      `meshctl_trace_spans_exported_total ${c.exported}`,
      '# HELP meshctl_trace_spans_dropped_total Spans dropped: the export queue was full, or the backend failed.',
      '# TYPE meshctl_trace_spans_dropped_total counter',
      `meshctl_trace_spans_dropped_total ${c.dropped}`,
      '# HELP meshctl_trace_spans_queued Spans waiting in the export queue.',
      '# TYPE meshctl_trace_spans_queued gauge',
      `meshctl_trace_spans_queued ${this.spans.queued}`,
      '',
    ].join('\n');
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.server?.close();
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
