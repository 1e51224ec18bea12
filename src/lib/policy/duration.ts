// Durations as Istio reads them: protobuf Duration fields in YAML or JSON are decoded with Go's
// time.ParseDuration, so `1.5s`, `100ms`, `1h2m`, `250us` and a bare `0` are all valid, while `10`,
// `1 s`, `5min` or `1d` are not. Kubernetes' CEL `duration()` (used by Istio's CRDs) has the same syntax.

const NS_PER_UNIT: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 MICRO SIGN
  'μs': 1_000n, // U+03BC GREEK SMALL LETTER MU
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/**
 * The common shape of a valid, positive duration: whole units of ms, s, m or h without a leading zero
 * (`30s`, `500ms`, `2m`). Checking it first spares the exact parse; anything else takes the exact path.
 */
export const WHOLE_UNIT_DURATION = /^([1-9]\d{0,8})(ms|s|m|h)$/;
const MS_PER_UNIT: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Go's time.Duration is an int64 of nanoseconds; longer spans do not parse. */
const MAX_NANOS = 2n ** 63n - 1n;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Parses a duration to whole nanoseconds, exactly; undefined when Istio would refuse the text.
 * Negative durations parse (the syntax allows a sign); callers that need a positive span check it.
 */
export function parseDurationNanos(text: string): bigint | undefined {
  if (typeof text !== 'string') return undefined;
  let s = text;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return undefined;
  let total = 0n;
  let i = 0;
  while (i < s.length) {
    if (!(isDigit(s[i]) || s[i] === '.')) return undefined;
    const wholeStart = i;
    while (isDigit(s[i])) i++;
    const whole = s.slice(wholeStart, i);
    let fraction = '';
    if (s[i] === '.') {
      i++;
      const fractionStart = i;
      while (isDigit(s[i])) i++;
      fraction = s.slice(fractionStart, i);
    }
    if (whole === '' && fraction === '') return undefined;
    const unitStart = i;
    while (i < s.length && s[i] !== '.' && !isDigit(s[i])) i++;
    const unit = NS_PER_UNIT[s.slice(unitStart, i)];
    if (unit === undefined) return undefined;
    let part = (whole === '' ? 0n : BigInt(whole)) * unit;
    if (fraction !== '') part += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    total += part;
    if (total > MAX_NANOS + (negative ? 1n : 0n)) return undefined;
  }
  return negative ? -total : total;
}

/**
 * Parses an Istio duration (`1.5s`, `100ms`, `1h2m`) to milliseconds; undefined when it is not one.
 * Sub-millisecond parts are kept as a fraction (`1500us` → 1.5).
 */
export function parseDuration(text: string): number | undefined {
  // The common form, whole units of ms, s, m or h, without the exact (BigInt) arithmetic; spans far below
  // Go's int64 limit only, so the result is the one the exact path gives.
  if (typeof text === 'string') {
    const plain = WHOLE_UNIT_DURATION.exec(text);
    if (plain) {
      const ms = Number(plain[1]) * MS_PER_UNIT[plain[2]!]!;
      if (ms <= 1e12) return ms;
    }
  }
  const nanos = parseDurationNanos(text);
  if (nanos === undefined) return undefined;
  const wholeMs = nanos / 1_000_000n;
  return Number(wholeMs) + Number(nanos - wholeMs * 1_000_000n) / 1e6;
}

/** Milliseconds back to the shortest duration text: 1500 → `1.5s`, 90000 → `1m30s`, 0.25 → `250us`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1) return `${sign}${trim(rest * 1000)}us`;
  if (rest < 1000) return `${sign}${trim(rest)}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  let out = sign;
  if (hours) out += `${hours}h`;
  if (minutes) out += `${minutes}m`;
  if (rest || (!hours && !minutes)) out += `${trim(rest / 1000)}s`;
  return out;
}

function trim(n: number): string {
  return String(Number(n.toFixed(6)));
}
