// Runs oclif and owns the last word on errors: one sentence and the documented exit code, never a stack
// trace unless DEBUG=meshctl*.
import { EXIT, MeshctlError } from '../errors.js';
import { exitIfRequested } from './exit.js';

function debugEnabled(): boolean {
  return /(^|,)meshctl/.test(process.env.DEBUG ?? '');
}

export async function run(argv: string[], entry: string): Promise<void> {
  const { runsDirectly, runDirect, runWithoutFramework } = await import('./direct.js');
  const direct = runsDirectly(argv);
  try {
    if (direct && (await runWithoutFramework(argv, entry))) {
      await exitIfRequested();
      return;
    }
    // oclif's parts by their own entry points: its index also loads semver to check Node's version, which
    // costs every command about 10 ms.
    const [runner, { flush }] = await Promise.all([
      direct ? Promise.resolve(runDirect) : import('@oclif/core/run').then((m) => m.run),
      import('@oclif/core/flush'),
    ]);
    await runner(argv, entry);
    await flush();
    await exitIfRequested();
  } catch (err) {
    const code = await exitCodeOf(err);
    if (code === 0) return;
    const message = messageOf(err);
    if (message) process.stderr.write(`Error: ${message}\n`);
    if (debugEnabled() && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = code;
  }
}

async function exitCodeOf(err: unknown): Promise<number> {
  if (err instanceof MeshctlError) return err.exitCode;
  const Errors = await import('@oclif/core/errors');
  const oclif = (err as { oclif?: { exit?: number } }).oclif;
  if (err instanceof Errors.ExitError) return oclif?.exit ?? 0;
  if (oclif && typeof oclif.exit === 'number') return oclif.exit === 1 ? EXIT.usage : oclif.exit;
  if ((err as { code?: string }).code === 'EPIPE') return 0;
  return EXIT.environment;
}

function messageOf(err: unknown): string {
  if (err instanceof MeshctlError) return err.message;
  const msg = err instanceof Error ? err.message : String(err);
  // oclif's parse errors carry a "See more help with --help" tail; keep the first sentence and the hint.
  return msg.replace(/\n+/g, ' ').replace(/\s+/g, ' ').trim();
}
