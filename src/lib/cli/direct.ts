// Runs `meshctl validate` without oclif's plugin system. validate is the command pipelines run on
// every change, often on thousands of files, and the framework's start-up (finding plugins, reading
// manifests, the help system) is a fifth of a small run. The command class is the same one oclif runs,
// with the same flags, parser, errors and exit codes; only the lookup is skipped. `--help` and every
// other command still go through oclif. A plain validate command line (the form scripts and hooks use)
// does not even load oclif: its flags are parsed from the same table the command gives oclif.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSimple } from './flag-spec.js';
import { VALIDATE_FLAGS, type ValidateFlags } from './validate-flags.js';
import { exitWhenDone } from './exit.js';
import { tuneForShortRun } from './v8-tuning.js';

/** The commands that may run directly: those that use nothing of oclif's Config beyond what is below. */
const DIRECT = new Set(['validate']);
const HELP = new Set(['--help', '-h', 'help']);

/** True when `argv` names a command that runs directly and asks for no help. */
export function runsDirectly(argv: readonly string[]): boolean {
  if (!DIRECT.has(argv[0] ?? '')) return false;
  for (const a of argv) {
    if (a === '--') break;
    if (HELP.has(a)) return false;
  }
  return true;
}

interface CommandClass {
  id?: string;
  new (argv: string[], config: unknown): { _run(): Promise<unknown> };
}

/** The part of oclif's Config a command reads while it parses and runs (no hooks are registered). */
function minimalConfig(root: string, id: string) {
  const pjson = readPackage(root);
  const bin = pjson.oclif?.bin ?? pjson.name;
  const envPrefix = bin.toUpperCase().replace(/-/g, '_');
  return {
    root,
    name: pjson.name,
    version: pjson.version,
    bin,
    pjson,
    platform: process.platform,
    arch: process.arch,
    windows: process.platform === 'win32',
    userAgent: `${pjson.name}/${pjson.version} ${process.platform}-${process.arch} node-${process.version}`,
    // Command ids are normalised with ':' so that nothing is looked up among other commands.
    topicSeparator: ':',
    commandIDs: [id],
    theme: undefined,
    scopedEnvVarKey: (k: string) => `${envPrefix}_${k}`,
    scopedEnvVarKeys: (k: string) => [`${envPrefix}_${k}`],
    scopedEnvVar: (k: string) => process.env[`${envPrefix}_${k}`],
    scopedEnvVarTrue: (k: string) => ['1', 'true'].includes(String(process.env[`${envPrefix}_${k}`]).toLowerCase()),
    runHook: async () => ({ successes: [], failures: [] }),
    findCommand: () => undefined,
  };
}

function packageRootOf(entry: string): string {
  return path.resolve(path.dirname(fileURLToPath(entry)), '..');
}

function readPackage(root: string): { name: string; version: string; oclif?: { bin?: string } } {
  return JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string; oclif?: { bin?: string } };
}

/**
 * validate-run.js, from the one-file bundle `npm run build` makes of it (scripts/bundle-validate.mjs) when
 * that bundle is there and not older than the compiled module: a compile without the bundling step after
 * it leaves a bundle of older code, which must not run in place of the new.
 */
async function loadValidateRun(): Promise<typeof import('./validate-run.js')> {
  const bundle = new URL('./validate-run.bundle.js', import.meta.url);
  const bundleTime = mtimeOf(bundle);
  if (bundleTime !== undefined && bundleTime >= (mtimeOf(new URL('./validate-run.js', import.meta.url)) ?? Infinity)) {
    return (await import(bundle.href)) as typeof import('./validate-run.js');
  }
  return import('./validate-run.js');
}

function mtimeOf(file: URL): number | undefined {
  return statSync(file, { throwIfNoEntry: false })?.mtimeMs;
}

/**
 * Runs validate without oclif when argv is a plain command line (see parseSimple); returns false, having
 * done nothing, when it is not, and oclif must parse it.
 */
export async function runWithoutFramework(argv: string[], entry: string): Promise<boolean> {
  if (argv[0] !== 'validate') return false;
  const parsed = parseSimple(argv.slice(1), VALIDATE_FLAGS);
  if (!parsed) return false;
  tuneForShortRun();
  const { runValidate } = await loadValidateRun();
  process.exitCode = await runValidate(parsed.args, parsed.flags as unknown as ValidateFlags, readPackage(packageRootOf(entry)).version);
  exitWhenDone();
  return true;
}

/** Runs `argv[0]` (a command of DIRECT) with the rest of `argv`; `entry` is bin/run.js's URL. */
export async function runDirect(argv: string[], entry: string): Promise<void> {
  const id = argv[0]!;
  const root = packageRootOf(entry);
  tuneForShortRun();
  const mod = (await import(`../../commands/${id}.js`)) as { default: CommandClass };
  const Command = mod.default;
  Command.id = id;
  await new Command(argv.slice(1), minimalConfig(root, id))._run();
}
