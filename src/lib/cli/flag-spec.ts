// Flags as plain data, for a command that can also run without the CLI framework (see direct.ts). The
// command builds its oclif flags from the same table (base.ts: oclifFlags), so help, the README and
// oclif's parser see exactly what the quick parser below sees.

export interface FlagSpec {
  type: 'boolean' | 'string' | 'option' | 'integer';
  summary: string;
  char?: string;
  /** The values an `option` flag takes. */
  options?: readonly string[];
  default?: string | number | boolean;
  /** Repeatable; each occurrence takes one value. */
  multiple?: boolean;
  /** Least value of an `integer` flag. */
  min?: number;
}

export type FlagTable = Record<string, FlagSpec>;

export function outputSummary(formats: readonly string[]): string {
  return `Output format: ${formats.join(', ')}.`;
}

export const JSON_SUMMARY = 'Shorthand for -o json.';

export interface SimpleParse {
  flags: Record<string, unknown>;
  /** Positional arguments, in order. */
  args: string[];
}

/**
 * Parses `argv` when it uses only the plain forms: `--name value`, `--name=value`, `-c value`, a boolean
 * `--name`, each flag once unless repeatable, every value valid, and `--` before positional arguments
 * that look like flags. Anything else (an unknown or repeated flag, a bad or missing value, bundled
 * short flags) returns undefined, and the caller hands argv to oclif, whose parser words the error.
 */
export function parseSimple(argv: readonly string[], table: FlagTable): SimpleParse | undefined {
  const byChar = new Map<string, string>();
  for (const [name, spec] of Object.entries(table)) if (spec.char) byChar.set(spec.char, name);
  const flags: Record<string, unknown> = {};
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (token.length < 2 || token[0] !== '-') {
      args.push(token);
      continue;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      name = eq === -1 ? token.slice(2) : token.slice(2, eq);
      if (eq !== -1) inline = token.slice(eq + 1);
    } else if (token.length === 2) {
      name = byChar.get(token[1]!);
    }
    if (name === undefined || !Object.hasOwn(table, name)) return undefined;
    const spec = table[name]!;
    if (spec.type === 'boolean') {
      if (inline !== undefined || name in flags) return undefined;
      flags[name] = true;
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      raw = argv[i + 1];
      if (raw === undefined || raw.startsWith('-')) return undefined;
      i++;
    }
    const value = valueOf(spec, raw);
    if (value === undefined) return undefined;
    if (spec.multiple) {
      ((flags[name] ??= []) as unknown[]).push(value);
    } else {
      if (name in flags) return undefined;
      flags[name] = value;
    }
  }
  for (const [name, spec] of Object.entries(table)) {
    if (!(name in flags) && spec.default !== undefined) flags[name] = spec.default;
  }
  return { flags, args };
}

function valueOf(spec: FlagSpec, raw: string): string | number | undefined {
  if (raw === '') return undefined;
  if (spec.type === 'option') return spec.options?.includes(raw) ? raw : undefined;
  if (spec.type === 'integer') {
    if (!/^\d{1,15}$/.test(raw)) return undefined;
    const n = Number(raw);
    return spec.min !== undefined && n < spec.min ? undefined : n;
  }
  return raw;
}

/**
 * The output format of `-o` and its `--json` shorthand. Both at once must agree: `--json` with `-o json`
 * (or with the default) is json; with any other `-o` it is a usage error, returned as its sentence.
 */
export function outputFormat(flags: { output?: string; json?: boolean }, defaultFormat = 'text'): { format: string } | { conflict: string } {
  const output = flags.output ?? defaultFormat;
  if (!flags.json) return { format: output };
  if (output === 'json' || output === defaultFormat) return { format: 'json' };
  return { conflict: `--json and -o ${output} ask for two output formats; pass one of them.` };
}
