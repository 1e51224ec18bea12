// Rate limits on a sidecar's inbound listener, from stick tables. Each limit has a table whose entries
// (one per header value, or one for all) count the requests let through in a sliding window; a request
// counts against one limit (the most specific that matches), is answered 429 when the window is full, and
// only requests let through are counted, so a client that keeps knocking still gets its share, as with
// Envoy's token bucket. The bucket (burst B, refilled by N every interval P) becomes a window of B requests
// over P×B/N: B at once after a quiet spell, N per P on average.
import type { RateLimitRule, RateLimitSpec } from '../../policy/rate-limit.js';
import { selectorMatches } from '../../policy/selectors.js';
import { word, type HaproxySection } from './config.js';
import { setResponseFlag } from './response-flags.js';

/** The stick counter rate limits track with (sc2: the others stay free for other per-request tracking). */
const COUNTER = 2;

export interface InboundRateLimits {
  /** http-request lines of the inbound HTTP frontends, after the request variables. */
  requestLines: string[];
  /** One backend per limit, holding its stick table. */
  tables: HaproxySection[];
}

const TABLE_PREFIX = 'ratelimit_';

/** A backend that only holds a rate limit's stick table (no upstream cluster). */
export function isRateLimitTable(backend: string): boolean {
  return backend.startsWith(TABLE_PREFIX);
}

/** Longest path prefix first, then a limit keyed by a header before one that is not: the most specific decides. */
function specificity(a: RateLimitRule, b: RateLimitRule): number {
  return (b.pathPrefix?.length ?? 0) - (a.pathPrefix?.length ?? 0) || Number(b.header !== null) - Number(a.header !== null);
}

/** The rate limits that select a pod, compiled for its inbound listener; nothing at all when none does. */
export function inboundRateLimits(limits: RateLimitSpec[], pod: { namespace: string; labels: Record<string, string> }): InboundRateLimits {
  const rules = limits
    .filter((l) => (l.everyNamespace || l.namespace === pod.namespace) && selectorMatches(l.selector, pod.labels))
    .flatMap((l) => l.limits)
    .map((rule, index) => ({ rule, index }))
    .sort((a, b) => specificity(a.rule, b.rule) || a.index - b.index);
  const requestLines: string[] = [];
  const tables: HaproxySection[] = [];
  rules.forEach(({ rule }, n) => {
    const table = `${TABLE_PREFIX}${n}`;
    const windowMs = Math.max(1, Math.round((rule.perMs * rule.burst) / rule.requests));
    const conditions = [
      '!{ var(txn.ratelimit) -m found }',
      ...(rule.pathPrefix ? [`{ path -m beg ${word(rule.pathPrefix)} }`] : []),
      ...(rule.header ? [`{ req.hdr(${rule.header}) -m found }`] : []),
    ];
    const mine = `{ var(txn.ratelimit) -m int ${n} }`;
    const full = `${mine} { sc${COUNTER}_gpc0_rate ge ${rule.burst} }`;
    const resetSeconds = Math.max(1, Math.ceil(rule.perMs / 1000));
    const extra = Object.entries(rule.responseHeaders).map(([k, v]) => ` hdr ${word(k)} ${word(v.replace(/%/g, '%%'))}`).join('');
    requestLines.push(
      `http-request set-var(txn.ratelimit) int(${n}) if ${conditions.join(' ')}`,
      `http-request track-sc${COUNTER} ${rule.header ? `req.hdr(${rule.header})` : 'str(all)'} table ${table} if ${mine}`,
      setResponseFlag('RL', `if ${full}`),
      `http-request return status 429 content-type text/plain string ${word('local_rate_limited')} hdr x-ratelimit-limit ${rule.burst} hdr x-ratelimit-remaining 0 hdr x-ratelimit-reset ${resetSeconds}${extra} if ${full}`,
      `http-request sc-inc-gpc0(${COUNTER}) if ${mine}`,
    );
    tables.push({ kind: 'backend', name: table, lines: [`stick-table type string len 256 size 100k expire ${windowMs}ms store gpc0,gpc0_rate(${windowMs}ms)`] });
  });
  return { requestLines, tables };
}
