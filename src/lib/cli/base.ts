// What every meshctl command shares: the -o/--output flag (with --json as its shorthand), one sentence on
// error with the documented exit code, and where human text goes.
import { Command } from '@oclif/core/command';
import * as Flags from '@oclif/core/flags';
import { MeshctlError, EXIT } from '../errors.js';

export type OutputFormat = 'text' | 'json' | 'yaml' | 'sarif' | 'github' | 'markdown' | 'wide';

export function outputFlag<T extends readonly string[]>(formats: T) {
  return Flags.option({
    char: 'o',
    summary: `Output format: ${formats.join(', ')}.`,
    options: formats,
    default: formats[0] as T[number],
  })();
}

export const jsonFlag = Flags.boolean({ summary: 'Shorthand for -o json.', default: false });

export abstract class MeshctlCommand extends Command {
  /** -o value with --json applied. */
  protected format(flags: { output?: string; json?: boolean }): string {
    return flags.json ? 'json' : (flags.output ?? 'text');
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (err instanceof MeshctlError) throw err;
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
