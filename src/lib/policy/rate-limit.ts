// Local rate limits as the mesh enforces them on a workload's inbound side: meshctl's own RateLimit kind,
// and Envoy's local rate limit filter where an EnvoyFilter has its documented shape (one HTTP filter
// envoy.filters.http.local_ratelimit with a token bucket, inserted on SIDECAR_INBOUND of the workloads a
// workloadSelector picks). Any other EnvoyFilter is not read (local-enforcement.ts says so).
import type { Resource } from './load.js';
import { K } from './kinds.js';
import { parseDuration } from './duration.js';

export interface RateLimitRule {
  /** Requests let through per interval, on average (a token bucket's fill). */
  requests: number;
  perMs: number;
  /** The bucket's size: the most let through at once. */
  burst: number;
  pathPrefix: string | null;
  /** Lower-case header name: each of its values is limited on its own. */
  header: string | null;
  /** Headers added to a limited request's 429 (an EnvoyFilter's response_headers_to_add). */
  responseHeaders: Record<string, string>;
}

export interface RateLimitSpec {
  /** `RateLimit <ns>/<name>` or `EnvoyFilter <ns>/<name>`. */
  source: string;
  namespace: string;
  /** An EnvoyFilter in the root namespace selects workloads of every namespace, as in Istio. */
  everyNamespace: boolean;
  selector: Record<string, string>;
  limits: RateLimitRule[];
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);
const labels = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(obj(v) ?? {}).map(([k, x]) => [k, String(x)]));
const positiveInteger = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null);

function ownRateLimit(r: Resource, namespace: string): RateLimitSpec | null {
  const spec = obj(r.spec);
  const selector = labels(obj(spec?.selector)?.matchLabels);
  if (!Object.keys(selector).length || !Array.isArray(spec?.limits)) return null;
  const limits: RateLimitRule[] = [];
  for (const item of spec.limits as unknown[]) {
    const l = obj(item);
    const requests = positiveInteger(l?.requests);
    const per = typeof l?.per === 'string' ? parseDuration(l.per) : undefined;
    if (!requests || !per) continue;
    // HAProxy counts in whole milliseconds.
    const perMs = Math.max(1, Math.round(per));
    const match = obj(l?.match);
    limits.push({
      requests,
      perMs,
      burst: positiveInteger(l?.burst) ?? requests,
      pathPrefix: typeof match?.pathPrefix === 'string' && match.pathPrefix.startsWith('/') ? match.pathPrefix : null,
      header: typeof match?.header === 'string' && /^[A-Za-z0-9_-]+$/.test(match.header) ? match.header.toLowerCase() : null,
      responseHeaders: {},
    });
  }
  return limits.length ? { source: `RateLimit ${namespace}/${r.name}`, namespace, everyNamespace: false, selector, limits } : null;
}

const LOCAL_RATE_LIMIT = 'envoy.filters.http.local_ratelimit';
const LOCAL_RATE_LIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const TYPED_STRUCT = new Set(['type.googleapis.com/udpa.type.v1.TypedStruct', 'type.googleapis.com/xds.type.v3.TypedStruct']);

/** A runtime fraction that is always on: Envoy enforces the filter only on the share these give. */
function always(v: unknown): boolean {
  const value = obj(obj(v)?.default_value);
  return !!value && value.numerator === 100 && (value.denominator === undefined || value.denominator === 'HUNDRED');
}

/** Envoy's Duration as JSON: `60s`, `0.5s` (a protobuf Duration string). */
function envoyDurationMs(v: unknown): number | null {
  if (typeof v !== 'string' || !/^\d+(\.\d+)?s$/.test(v)) return null;
  const ms = Number(v.slice(0, -1)) * 1000;
  return ms >= 1 ? ms : null;
}

/** The LocalRateLimit of one config patch in its documented shape, else null. */
function localRateLimitPatch(patch: unknown): RateLimitRule | null {
  const p = obj(patch);
  const match = obj(p?.match);
  const filter = obj(obj(obj(obj(match?.listener)?.filterChain)?.filter));
  const value = obj(obj(p?.patch)?.value);
  if (p?.applyTo !== 'HTTP_FILTER' || match?.context !== 'SIDECAR_INBOUND') return null;
  if (filter && filter.name !== 'envoy.filters.network.http_connection_manager') return null;
  const operation = obj(p?.patch)?.operation;
  if (operation !== 'INSERT_BEFORE' && operation !== 'INSERT_FIRST' && operation !== 'ADD') return null;
  if (value?.name !== LOCAL_RATE_LIMIT) return null;
  const typed = obj(value.typed_config);
  const type = typed?.['@type'];
  const config = TYPED_STRUCT.has(String(type)) && typed?.type_url === LOCAL_RATE_LIMIT_TYPE ? obj(typed.value) : type === LOCAL_RATE_LIMIT_TYPE ? typed : null;
  if (!config) return null;
  const known = new Set(['@type', 'stat_prefix', 'token_bucket', 'filter_enabled', 'filter_enforced', 'response_headers_to_add']);
  if (Object.keys(config).some((k) => !known.has(k))) return null;
  const bucket = obj(config.token_bucket);
  const burst = positiveInteger(bucket?.max_tokens);
  const requests = positiveInteger(bucket?.tokens_per_fill) ?? (bucket?.tokens_per_fill === undefined ? 1 : null);
  const perMs = envoyDurationMs(bucket?.fill_interval);
  if (!burst || !requests || !perMs || !always(config.filter_enabled) || !always(config.filter_enforced)) return null;
  const responseHeaders: Record<string, string> = {};
  for (const item of Array.isArray(config.response_headers_to_add) ? config.response_headers_to_add : []) {
    const header = obj(obj(item)?.header);
    if (typeof header?.key !== 'string' || !/^[A-Za-z0-9_-]+$/.test(header.key) || typeof header.value !== 'string') return null;
    responseHeaders[header.key.toLowerCase()] = header.value;
  }
  return { requests, perMs, burst, pathPrefix: null, header: null, responseHeaders };
}

/**
 * An EnvoyFilter the local mesh enforces: every patch a local rate limit in its documented shape, for the
 * workloads of a workloadSelector. null for any other EnvoyFilter.
 */
export function envoyFilterRateLimit(spec: unknown, where: { namespace: string; name: string; rootNamespace?: string }): RateLimitSpec | null {
  const s = obj(spec);
  const selector = labels(obj(s?.workloadSelector)?.labels);
  const patches = Array.isArray(s?.configPatches) ? (s.configPatches as unknown[]) : [];
  if (!Object.keys(selector).length || !patches.length || s?.targetRefs !== undefined || s?.priority !== undefined) return null;
  const limits = patches.map(localRateLimitPatch);
  if (limits.some((l) => l === null)) return null;
  return { source: `EnvoyFilter ${where.namespace}/${where.name}`, namespace: where.namespace, everyNamespace: where.namespace === where.rootNamespace, selector, limits: limits as RateLimitRule[] };
}

/** Every rate limit of the resources, in their order: RateLimit resources and enforceable EnvoyFilters. */
export function rateLimitsOf(resources: Resource[], namespaceOf: (r: Resource) => string, rootNamespace: string): RateLimitSpec[] {
  const out: RateLimitSpec[] = [];
  for (const r of resources) {
    const spec = r.kindId === K.RateLimit ? ownRateLimit(r, namespaceOf(r)) : r.kindId === K.EnvoyFilter ? envoyFilterRateLimit(r.spec, { namespace: namespaceOf(r), name: r.name, rootNamespace }) : null;
    if (spec) out.push(spec);
  }
  return out;
}
