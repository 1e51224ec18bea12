// What every meshctl command shares: the -o/--output flag (with --json as its shorthand), one sentence on
// error with the documented exit code, and where human text goes.
import { Command } from '@oclif/core/command';
import * as Flags from '@oclif/core/flags';
import type { AlphabetLowercase, FlagInput } from '@oclif/core/interfaces';
import { MeshctlError, EXIT, usageError } from '../errors.js';
import { JSON_SUMMARY, outputFormat, outputSummary, type FlagSpec, type FlagTable } from './flag-spec.js';

export type OutputFormat = 'text' | 'json' | 'yaml' | 'sarif' | 'github' | 'markdown' | 'wide' | 'name';

export function outputFlag<T extends readonly string[]>(formats: T) {
  return Flags.option({
    char: 'o',
    summary: outputSummary(formats),
    options: formats,
    default: formats[0] as T[number],
  })();
}

export const jsonFlag = Flags.boolean({ summary: JSON_SUMMARY, default: false });

/** oclif's flag for one entry of a plain flag table (flag-spec.ts). */
function oclifFlag(spec: FlagSpec) {
  const common = { summary: spec.summary, ...(spec.char ? { char: spec.char as AlphabetLowercase } : {}) };
  // Only a default the table gives: its type is the flag's own (the table says which).
  const withDefault = spec.default !== undefined ? { ...common, default: spec.default as never } : common;
  switch (spec.type) {
    case 'boolean':
      return Flags.boolean(withDefault);
    case 'integer':
      return Flags.integer({ ...withDefault, ...(spec.min !== undefined ? { min: spec.min } : {}) });
    case 'option':
      return Flags.option({ ...withDefault, options: spec.options ?? [] })();
    default:
      return spec.multiple ? Flags.string({ ...common, multiple: true, multipleNonGreedy: true }) : Flags.string(withDefault);
  }
}

/** oclif's flags for a plain flag table, in the table's order. */
export function oclifFlags(table: FlagTable): FlagInput {
  return Object.fromEntries(Object.entries(table).map(([name, spec]) => [name, oclifFlag(spec)])) as FlagInput;
}

export abstract class MeshctlCommand extends Command {
  /** -o value with --json applied. */
  protected format(flags: { output?: string; json?: boolean }): string {
    const chosen = outputFormat(flags);
    if ('conflict' in chosen) throw usageError(chosen.conflict);
    return chosen.format;
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (err instanceof MeshctlError) {
      // A flag's own parser (e.g. a duration flag) words its sentence; oclif wraps it in "Parsing --flag ... See more help".
      const wrapped = /^Parsing --\S+ \n\t([\s\S]*)\nSee more help with --help$/.exec(err.message);
      throw wrapped ? new MeshctlError(wrapped[1]!, err.exitCode) : err;
    }
    // oclif's own parse errors (unknown flag, bad option) are usage errors: exit 2.
    const oclif = (err as { oclif?: { exit?: number } }).oclif;
    if (oclif && oclif.exit !== 0 && !(err.constructor?.name === 'ExitError')) {
      throw new MeshctlError(err.message.replace(/\n+/g, ' ').replace(/\s+/g, ' ').trim(), EXIT.usage);
    }
    return super.catch(err);
  }

  /** Ends the command with an exit code, after everything it printed was flushed. */
  protected finish(code: number): void {
    process.exitCode = code;
  }
}
