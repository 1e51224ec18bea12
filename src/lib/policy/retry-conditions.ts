// Istio's retry policy for an http route, as Envoy receives it, and what of its `retryOn` conditions
// the local mesh's sidecars can retry on. One place for both `validate` (MSH2015 at a condition the
// sidecars cannot honour) and the compiler (runtime/haproxy/retries.ts).

/** Istio's default when a route sets no `retries` (and for hosts without a VirtualService). */
export const ISTIO_DEFAULT_RETRIES = 2;
export const ISTIO_DEFAULT_RETRY_ON = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'];
export const ISTIO_DEFAULT_RETRIABLE_STATUS_CODES = [503];

export interface RetryPolicy {
  /** Retries after the first attempt (Envoy's num_retries); 0: no retry at all. */
  retries: number;
  /** Envoy retry_on conditions (status codes taken out). */
  conditions: string[];
  /** Envoy retriable_status_codes. */
  statusCodes: number[];
  perTryTimeoutMs: number | null;
}

export const ISTIO_DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: ISTIO_DEFAULT_RETRIES,
  conditions: ISTIO_DEFAULT_RETRY_ON,
  statusCodes: ISTIO_DEFAULT_RETRIABLE_STATUS_CODES,
  perTryTimeoutMs: null,
};

/**
 * As istiod translates `retries`: absent → the default policy; `attempts` 0 (or absent) → no retries;
 * else the default with the route's attempts, perTryTimeout and, when given, its retryOn (plain status
 * codes in it become retriable status codes).
 */
export function istioRetryPolicy(retries: { attempts: number; retryOn: string[] | null; perTryTimeoutMs: number | null } | null): RetryPolicy {
  if (!retries) return ISTIO_DEFAULT_RETRY_POLICY;
  if (!(retries.attempts > 0)) return { retries: 0, conditions: [], statusCodes: [], perTryTimeoutMs: null };
  const policy: RetryPolicy = { ...ISTIO_DEFAULT_RETRY_POLICY, retries: Math.floor(retries.attempts), perTryTimeoutMs: retries.perTryTimeoutMs };
  if (retries.retryOn && retries.retryOn.length) {
    const codes = retries.retryOn.filter((c) => /^\d+$/.test(c)).map(Number);
    const conditions = retries.retryOn.filter((c) => !/^\d+$/.test(c));
    if (codes.length && !conditions.includes('retriable-status-codes')) conditions.push('retriable-status-codes');
    policy.conditions = conditions;
    policy.statusCodes = codes;
  }
  return policy;
}

/** Statuses HAProxy 2.6's `retry-on` can name. */
export const HAPROXY_RETRIABLE_STATUS_CODES = [401, 403, 404, 408, 425, 500, 501, 502, 503, 504];

const GRPC_CONDITIONS = new Set(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']);

/**
 * The parts of a policy the sidecars cannot retry on, each as a short phrase. gRPC conditions in
 * Istio's own default are left out: the default is not the user's word, and nothing local carries gRPC.
 */
export function unenforcedRetryConditions(policy: RetryPolicy, isDefault = policy === ISTIO_DEFAULT_RETRY_POLICY): string[] {
  const out: string[] = [];
  for (const c of policy.conditions) {
    if (GRPC_CONDITIONS.has(c)) {
      if (!isDefault) out.push(`${c} (a gRPC status; the sidecars call pods over HTTP/1.1, which carries none)`);
    } else if (c === 'retriable-4xx') out.push('retriable-4xx (409 is not a status HAProxy retries on)');
    // Envoy's 5xx is every status from 500 to 599; HAProxy names 500-504 alone.
    else if (c === '5xx') out.push('5xx beyond 504 (HAProxy retries on 500-504 only: a 505-599 answer is passed on without a retry)');
    else if (c === 'retriable-headers' || c === 'envoy-ratelimited') out.push(`${c} (HAProxy retries on statuses and connection events only, never on a response header)`);
    else if (!KNOWN_CONDITIONS.has(c)) out.push(`${c} (not a retry condition the sidecars know)`);
  }
  if (policy.conditions.includes('retriable-status-codes')) {
    const missing = policy.statusCodes.filter((s) => !HAPROXY_RETRIABLE_STATUS_CODES.includes(s));
    if (missing.length) out.push(`status ${missing.join(', ')} (HAProxy retries on ${HAPROXY_RETRIABLE_STATUS_CODES.join(', ')} only)`);
  }
  return out;
}

const KNOWN_CONDITIONS = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'refused-stream', 'retriable-status-codes',
  'retriable-4xx', 'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure', ...GRPC_CONDITIONS,
]);

/** Splits a VirtualService `retryOn` string as istiod does. */
export function retryOnList(value: unknown): string[] | null {
  return typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : null;
}
