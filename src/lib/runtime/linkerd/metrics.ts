// linkerd2-proxy's metrics (GET :4191/metrics) into the proxy model: inbound and per-target outbound
// traffic, the build, and the identity certificate's expiry (the only certificate fact it publishes).
import type { Certificate, Health, Stats, TrafficStats } from '../model.js';
import { bucketsOf, histogramQuantile, samplesOf, sumOf, type Family, type Sample } from '../prometheus.js';
import { finishSuccessRate, unknownTraffic } from '../envoy/stats.js';
import { isoSeconds, secondsUntil } from '../x509.js';
import { ONE_READING } from '../rates.js';

export interface LinkerdProxyMetrics {
  stats: Stats;
  /** proxy_build_info's git_version. */
  version: string | null;
  /** process_start_time_seconds, as an ISO time. */
  startedAt: string | null;
  /** identity_cert_expiration_timestamp_seconds, as an ISO time. */
  certificateNotAfter: string | null;
}


function statusClass(code: string | undefined): '2xx' | '3xx' | '4xx' | '5xx' | null {
  const c = code?.[0];
  return c === '2' ? '2xx' : c === '3' ? '3xx' : c === '4' ? '4xx' : c === '5' ? '5xx' : null;
}

function trafficOf(families: Family[], name: string, direction: TrafficStats['direction'], match: (s: Sample) => boolean): TrafficStats {
  const pick = (family: string, sampleName?: string) => samplesOf(families, family, {}, sampleName).filter(match);
  const row = unknownTraffic(name, direction, 'no HTTP requests were seen (linkerd counts TCP connections separately)');
  const requests = sumOf(pick('request_total'));
  if (requests === null) return row;
  row.requests = requests;
  delete row.missing.requests;
  row.missing.ratePerSecond = ONE_READING;
  row.responses = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  for (const s of pick('response_total')) {
    const cls = statusClass(s.labels.status_code);
    if (cls) row.responses[cls] = (row.responses[cls] ?? 0) + s.value;
  }
  delete row.missing.responses;
  finishSuccessRate(row);
  const buckets = bucketsOf(pick('response_latency_ms'));
  const q = (p: number) => {
    const v = histogramQuantile(buckets, p);
    return v === null ? null : Math.round(v * 1000) / 1000;
  };
  row.latencyMs = { p50: q(0.5), p90: q(0.9), p99: q(0.99) };
  if (row.latencyMs.p50 === null) row.missing.latencyMs = 'no responses recorded in the latency histogram yet';
  else delete row.missing.latencyMs;
  row.missing.retries = 'linkerd2-proxy does not count retries in these metrics';
  row.missing.ejections = 'linkerd2-proxy does not report endpoint ejections in these metrics';
  return row;
}

/** Parses a linkerd2-proxy scrape (already split into families). */
export function linkerdProxyMetrics(families: Family[]): LinkerdProxyMetrics {
  const inbound = (s: Sample) => s.labels.direction === 'inbound';
  const outboundTargets = new Set<string>();
  for (const family of ['request_total', 'tcp_open_total']) {
    for (const s of samplesOf(families, family, { direction: 'outbound' })) {
      if (s.labels.peer === 'src') continue;
      outboundTargets.add(s.labels.authority ?? s.labels.dst_service ?? s.labels.target_addr ?? '');
    }
  }
  const upstreams = [...outboundTargets]
    .filter(Boolean)
    .sort()
    .map((target) =>
      trafficOf(
        families,
        target,
        'outbound',
        (s) => s.labels.direction === 'outbound' && (s.labels.authority ?? s.labels.dst_service ?? s.labels.target_addr) === target,
      ),
    );
  const hasInbound = samplesOf(families, 'request_total', { direction: 'inbound' }).length > 0;
  const stats: Stats = {
    upstreams,
    inbound: hasInbound ? trafficOf(families, 'inbound', 'inbound', inbound) : null,
    source: 'linkerd2-proxy /metrics',
    notes: [
      ...(hasInbound ? [] : ['inbound: no inbound HTTP requests were seen']),
      'latency quantiles are estimated from the histogram buckets (linear within a bucket)',
    ],
  };
  const build = samplesOf(families, 'proxy_build_info')[0];
  const start = sumOf(samplesOf(families, 'process_start_time_seconds'));
  const expiry = sumOf(samplesOf(families, 'identity_cert_expiration_timestamp_seconds'));
  return {
    stats,
    version: build?.labels.git_version ?? build?.labels.version ?? null,
    startedAt: start === null ? null : isoSeconds(new Date(start * 1000)),
    certificateNotAfter: expiry === null ? null : isoSeconds(new Date(expiry * 1000)),
  };
}

/** Health as far as metrics tell: the build and the uptime (readiness is a separate endpoint, /ready). */
export function linkerdHealth(metrics: LinkerdProxyMetrics, now: Date): Health {
  return {
    ready: null,
    reason: "linkerd2-proxy's metrics do not say whether it is ready; its admin port answers /ready.",
    state: null,
    uptimeSeconds: metrics.startedAt ? Math.max(0, Math.floor((now.getTime() - Date.parse(metrics.startedAt)) / 1000)) : null,
    runtime: 'linkerd',
    version: metrics.version,
    mesh: { name: 'linkerd', version: null, proxySha: null },
    config: { served: null, applied: null, status: 'UNKNOWN', byType: {} },
  };
}

/** The workload identity certificate, of which the metrics publish only the expiry. */
export function linkerdCertificate(metrics: LinkerdProxyMetrics, now: Date): Certificate | null {
  if (!metrics.certificateNotAfter) return null;
  const reason = 'linkerd2-proxy metrics publish only the identity certificate expiry';
  return {
    resource: 'identity',
    kind: 'cert_chain',
    status: 'ACTIVE',
    spiffeId: null,
    trustDomain: null,
    subject: null,
    issuer: null,
    serial: null,
    notBefore: null,
    notAfter: metrics.certificateNotAfter,
    secondsLeft: secondsUntil(metrics.certificateNotAfter, now),
    valid: secondsUntil(metrics.certificateNotAfter, now) > 0,
    chainLength: 1,
    missing: { spiffeId: reason, subject: reason, issuer: reason, serial: reason, notBefore: reason },
  };
}
