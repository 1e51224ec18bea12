// The one way a meshctl flag takes a size in bytes (--log-max-size): a whole number with a binary
// unit, as Kubernetes quantities write them (`64KiB`, `20MiB`, `1GiB`). A bare number is refused with
// the unit to write, so that `--log-max-size 20` never silently means 20 bytes.
import * as Flags from '@oclif/core/flags';
import { usageError } from '../errors.js';

const UNITS: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** A size as a user writes it (`20MiB`), from bytes: the largest unit that divides it, else bytes in KiB. */
export function formatSize(bytes: number): string {
  for (const unit of ['GiB', 'MiB', 'KiB']) if (bytes % UNITS[unit]! === 0) return `${bytes / UNITS[unit]!}${unit}`;
  return `${bytes}B`;
}

/** `text` given to --`flag` in bytes; a usage error (exit 2, one sentence) when it is not a size or lies outside [min, max]. */
export function parseSizeFlag(flag: string, text: string, range: { min: number; max: number }): number {
  const match = /^(\d+)(KiB|MiB|GiB)$/.exec(text.trim());
  if (!match) throw usageError(`--${flag} ${text} is not a size; write it with its unit, as 64KiB, 20MiB or 1GiB.`);
  const bytes = Number(match[1]) * UNITS[match[2]!]!;
  if (bytes < range.min || bytes > range.max) throw usageError(`--${flag} must be from ${formatSize(range.min)} to ${formatSize(range.max)}, not ${text}.`);
  return bytes;
}

/** A size flag whose value is bytes. */
export function sizeFlag(options: { summary: string; min: number; max: number }) {
  const { summary, ...range } = options;
  return Flags.custom<number>({ summary, helpValue: 'SIZE', parse: async (input, _ctx, flag) => parseSizeFlag(flag.name, input, range) })();
}
