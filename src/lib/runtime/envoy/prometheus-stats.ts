// Envoy's /stats/prometheus into traffic numbers. Envoy moves cluster names and response classes into
// labels (envoy_cluster_name, envoy_response_code_class), so names come whole from the labels and nothing is
// split. Latency quantiles are estimated from the histogram buckets.
import type { Stats, TrafficStats } from '../model.js';
import { bucketsOf, histogramQuantile, samplesOf, sumOf, summaryQuantile, type Family } from '../prometheus.js';
import { finishSuccessRate, selectInboundPrefixes, unknownTraffic } from './stats.js';
import { ONE_READING } from '../rates.js';
import { NOT_ENOUGH_TRAFFIC } from '../figures.js';

const CLUSTER = 'envoy_cluster_name';
const HCM = 'envoy_http_conn_manager_prefix';

/** Cluster names that appear in any `envoy_cluster_name` label, in first-seen order. */
export function prometheusClusterNames(families: Family[]): string[] {
  const names = new Set<string>();
  for (const f of families) for (const s of f.samples) if (s.labels[CLUSTER] !== undefined && !f.name.startsWith('envoy_cluster_endpoint_')) names.add(s.labels[CLUSTER]!);
  return [...names];
}

function latency(row: TrafficStats, families: Family[], family: string, match: Record<string, string>): void {
  const samples = samplesOf(families, family, match);
  const buckets = bucketsOf(samples);
  if (!buckets.length) {
    // ?histogram_buckets=summary writes precomputed quantiles instead of buckets.
    const quantiles = samples.filter((s) => s.labels.quantile !== undefined);
    if (quantiles.length) {
      row.latencyMs = { p50: summaryQuantile(quantiles, 0.5), p90: summaryQuantile(quantiles, 0.9), p99: summaryQuantile(quantiles, 0.99) };
      if (row.latencyMs.p50 === null) row.missing.latencyMs = NOT_ENOUGH_TRAFFIC;
      else delete row.missing.latencyMs;
      return;
    }
    row.missing.latencyMs = `the proxy exposes no ${family} histogram`;
    return;
  }
  const q = (p: number) => {
    const v = histogramQuantile(buckets, p);
    return v === null ? null : Math.round(v * 1000) / 1000;
  };
  row.latencyMs = { p50: q(0.5), p90: q(0.9), p99: q(0.99) };
  if (row.latencyMs.p50 === null) row.missing.latencyMs = NOT_ENOUGH_TRAFFIC;
  else delete row.missing.latencyMs;
}

function responseClasses(families: Family[], family: string, match: Record<string, string>): TrafficStats['responses'] {
  const cls = (c: string) => sumOf(samplesOf(families, family, { ...match, envoy_response_code_class: c }));
  return { '2xx': cls('2'), '3xx': cls('3'), '4xx': cls('4'), '5xx': cls('5') };
}

export function upstreamTrafficFromPrometheus(families: Family[], cluster: string, hiddenReason: string): TrafficStats {
  const match = { [CLUSTER]: cluster };
  const row = unknownTraffic(cluster, 'outbound', hiddenReason);
  const total = sumOf(samplesOf(families, 'envoy_cluster_upstream_rq_total', match));
  if (total === null) return row;
  row.requests = total;
  delete row.missing.requests;
  row.missing.ratePerSecond = ONE_READING;
  const classes = responseClasses(families, 'envoy_cluster_upstream_rq_xx', match);
  row.responses = { '2xx': classes['2xx'] ?? 0, '3xx': classes['3xx'] ?? 0, '4xx': classes['4xx'] ?? 0, '5xx': classes['5xx'] ?? 0 };
  delete row.missing.responses;
  finishSuccessRate(row);
  latency(row, families, 'envoy_cluster_upstream_rq_time', match);
  row.retries = sumOf(samplesOf(families, 'envoy_cluster_upstream_rq_retry', match));
  if (row.retries === null) row.missing.retries = 'the proxy exposes no upstream_rq_retry counter for this cluster';
  else delete row.missing.retries;
  row.ejections = sumOf(samplesOf(families, 'envoy_cluster_outlier_detection_ejections_enforced_total', match));
  if (row.ejections === null) row.missing.ejections = 'no outlier-detection stats for this cluster (outlier detection not configured, or stats hidden)';
  else delete row.missing.ejections;
  return row;
}

export function inboundTrafficFromPrometheus(families: Family[]): { row: TrafficStats | null; note: string } {
  const prefixes = selectInboundPrefixes(samplesOf(families, 'envoy_http_downstream_rq_total').map((s) => s.labels[HCM] ?? ''));
  if (!prefixes.length) return { row: null, note: 'inbound: the proxy exposes no downstream request stats for a non-admin HTTP listener' };
  const row = unknownTraffic('inbound', 'inbound', 'no inbound stats');
  const inPrefixes = (family: string, extra: Record<string, string> = {}) =>
    prefixes.flatMap((p) => samplesOf(families, family, { ...extra, [HCM]: p }));
  row.requests = sumOf(inPrefixes('envoy_http_downstream_rq_total'));
  delete row.missing.requests;
  row.missing.ratePerSecond = ONE_READING;
  const cls = (c: string) => sumOf(inPrefixes('envoy_http_downstream_rq_xx', { envoy_response_code_class: c })) ?? 0;
  row.responses = { '2xx': cls('2'), '3xx': cls('3'), '4xx': cls('4'), '5xx': cls('5') };
  delete row.missing.responses;
  finishSuccessRate(row);
  // Buckets of several listeners add up, unlike precomputed quantiles.
  const buckets = bucketsOf(inPrefixes('envoy_http_downstream_rq_time'));
  if (buckets.length) {
    const q = (p: number) => {
      const v = histogramQuantile(buckets, p);
      return v === null ? null : Math.round(v * 1000) / 1000;
    };
    row.latencyMs = { p50: q(0.5), p90: q(0.9), p99: q(0.99) };
    if (row.latencyMs.p50 === null) row.missing.latencyMs = NOT_ENOUGH_TRAFFIC;
    else delete row.missing.latencyMs;
  } else row.missing.latencyMs = 'the proxy exposes no downstream_rq_time histogram';
  row.missing.retries = 'retries are counted on the upstream clusters, not on inbound traffic';
  row.missing.ejections = 'outlier ejection applies to upstream endpoints, not to inbound traffic';
  return { row, note: `inbound: ${prefixes.map((p) => `http.${p}`).join(', ')}` };
}

export function trafficFromPrometheus(families: Family[], options: { clusters?: string[]; hiddenReason: string; source: string }): Stats {
  const clusters = options.clusters ?? prometheusClusterNames(families);
  const upstreams = clusters.map((c) => upstreamTrafficFromPrometheus(families, c, options.hiddenReason));
  const inbound = inboundTrafficFromPrometheus(families);
  const notes = [inbound.note, 'latency quantiles are estimated from the histogram buckets (linear within a bucket)'];
  const hidden = upstreams.filter((u) => u.requests === null).length;
  if (hidden) notes.push(`${hidden} of ${upstreams.length} clusters: ${options.hiddenReason}`);
  return { upstreams, inbound: inbound.row, source: options.source, notes };
}
