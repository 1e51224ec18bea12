// Envoy's /stats (JSON and text) into per-upstream and inbound traffic numbers.
//
// Stat names embed cluster names, and cluster names contain dots ("cluster.outbound|9080||reviews.default
// .svc.cluster.local.upstream_rq_2xx"), so names are never split on ".": a cluster's stats are found by the
// exact prefix `cluster.<name>.` for names taken from /clusters, and a listener's by cutting a known suffix.
import type { Stats, TrafficStats } from '../model.js';
import { parseSubsetKey } from '../model.js';
import { asArray, asNumber, asString, field } from './proto-json.js';
import { ONE_READING } from '../rates.js';
import { NOT_ENOUGH_TRAFFIC, percentOf } from '../figures.js';

/** One quantile of a histogram: Envoy's `supported_quantiles` are percents (50 = p50). */
export interface QuantileValue {
  percent: number;
  /** The last flush interval; null when it recorded nothing. */
  interval: number | null;
  /** Since the proxy started; null when nothing was ever recorded. */
  cumulative: number | null;
}

/** Stats by Envoy's own (untagged) names. */
export interface StatSet {
  values: Map<string, number>;
  histograms: Map<string, QuantileValue[]>;
}

/** Parses /stats?format=json: {"stats": [...]} or the bare list (as `jq .stats` prints it). */
export function parseStatsJson(doc: unknown): StatSet {
  const set: StatSet = { values: new Map(), histograms: new Map() };
  const list = Array.isArray(doc) ? doc : asArray(field(doc, 'stats'));
  const histogramBlocks: unknown[] = [];
  for (const entry of list) {
    const block = field(entry, 'histograms');
    if (block !== undefined) {
      histogramBlocks.push(block);
      continue;
    }
    const name = asString(field(entry, 'name'));
    const value = asNumber(field(entry, 'value'));
    if (name !== null && value !== null) set.values.set(name, value);
  }
  // The docs' excerpt is the histograms element alone.
  if (!Array.isArray(doc) && field(doc, 'stats') === undefined && field(doc, 'histograms') !== undefined) {
    histogramBlocks.push(field(doc, 'histograms'));
  }
  for (const block of histogramBlocks) {
    const supported = asArray(field(block, 'supported_quantiles')).map((q) => asNumber(q) ?? NaN);
    for (const h of asArray(field(block, 'computed_quantiles'))) {
      const name = asString(field(h, 'name'));
      if (name === null) continue;
      const values = asArray(field(h, 'values')).map(
        (v, i): QuantileValue => ({
          percent: supported[i] ?? NaN,
          interval: nullableNumber(field(v, 'interval')),
          cumulative: nullableNumber(field(v, 'cumulative')),
        }),
      );
      set.histograms.set(name, values);
    }
  }
  return set;
}

function nullableNumber(v: unknown): number | null {
  return v === null || v === undefined ? null : asNumber(v);
}

/** Parses the text /stats: `name: value` lines, histograms as `P0(interval,cumulative) P25(…) …`. */
export function parseStatsText(text: string): StatSet {
  const set: StatSet = { values: new Map(), histograms: new Map() };
  for (const line of text.split('\n')) {
    const sep = line.lastIndexOf(': ');
    if (sep <= 0) continue;
    const name = line.slice(0, sep).trim();
    const rest = line.slice(sep + 2).trim();
    if (/^P\d/.test(rest)) {
      const values: QuantileValue[] = [];
      for (const m of rest.matchAll(/P([\d.]+)\(([^,]+),([^)]+)\)/g)) {
        values.push({ percent: Number(m[1]), interval: textQuantile(m[2]!), cumulative: textQuantile(m[3]!) });
      }
      set.histograms.set(name, values);
    } else if (rest === 'No recorded values') {
      set.histograms.set(name, []);
    } else {
      const n = Number(rest);
      if (rest !== '' && Number.isFinite(n)) set.values.set(name, n);
    }
  }
  return set;
}

function textQuantile(v: string): number | null {
  const n = Number(v);
  return v === 'nan' || !Number.isFinite(n) ? null : n;
}

/** The value of one quantile (e.g. 99) of a histogram; null when absent or never recorded. */
export function quantileOf(values: QuantileValue[] | undefined, percent: number, which: 'cumulative' | 'interval' = 'cumulative'): number | null {
  const q = values?.find((v) => v.percent === percent);
  return q ? q[which] : null;
}

