// What apply and delete -f send to the agent: the files' resources, validated together with what the
// mesh already runs (so a VirtualService may name a Service applied earlier), as stored objects.
import path from 'node:path';
import { expandPaths, readSource, type SourceFile } from '../policy/source.js';
import { loadSources, type Resource } from '../policy/load.js';
import { analyzeResources } from '../policy/validate.js';
import { complete, sortFindings, type Finding } from '../policy/findings.js';
import { summarize, type FileSummary, type ValidateSummary } from '../policy/validate.js';
import { K } from '../policy/kinds.js';
import { usageError } from '../errors.js';
import { WORKING_DIR_ANNOTATION, toResources } from './pods.js';
import { resourceKey, type StoredResource } from './state.js';
import type { HomeLayout } from './home.js';

export interface PreparedResources {
  resources: StoredResource[];
  findings: Finding[];
  summary: ValidateSummary;
  files: FileSummary[];
  sources: SourceFile[];
  /** Documents of kinds meshctl does not know, left out (one sentence each). */
  skipped: string[];
}

/** The stored form of a loaded resource: the object as written, its namespace filled in, Workloads told where their file is. */
export function toStored(r: Resource): StoredResource {
  const object = structuredClone(r.object) as StoredResource;
  object.metadata = { ...(object.metadata ?? {}), name: r.name };
  if (r.info?.namespaced !== false && r.namespace) object.metadata.namespace = r.namespace;
  if (r.kindId === K.Workload) object.metadata.annotations = { ...(object.metadata.annotations ?? {}), [WORKING_DIR_ANNOTATION]: workingDirOf(r) };
  return object;
}

/** Where a Workload's apps run: the annotation when the file sets it, else its file's directory (stdin: here). */
export function workingDirOf(r: Resource): string {
  const written = r.annotations[WORKING_DIR_ANNOTATION];
  if (written) return written;
  const file = r.doc?.file.path;
  return file && file !== '<stdin>' ? path.dirname(path.resolve(file)) : process.cwd();
}

async function readAll(paths: string[]): Promise<SourceFile[]> {
  if (paths.length === 0) throw usageError('No files given; pass -f with files, directories or - for stdin.');
  const sources: SourceFile[] = [];
  for (const p of await expandPaths(paths)) sources.push(await readSource(p));
  return sources;
}

/**
 * Reads and validates `paths` against the applied resources they would join. Findings are only those
 * about the files' own resources; the mesh's existing resources are context.
 */
export async function prepareApply(paths: string[], options: { namespace?: string; applied: StoredResource[] }): Promise<PreparedResources> {
  const sources = await readAll(paths);
  const loaded = loadSources(sources, { defaultNamespace: options.namespace || 'default' });
  const incoming = loaded.resources;
  const incomingKeys = new Set(incoming.map((r) => resourceKey(toStored(r))));
  const context = toResources(options.applied.filter((r) => !incomingKeys.has(resourceKey(r))));
  // Every Gateway gets its own ingress proxy in the local mesh, so Istio's ingress gateway always exists.
  const raw = [...loaded.findings, ...(await analyzeResources([...incoming, ...context], { assumeIngressGateway: true }))];
  const ours = new Set(sources.map((s) => s.path));
  // The local mesh serves every Gateway port itself, on loopback: whether Istio's ingress Service
  // exposes the port (IST0162) does not apply here.
  const notLocal = new Set(['IST0162']);
  const seen = new Set<string>();
  const findings = sortFindings(
    raw
      .filter((f) => ours.has(f.file) && !notLocal.has(f.code))
      .filter((f) => {
        const key = `${f.code}|${f.file}|${f.path}|${f.message}|${f.line}:${f.column}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .map(complete),
  );
  const skipped: string[] = [];
  const resources: StoredResource[] = [];
  for (const r of incoming) {
    if (!r.info) {
      skipped.push(`${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name} (${r.apiVersion}) is not a kind meshctl knows; it was not applied.`);
      continue;
    }
    resources.push(toStored(r));
  }
  const files: FileSummary[] = sources.map((s) => {
    const mine = incoming.filter((r) => r.doc?.file === s);
    const defaulted = mine.find((r) => r.namespaceDefaulted);
    const namespaces = [...new Set(mine.map((r) => r.namespace).filter(Boolean))].sort();
    return defaulted ? { path: s.path, namespaces, defaultedTo: defaulted.namespace } : { path: s.path, namespaces };
  });
  return { resources, findings, summary: summarize(findings, sources.length, incoming.length), files, sources, skipped };
}

/** For delete -f: the files' resources, without validation (a broken file can still name what to remove). */
export async function readForDelete(paths: string[], options: { namespace?: string }): Promise<StoredResource[]> {
  const sources = await readAll(paths);
  const loaded = loadSources(sources, { defaultNamespace: options.namespace || 'default' });
  return loaded.resources.filter((r) => r.name).map(toStored);
}

/**
 * The one line an apply interrupted with Ctrl-C prints: the agent goes on with what it was sent, so
 * say whether a revision was stored, which pods are still starting, and how to check.
 */
export async function interruptedLine(layout: HomeLayout, revisionBefore: number, commonFlags: string): Promise<string> {
  const check = `meshctl status${commonFlags ? ` ${commonFlags}` : ''}`;
  try {
    const { request } = await import('./agent/client.js');
    const status = await request(layout, 'status', {}, 2000);
    const stored = status.revision > revisionBefore ? `revision ${status.revision} is stored` : 'no new revision is stored yet (the agent may still store it)';
    const starting = status.pods.filter((p) => !p.ready).map((p) => p.name);
    const pods = starting.length ? `still starting: ${starting.join(', ')}` : 'every pod is ready';
    return `Interrupted: ${stored}, ${pods}; the agent goes on without this command, check with ${check}.`;
  } catch {
    return `Interrupted: the agent did not answer, so what was stored is unknown; check with ${check}.`;
  }
}
