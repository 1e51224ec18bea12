// What `meshctl status` says of tracing: where spans are exported, the export's counters (from the
// agent's metrics endpoint), and the span store's bounds and use.
import { formatDuration } from '../../policy/duration.js';
import type { HomeLayout } from '../home.js';
import { LOOPBACK } from '../ports.js';
import { MESH_METRICS_PATH, metricsEndpointPort } from './metrics-endpoint.js';
import { byteSizeText, readSpanRetention, spanStorePaths, spanStoreUsage } from './span-store.js';
import { readTracingSettings, type TraceFormat } from './trace-export.js';

export interface TracingStatus {
  /** Where spans are exported (null: kept in the mesh home only). */
  url: string | null;
  format: TraceFormat | null;
  /** The export's counters since the agent started (null when its metrics endpoint does not answer). */
  exported: number | null;
  dropped: number | null;
  queued: number | null;
  store: { maxBytes: number; maxAgeMs: number; bytes: number; segments: number };
}

/** The agent's whole-mesh metrics text (with the export's counters); null when its endpoint does not answer. */
export async function meshMetricsText(layout: HomeLayout): Promise<string | null> {
  const port = await metricsEndpointPort(layout);
  if (port === null) return null;
  return fetch(`http://${LOOPBACK}:${port}${MESH_METRICS_PATH}`, { signal: AbortSignal.timeout(5000) }).then((r) => (r.ok ? r.text() : null), () => null);
}

/** What `meshctl status` says of tracing: the export's settings and counters, and the span store's bounds and use. */
export async function tracingStatus(layout: HomeLayout, metricsText: string | null): Promise<TracingStatus> {
  const [settings, retention, usage] = await Promise.all([readTracingSettings(layout), readSpanRetention(layout), spanStoreUsage(spanStorePaths(layout).dir)]);
  const counter = (name: string) => {
    const m = metricsText === null ? null : new RegExp(`^${name} (\\d+)$`, 'm').exec(metricsText);
    return m ? Number(m[1]) : null;
  };
  return {
    url: settings?.url ?? null,
    format: settings?.format ?? null,
    exported: counter('meshctl_trace_spans_exported_total'),
    dropped: counter('meshctl_trace_spans_dropped_total'),
    queued: counter('meshctl_trace_spans_queued'),
    store: { ...retention, ...usage },
  };
}

export function tracingStatusLine(t: TracingStatus): string {
  const store = `spans kept ${byteSizeText(t.store.bytes)} of ${byteSizeText(t.store.maxBytes)}, up to ${formatDuration(t.store.maxAgeMs)}`;
  if (!t.url) return `${store}; not exported (meshctl addons enable tracing --url URL)`;
  const counts = t.exported === null ? '' : ` (${t.exported} exported, ${t.dropped} dropped, ${t.queued} queued)`;
  return `exported to ${t.url} as ${t.format === 'otlp' ? 'OTLP/HTTP' : 'Zipkin v2'}${counts}; ${store}`;
}