// ---------------------------------------------------------------- traffic

export interface TrafficOptions {
  /** Cluster names, from /clusters (the only safe source of names). */
  clusters: string[];
  /** Why a cluster's request stats are missing when the proxy does not expose them. */
  hiddenReason: string;
  /** Where the numbers were read. */
  source: string;
}


/** A traffic row with every field unknown for `reason`. */
export function unknownTraffic(name: string, direction: TrafficStats['direction'], reason: string): TrafficStats {
  const key = direction === 'outbound' ? parseSubsetKey(name) : null;
  const row: TrafficStats = {
    name,
    direction,
    host: key?.host ?? null,
    subset: key?.subset || null,
    requests: null,
    ratePerSecond: null,
    responses: { '2xx': null, '3xx': null, '4xx': null, '5xx': null },
    successRate: null,
    latencyMs: { p50: null, p90: null, p99: null },
    retries: null,
    ejections: null,
    missing: {},
  };
  for (const f of ['requests', 'ratePerSecond', 'responses', 'successRate', 'latencyMs', 'retries', 'ejections']) row.missing[f] = reason;
  return row;
}

/** Fills success rate (non-5xx over all responses) and its reason from the response classes. */
export function finishSuccessRate(row: TrafficStats): void {
  const classes = Object.values(row.responses);
  if (classes.every((c) => c === null)) {
    row.successRate = null;
    row.missing.successRate ??= 'no response counts';
    return;
  }
  const total = classes.reduce<number>((a, c) => a + (c ?? 0), 0);
  if (total === 0) {
    row.successRate = null;
    row.missing.successRate = NOT_ENOUGH_TRAFFIC;
    return;
  }
  row.successRate = percentOf(total - (row.responses['5xx'] ?? 0), total);
  delete row.missing.successRate;
}

function latencyFrom(row: TrafficStats, histogram: QuantileValue[] | undefined, what: string): void {
  if (!histogram) {
    row.missing.latencyMs = `the proxy exposes no ${what} histogram`;
    return;
  }
  row.latencyMs = { p50: quantileOf(histogram, 50), p90: quantileOf(histogram, 90), p99: quantileOf(histogram, 99) };
  if (row.latencyMs.p50 === null && row.latencyMs.p99 === null) row.missing.latencyMs = NOT_ENOUGH_TRAFFIC;
  else delete row.missing.latencyMs;
}

/** One cluster's traffic from its `cluster.<name>.` stats. */
export function upstreamTraffic(set: StatSet, cluster: string, hiddenReason: string): TrafficStats {
  const prefix = `cluster.${cluster}.`;
  const get = (suffix: string) => set.values.get(prefix + suffix);
  const row = unknownTraffic(cluster, 'outbound', hiddenReason);
  if (get('upstream_rq_total') === undefined) return row;
  row.requests = get('upstream_rq_total') ?? null;
  delete row.missing.requests;
  row.missing.ratePerSecond = ONE_READING;
  row.responses = {
    '2xx': get('upstream_rq_2xx') ?? null,
    '3xx': get('upstream_rq_3xx') ?? null,
    '4xx': get('upstream_rq_4xx') ?? null,
    '5xx': get('upstream_rq_5xx') ?? null,
  };
  // Envoy creates the response-class counters on first use: with requests counted, an absent class is zero.
  for (const k of Object.keys(row.responses) as (keyof TrafficStats['responses'])[]) {
    if (row.responses[k] === null && row.requests !== null) row.responses[k] = 0;
  }
  delete row.missing.responses;
  finishSuccessRate(row);
  latencyFrom(row, set.histograms.get(`${prefix}upstream_rq_time`), 'upstream_rq_time');
  row.retries = get('upstream_rq_retry') ?? null;
  if (row.retries === null) row.missing.retries = 'the proxy exposes no upstream_rq_retry counter for this cluster';
  else delete row.missing.retries;
  row.ejections = get('outlier_detection.ejections_enforced_total') ?? null;
  if (row.ejections === null) row.missing.ejections = 'no outlier-detection stats for this cluster (outlier detection not configured, or stats hidden)';
  else delete row.missing.ejections;
  return row;
}

