// The one way a meshctl flag takes a span of time (--timeout, --interval, --window, ...). Values are
// Go durations, as kubectl's duration flags (wait --timeout, logs --since) and Istio's fields take them:
// `500ms`, `30s`, `2m`, `1m30s`. A bare number other than 0 has no unit and is refused with the
// seconds form to write instead, so that `--timeout 60` never silently means 60 ms or 60 minutes.
import * as Flags from '@oclif/core/flags';
import type { OptionFlag } from '@oclif/core/interfaces';
import { usageError } from '../errors.js';
import { parseDuration } from '../policy/duration.js';

export interface DurationRange {
  /** Accept 0 (a flag whose 0 turns something off); otherwise the span must be more than 0s. */
  allowZero?: boolean;
  /** The shortest span accepted, as a duration (`1s`). */
  min?: string;
  /** The longest span accepted, as a duration (`5m`). */
  max?: string;
}

/**
 * `text` given to --`flag` in milliseconds; a usage error (exit 2, one sentence) when it is not a
 * duration or lies outside `range`.
 */
export function parseDurationFlag(flag: string, text: string, range: DurationRange = {}): number {
  const trimmed = text.trim();
  if (/^[+-]?\d+(\.\d+)?$/.test(trimmed) && Number(trimmed) !== 0) {
    throw usageError(`--${flag} ${text} has no unit; write ${trimmed}s for seconds (or ${trimmed}ms, ${trimmed}m).`);
  }
  const ms = parseDuration(trimmed);
  if (ms === undefined) throw usageError(`--${flag} ${text} is not a duration; write it as 500ms, 30s, 2m or 1m30s.`);
  if (range.allowZero ? ms < 0 : ms <= 0) throw usageError(`--${flag} must be ${range.allowZero ? '0s or more' : 'more than 0s'}, not ${text}.`);
  if (range.min !== undefined && ms < parseDuration(range.min)!) throw usageError(`--${flag} must be at least ${range.min}, not ${text}.`);
  if (range.max !== undefined && ms > parseDuration(range.max)!) throw usageError(`--${flag} must be at most ${range.max}, not ${text}.`);
  return ms;
}

export interface DurationFlagOptions extends DurationRange {
  summary: string;
  /** The default as a duration (`60s`); help shows it as written. */
  default?: string;
}

/** A duration flag whose value is milliseconds; with a default, it always has one. */
export function durationFlag(options: DurationFlagOptions & { default: string }): OptionFlag<number>;
export function durationFlag(options: DurationFlagOptions): OptionFlag<number | undefined>;
export function durationFlag(options: DurationFlagOptions): OptionFlag<number> | OptionFlag<number | undefined> {
  const { summary, default: defaultText, ...range } = options;
  const parse = async (input: string, _ctx: unknown, flag: { name: string }) => parseDurationFlag(flag.name, input, range);
  if (defaultText === undefined) return Flags.custom<number>({ summary, helpValue: 'DURATION', parse })();
  return Flags.custom<number>({ summary, helpValue: 'DURATION', parse, default: parseDurationFlag('default', defaultText, range), defaultHelp: async () => defaultText })();
}

/**
 * A duration flag that also takes `none` (and 0) for "no limit": its value is milliseconds, or null for none.
 */
export function optionalDurationFlag(options: DurationFlagOptions) {
  const { summary, ...range } = options;
  return Flags.custom<number | null>({
    summary,
    helpValue: 'DURATION|none',
    parse: async (input, _ctx, flag) => {
      if (input.trim() === 'none') return null;
      const ms = parseDurationFlag(flag.name, input, { ...range, allowZero: true });
      return ms === 0 ? null : ms;
    },
  })();
}
