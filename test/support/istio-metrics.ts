// A real Prometheus (/usr/bin/prometheus) on 127.0.0.1 with its own data directory, scraping a test
// exporter that serves Istio's standard metrics (istio_requests_total and
// istio_request_duration_milliseconds_bucket, with Istio's labels) whose counters the test drives.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './net.js';

const BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

interface Series {
  version: string;
  code: number;
  /** Envoy's response flags of the requests ("-": none). */
  flags: string;
  count: number;
  /** Per bucket upper bound, cumulative counts. */
  buckets: number[];
  sum: number;
}

/**
 * Istio's standard metrics of one destination service, as its sidecars report them (reporter="destination"),
 * or as the sidecar of a calling pod reports the requests it sent (reporter="source").
 */
export class IstioExporter {
  private readonly series = new Map<string, Series>();
  private server!: http.Server;
  port = 0;
  /** Runs before each scrape is answered (a test that counts requests per reading). */
  beforeScrape: (() => void) | null = null;
  /** Envoy's own series the sidecar shows beside Istio's (exposition lines), e.g. a cluster's upstream_rq_retry. */
  envoyStats: () => string[] = () => [];

  /** `reporter`: which end of a hop reports the requests (a receiving sidecar by default, the sender for top on a cluster). */
  constructor(readonly service: string, readonly namespace: string, readonly reporter: 'source' | 'destination' = 'destination') {}

  async start(): Promise<void> {
    this.server = http.createServer((_req, res) => {
      this.beforeScrape?.();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(this.text());
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Counts `n` requests to `version` answered with `code` in `latencyMs`, with Envoy's response `flags`. */
  record(version: string, code: number, n: number, latencyMs: number, flags = '-'): void {
    const k = `${version}|${code}|${flags}`;
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { version, code, flags, count: 0, buckets: BUCKETS.map(() => 0), sum: 0 }));
    s.count += n;
    s.sum += n * latencyMs;
    BUCKETS.forEach((b, i) => {
      if (latencyMs <= b) s!.buckets[i]! += n;
    });
  }

  private text(): string {
    const lines = ['# TYPE istio_requests_total counter', '# TYPE istio_request_duration_milliseconds histogram'];
    const host = `${this.service}.${this.namespace}.svc.cluster.local`;
    for (const s of this.series.values()) {
      const labels = `reporter="${this.reporter}",source_workload="productpage-v1",source_workload_namespace="${this.namespace}",destination_service="${host}",destination_service_name="${this.service}",destination_service_namespace="${this.namespace}",destination_workload="${this.service}-${s.version}",destination_workload_namespace="${this.namespace}",destination_version="${s.version}",request_protocol="http",response_code="${s.code}",response_flags="${s.flags}",connection_security_policy="mutual_tls"`;
      lines.push(`istio_requests_total{${labels}} ${s.count}`);
      BUCKETS.forEach((b, i) => lines.push(`istio_request_duration_milliseconds_bucket{${labels},le="${b}"} ${s.buckets[i]}`));
      lines.push(`istio_request_duration_milliseconds_bucket{${labels},le="+Inf"} ${s.count}`);
      lines.push(`istio_request_duration_milliseconds_sum{${labels}} ${s.sum}`);
      lines.push(`istio_request_duration_milliseconds_count{${labels}} ${s.count}`);
    }
    return `${[...lines, ...this.envoyStats()].join('\n')}\n`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface RunningPrometheus {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `targets` every second; resolves once it is ready and has scraped each once. */
export async function startPrometheus(targets: number[]): Promise<RunningPrometheus> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-prom-'));
  const port = await freePort();
  writeFileSync(path.join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: istio-mesh\n    static_configs:\n      - targets: [${targets.map((t) => `'127.0.0.1:${t}'`).join(', ')}]\n`);
  const child: ChildProcess = spawn('/usr/bin/prometheus', [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
      const up = await fetch(`${url}/api/v1/query?query=${encodeURIComponent('count(up == 1)')}`).then((r) => r.json() as Promise<{ data?: { result?: { value: [number, string] }[] } }>).catch(() => null);
      if (Number(up?.data?.result?.[0]?.value[1] ?? 0) >= targets.length) break;
      if (Date.now() > deadline) throw new Error(`prometheus did not scrape its targets in 60 s: ${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, stop };
}
