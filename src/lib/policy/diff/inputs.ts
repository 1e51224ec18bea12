// The two sides of a diff: read with the same loader and namespace defaulting as validate, refused when a
// file cannot be parsed (the diff would report its resources as removed), noted when it merely fails checks.
import { promises as fs } from 'node:fs';
import { expandPaths, readSource, type ReadOptions, type SourceFile } from '../source.js';
import { loadSources, type Resource } from '../load.js';
import { complete, type RawFinding } from '../findings.js';
import { catalogEntry } from '../catalog.js';
import { usageError, type MeshctlError } from '../../errors.js';
import { idOf, keyOf } from './pairing.js';
import { describeResource } from './model.js';
import type { DiffSide } from './report.js';

export interface LoadedSide extends DiffSide {
  sources: SourceFile[];
  findings: RawFinding[];
}

/**
 * meshctl's analyzers whose errors a resource earns on its own (all-zero weights, a malformed duration, a
 * subset named twice): run on the changed resources with the schema, as a validate of NEW would find them.
 */
const SELF_CONTAINED_ANALYZERS = ['meshctl.RouteWeights', 'meshctl.Durations', 'meshctl.DuplicateSubsets'];

/** Findings that mean a file (or one of its documents) could not be read at all. */
const UNPARSEABLE = new Set(['MSH1002', 'MSH1003', 'MSH1004', 'MSH1006', 'MSH1007', 'MSH1008', 'MSH1009']);

export async function readPaths(paths: string[], options: ReadOptions = {}): Promise<SourceFile[]> {
  const files = await expandPaths(paths, options);
  const sources: SourceFile[] = [];
  for (const f of files) sources.push(await readSource(f, options));
  return sources;
}

/** True when `p` exists in the working tree. */
export async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch {
    return false;
  }
}

export function loadSide(label: string, sources: SourceFile[], namespace: string | undefined): LoadedSide {
  const loaded = loadSources(sources, { defaultNamespace: namespace || 'default' });
  return { label, files: sources.length, resources: loaded.resources, sources, findings: loaded.findings };
}

/** The first unparseable input of a side, as a usage error naming its file and line. */
export function parseFailure(side: LoadedSide, name: 'OLD' | 'NEW'): MeshctlError | undefined {
  const bad = side.findings.find((f) => UNPARSEABLE.has(f.code));
  if (!bad) return undefined;
  const f = complete(bad);
  const message = f.message.replace(/\s*\(the other documents were still checked\)/, '');
  return usageError(`${name} cannot be read: ${f.file}:${f.line}:${f.column}: ${message}`);
}

/**
 * Notes (for stderr) on a side that parses but does not validate: the loader's errors anywhere in it, schema
 * and self-contained errors (SELF_CONTAINED_ANALYZERS) in the resources that changed (`checked`; those unchanged cannot change what the diff says, and
 * checking them would cost as much as validating both sides), and resources defined twice. The diff goes
 * ahead with what was read.
 */
export async function sideNotes(side: LoadedSide, name: 'OLD' | 'NEW', checked: Resource[]): Promise<string[]> {
  const notes: string[] = [];
  const errors = side.findings.filter((f) => !UNPARSEABLE.has(f.code) && catalogEntry(f.code).severity === 'error');
  if (checked.length) {
    const { loadAnalyzers, analyzeResources } = await import('../validate.js');
    const { ANALYZERS } = await loadAnalyzers();
    const selected = ANALYZERS.filter((a) => a.name.startsWith('schema.') || SELF_CONTAINED_ANALYZERS.includes(a.name)).map((a) => a.name);
    if (selected.length) {
      const found = await analyzeResources(checked, { analyzers: selected });
      for (const f of found) if (catalogEntry(f.code).severity === 'error') errors.push(f);
    }
  }
  if (errors.length) {
    const first = complete(errors[0]!);
    notes.push(
      `${name} (${side.label}) does not pass validation: ${errors.length} error${errors.length === 1 ? '' : 's'}, the first at ${first.file}:${first.line}: ${first.message} It was diffed where it parses; run meshctl validate on it for the full list.`,
    );
  }
  const seen = new Map<string, string>();
  for (const r of side.resources) {
    const key = keyOf(r);
    const where = r.doc?.file.path ?? '';
    const earlier = seen.get(key);
    if (earlier !== undefined) notes.push(`${describeResource(idOf(r))} is defined twice in ${name} (${earlier} and ${where}); the last definition is the one compared.`);
    seen.set(key, where);
  }
  return notes;
}
