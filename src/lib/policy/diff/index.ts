// meshctl diff as one call: read both sides (paths, stdin, or a git revision against the working tree),
// refuse unparseable input, note invalid input, and build the report.
import { usageError } from '../../errors.js';
import type { ReadOptions, SourceFile } from '../source.js';
import { exists, loadSide, parseFailure, readPaths, sideNotes, type LoadedSide } from './inputs.js';
import { diffSides } from './report.js';
import { keyOf } from './pairing.js';
import type { DiffReport } from './model.js';
import type { Resource } from '../load.js';

export interface DiffOptions extends ReadOptions {
  /** OLD and NEW: a file, a directory or `-` each. Ignored with `base`. */
  old?: string;
  new?: string;
  /** Git revision for OLD; NEW is the working tree. */
  base?: string;
  /** Paths compared with `base` (default: the current directory). */
  paths?: string[];
  /**
   * OLD is what a running mesh has applied (read by this function, which the caller gives so that
   * policy never reaches into a mesh); NEW is that with `paths` applied over it.
   */
  live?: () => Promise<{
    source: SourceFile;
    revision: number;
    /** How the report names OLD (default: `mesh revision N`). */
    label?: string;
    /** What the mesh adds to the report (the pod restarts a change causes). */
    adjust?: (report: DiffReport, before: Resource[], after: Resource[]) => Promise<DiffReport>;
  }>;
  /** Namespace for resources that name none (default: `default`). */
  namespace?: string;
}

export interface DiffOutcome {
  report: DiffReport;
  /** Sentences for stderr: inputs that fail validation, resources defined twice. */
  notes: string[];
}

type Sides = [LoadedSide, LoadedSide, ((report: DiffReport) => Promise<DiffReport>)?];

async function sides(options: DiffOptions): Promise<Sides> {
  const read: ReadOptions = { maxFileBytes: options.maxFileBytes, stdin: options.stdin, allowEmpty: options.allowEmpty };
  if (options.base !== undefined) {
    const paths = options.paths?.length ? options.paths : ['.'];
    if (paths.includes('-')) throw usageError('--base compares the working tree with a git revision, so it cannot read stdin (-); pass paths, or drop --base and pass OLD and NEW.');
    const { readRevision } = await import('./git.js');
    const revision = await readRevision(options.base, paths, { maxFileBytes: options.maxFileBytes });
    const present: string[] = [];
    for (const p of paths) {
      if (await exists(p)) present.push(p);
      else if (revision.missing.includes(p)) throw usageError(`Path ${p} exists neither in the working tree nor at ${options.base}; pass a policy file or directory.`);
    }
    const newSources = present.length ? await readPaths(present, read) : [];
    return [loadSide(`${options.base}:${paths.join(' ')}`, revision.sources, options.namespace), loadSide(paths.join(' '), newSources, options.namespace)];
  }
  if (options.live) {
    const paths = options.paths?.length ? options.paths : ['.'];
    const live = await options.live();
    const label = live.label ?? `mesh revision ${live.revision}`;
    const mesh = loadSide(label, [live.source], options.namespace);
    const files = loadSide(paths.join(' '), await readPaths(paths, read), options.namespace);
    // meshctl apply keeps what the files do not name, so NEW is the mesh with the files applied over it.
    const named = new Set(files.resources.map(keyOf));
    const merged: LoadedSide = {
      ...files,
      label: `${label} + ${paths.join(' ')}`,
      resources: [...mesh.resources.filter((r) => !named.has(keyOf(r))), ...files.resources],
    };
    return [mesh, merged, live.adjust ? (report) => live.adjust!(report, mesh.resources, merged.resources) : undefined];
  }
  if (options.old === undefined || options.new === undefined) throw usageError('meshctl diff needs OLD and NEW (files, directories or -), or --base REV [PATH...]; see meshctl diff --help.');
  if (options.old === '-' && options.new === '-') throw usageError('OLD and NEW cannot both be - (stdin); save one of them to a file.');
  const label = (p: string) => (p === '-' ? '<stdin>' : p);
  const oldSources = await readPaths([options.old], read);
  const newSources = await readPaths([options.new], read);
  return [loadSide(label(options.old), oldSources, options.namespace), loadSide(label(options.new), newSources, options.namespace)];
}

export async function diffPolicy(options: DiffOptions): Promise<DiffOutcome> {
  const [before, after, adjust] = await sides(options);
  const failure = parseFailure(before, 'OLD') ?? parseFailure(after, 'NEW');
  if (failure) throw failure;
  const diffed = diffSides(before, after);
  const { touched } = diffed;
  const report = adjust ? await adjust(diffed.report) : diffed.report;
  const notes = [...(await sideNotes(before, 'OLD', touched.before)), ...(await sideNotes(after, 'NEW', touched.after))];
  return { report, notes };
}

export type { DiffReport } from './model.js';
export { riskReached } from './risk.js';