/**
 * Connection managers (listeners) whose traffic counts as inbound. An Istio sidecar names its inbound ones
 * "inbound_…" (its other listeners serve health probes and metrics scrapes): then only those. Otherwise
 * every one but the admin's and Istio-style outbound ones.
 */
export function selectInboundPrefixes(all: Iterable<string>): string[] {
  const prefixes = [...new Set(all)].sort();
  const istio = prefixes.filter((p) => p.startsWith('inbound_'));
  if (istio.length) return istio;
  return prefixes.filter((p) => p !== 'admin' && !p.startsWith('outbound_'));
}

export function inboundPrefixes(set: StatSet): string[] {
  const suffix = '.downstream_rq_total';
  const prefixes: string[] = [];
  for (const name of set.values.keys()) {
    if (name.startsWith('http.') && name.endsWith(suffix)) prefixes.push(name.slice('http.'.length, -suffix.length));
  }
  return selectInboundPrefixes(prefixes);
}

/** Inbound traffic: the sum over the inbound connection managers' downstream stats. */
export function inboundTraffic(set: StatSet): { row: TrafficStats | null; note: string } {
  const prefixes = inboundPrefixes(set);
  if (!prefixes.length) return { row: null, note: 'inbound: the proxy exposes no downstream request stats for a non-admin HTTP listener' };
  const row = unknownTraffic('inbound', 'inbound', 'no inbound stats');
  const sum = (suffix: string): number | null => {
    let total: number | null = null;
    for (const p of prefixes) {
      const v = set.values.get(`http.${p}.${suffix}`);
      if (v !== undefined) total = (total ?? 0) + v;
    }
    return total;
  };
  row.requests = sum('downstream_rq_total');
  delete row.missing.requests;
  row.missing.ratePerSecond = ONE_READING;
  row.responses = {
    '2xx': sum('downstream_rq_2xx') ?? 0,
    '3xx': sum('downstream_rq_3xx') ?? 0,
    '4xx': sum('downstream_rq_4xx') ?? 0,
    '5xx': sum('downstream_rq_5xx') ?? 0,
  };
  delete row.missing.responses;
  finishSuccessRate(row);
  if (prefixes.length === 1) latencyFrom(row, set.histograms.get(`http.${prefixes[0]}.downstream_rq_time`), 'downstream_rq_time');
  else row.missing.latencyMs = `quantiles of ${prefixes.length} listeners cannot be combined; read them per listener in /stats`;
  row.retries = null;
  row.missing.retries = 'retries are counted on the upstream clusters, not on inbound traffic';
  row.ejections = null;
  row.missing.ejections = 'outlier ejection applies to upstream endpoints, not to inbound traffic';
  return { row, note: `inbound: ${prefixes.map((p) => `http.${p}`).join(', ')}` };
}

/** Traffic per upstream and inbound from a parsed /stats. */
export function trafficFromStatSet(set: StatSet, options: TrafficOptions): Stats {
  const upstreams = options.clusters.map((c) => upstreamTraffic(set, c, options.hiddenReason));
  const inbound = inboundTraffic(set);
  const notes = [inbound.note];
  const hidden = upstreams.filter((u) => u.requests === null).length;
  if (hidden) notes.push(`${hidden} of ${upstreams.length} clusters: ${options.hiddenReason}`);
  return { upstreams, inbound: inbound.row, source: options.source, notes };
}

/** The circuit breakers of `cluster` that are open now, from its `circuit_breakers.*_open` gauges; null when not exposed. */
export function openBreakers(set: StatSet, cluster: string): string[] | null {
  const prefix = `cluster.${cluster}.circuit_breakers.`;
  let seen = false;
  const open: string[] = [];
  for (const priority of ['default', 'high']) {
    for (const gauge of ['cx_open', 'cx_pool_open', 'rq_pending_open', 'rq_open', 'rq_retry_open']) {
      const v = set.values.get(`${prefix}${priority}.${gauge}`);
      if (v === undefined) continue;
      seen = true;
      if (v > 0) open.push(`${priority}.${gauge}`);
    }
  }
  return seen ? open : null;
}

/** Envoy's `server.state` gauge value → state name. */
export function serverStateName(value: number | undefined): 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING' | null {
  return value === 0 ? 'LIVE' : value === 1 ? 'DRAINING' : value === 2 ? 'PRE_INITIALIZING' : value === 3 ? 'INITIALIZING' : null;
}
