// Exporting the mesh's spans to a tracing backend: Zipkin v2 (`/api/v2/spans`) or OTLP/HTTP JSON
// (`/v1/traces`), in batches, from a bounded queue that drops (and counts) rather than grows, one
// request in flight at a time. The proxies never wait on it: the spans come from their access logs.
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { readJson, writeJsonAtomic } from '../../system/atomic-file.js';
import type { ZipkinSpan } from '../../runtime/traces.js';
import type { HomeLayout } from '../home.js';
import { usageError } from '../../errors.js';
import { call } from '../agent/client.js';
import type { AddonEnableResult } from './types.js';

export type TraceFormat = 'zipkin' | 'otlp';

export interface TracingSettings {
  url: string;
  format: TraceFormat;
}

export function tracingSettingsFile(layout: HomeLayout): string {
  return path.join(layout.root, 'telemetry', 'tracing.json');
}

/** OTLP's path means OTLP; anything else is a Zipkin v2 collector. */
export function traceFormatOf(url: string): TraceFormat {
  return /\/v1\/traces\/?$/.test(new URL(url).pathname) ? 'otlp' : 'zipkin';
}

export function readTracingSettings(layout: HomeLayout): Promise<TracingSettings | null> {
  return readJson<TracingSettings | null>(tracingSettingsFile(layout), null);
}

export async function writeTracingSettings(layout: HomeLayout, settings: TracingSettings | null): Promise<void> {
  const file = tracingSettingsFile(layout);
  if (!settings) {
    await fs.rm(file, { force: true });
    return;
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeJsonAtomic(file, settings, 0o644);
}

/** Spans in OTLP/HTTP JSON: one resource per service, Zipkin's tags as string attributes. */
export function otlpBody(spans: readonly ZipkinSpan[]): unknown {
  const byService = new Map<string, ZipkinSpan[]>();
  for (const s of spans) byService.set(s.localEndpoint.serviceName, [...(byService.get(s.localEndpoint.serviceName) ?? []), s]);
  const attributes = (tags: Record<string, string>) => Object.entries(tags).map(([key, v]) => ({ key, value: { stringValue: v } }));
  return {
    resourceSpans: [...byService.entries()].map(([service, list]) => ({
      resource: { attributes: attributes({ 'service.name': service }) },
      scopeSpans: [{
        scope: { name: 'meshctl' },
        spans: list.map((s) => ({
          traceId: s.traceId,
          spanId: s.id,
          ...(s.parentId ? { parentSpanId: s.parentId } : {}),
          name: s.name,
          kind: s.kind === 'SERVER' ? 2 : 3,
          startTimeUnixNano: String(BigInt(s.timestamp) * 1000n),
          endTimeUnixNano: String(BigInt(s.timestamp + s.duration) * 1000n),
          attributes: attributes(s.tags),
          status: s.tags.error === 'true' ? { code: 2 } : { code: 0 },
        })),
      }],
    })),
  };
}

export interface ExportCounters {
  exported: number;
  dropped: number;
  failedBatches: number;
}

export class SpanExporter {
  private queue: ZipkinSpan[] = [];
  private sending = false;
  private settings: TracingSettings | null = null;
  readonly counters: ExportCounters = { exported: 0, dropped: 0, failedBatches: 0 };

  constructor(private readonly options: { maxQueue?: number; batchSize?: number; timeoutMs?: number; log?: (line: string) => void } = {}) {}

  configure(settings: TracingSettings | null): void {
    this.settings = settings;
    if (!settings) this.queue = [];
  }

  get enabled(): boolean {
    return this.settings !== null;
  }

  /** Queues spans for export; what does not fit is dropped and counted, never waited for. */
  offer(spans: readonly ZipkinSpan[]): void {
    if (!this.settings) return;
    const room = (this.options.maxQueue ?? 10_000) - this.queue.length;
    if (spans.length > room) this.counters.dropped += spans.length - Math.max(0, room);
    if (room > 0) this.queue.push(...spans.slice(0, room));
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.sending || !this.settings || !this.queue.length) return;
    this.sending = true;
    try {
      while (this.settings && this.queue.length) {
        const batch = this.queue.splice(0, this.options.batchSize ?? 500);
        const { url, format } = this.settings;
        const body = JSON.stringify(format === 'otlp' ? otlpBody(batch) : batch);
        const ok = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000) })
          .then((r) => r.ok, () => false);
        if (ok) {
          this.counters.exported += batch.length;
        } else {
          // A backend that is down or slow loses these spans (counted), and the next ones get their chance.
          this.counters.failedBatches += 1;
          this.counters.dropped += batch.length;
        }
      }
    } finally {
      this.sending = false;
    }
  }
}

/** CLI side of `addons enable tracing --tracing-url URL`: the settings, then the agent exports from its next read on. */
export async function enableTracing(layout: HomeLayout, url: string | undefined, dryRun: boolean): Promise<AddonEnableResult> {
  if (!url) throw usageError('addons enable tracing needs --tracing-url URL: a Zipkin v2 collector (…/api/v2/spans) or an OTLP/HTTP endpoint (…/v1/traces).');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`--tracing-url ${url} is not a URL; pass e.g. http://127.0.0.1:9411/api/v2/spans.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw usageError(`--tracing-url ${url} is not an http(s) URL; pass e.g. http://127.0.0.1:9411/api/v2/spans.`);
  const format = traceFormatOf(url);
  const step = { description: `Export every proxy's spans to ${url} as ${format === 'otlp' ? 'OTLP/HTTP JSON' : 'Zipkin v2 JSON'}, in batches, dropping (and counting) what a slow backend cannot take.`, commands: [], done: false };
  const result: AddonEnableResult = { addon: 'tracing', status: 'planned', steps: [step], url, bin: null, version: null, installedNow: false };
  if (dryRun) return result;
  const before = await readTracingSettings(layout);
  await writeTracingSettings(layout, { url, format });
  await call(layout, 'addons', {});
  step.done = true;
  result.status = before?.url === url ? 'already-enabled' : 'enabled';
  return result;
}
