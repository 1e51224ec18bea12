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
import { formatDuration } from '../../policy/duration.js';
import { byteSizeText, readSpanRetention, writeSpanRetention } from './span-store.js';

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

  /** Spans waiting for their batch. */
  get queued(): number {
    return this.queue.length;
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

/**
 * A span export URL as a user typed it, checked before anything changes: an http or https URL (a
 * collector on loopback or anywhere); `flag` names the flag it came from in the sentence.
 */
export function checkTracingUrl(url: string, flag = '--tracing-url'): TracingSettings {
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    parsed = null;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.hostname) {
    throw usageError(`${flag} ${url} is not an http or https URL; pass a Zipkin v2 collector such as http://127.0.0.1:9411/api/v2/spans, or an OTLP/HTTP endpoint such as http://127.0.0.1:4318/v1/traces.`);
  }
  return { url, format: traceFormatOf(url) };
}

export interface TracingEnableOptions {
  /** Where spans are exported; without it the export stays as it is. */
  url?: string;
  /** The span store's new bounds; without them they stay as they are. */
  keepBytes?: number;
  keepForMs?: number;
  dryRun: boolean;
  /** The flag the URL came from, for the sentence about a bad one. */
  urlFlag?: string;
}

/** CLI side of `addons enable tracing` and `install --tracing-url`: the settings, then the agent exports and keeps spans by them from its next read on. */
export async function enableTracing(layout: HomeLayout, options: TracingEnableOptions): Promise<AddonEnableResult> {
  const { url, dryRun } = options;
  const retentionChange = options.keepBytes !== undefined || options.keepForMs !== undefined;
  if (!url && !retentionChange) throw usageError('addons enable tracing needs --url URL (a Zipkin v2 collector, …/api/v2/spans, or an OTLP/HTTP endpoint, …/v1/traces), or --keep-spans / --keep-spans-for to bound the span store.');
  const wanted = url ? checkTracingUrl(url, options.urlFlag) : null;
  const before = await readTracingSettings(layout);
  const retention = { ...(await readSpanRetention(layout)), ...(options.keepBytes !== undefined ? { maxBytes: options.keepBytes } : {}), ...(options.keepForMs !== undefined ? { maxAgeMs: options.keepForMs } : {}) };
  const steps = [];
  if (wanted) steps.push({ description: `Export every proxy's spans to ${wanted.url} as ${wanted.format === 'otlp' ? 'OTLP/HTTP JSON' : 'Zipkin v2 JSON'}, in batches, dropping (and counting) what a slow backend cannot take.`, commands: [], done: false });
  steps.push({ description: `Keep spans in the mesh home up to ${byteSizeText(retention.maxBytes)} and ${formatDuration(retention.maxAgeMs)}, dropping the oldest first.`, commands: [], done: false });
  const exported = wanted ?? before;
  const result: AddonEnableResult = { addon: 'tracing', status: 'planned', steps, url: exported?.url ?? null, bin: null, version: null, installedNow: false };
  if (dryRun) return result;
  if (wanted) await writeTracingSettings(layout, wanted);
  if (retentionChange) await writeSpanRetention(layout, retention);
  await call(layout, 'addons', {});
  for (const step of steps) step.done = true;
  result.status = (!wanted || before?.url === wanted.url) && !retentionChange ? 'already-enabled' : 'enabled';
  return result;
}
