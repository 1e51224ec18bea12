// A worker thread's share of validate: parse some of the files and run the analyzers that read one
// resource at a time over them; the main thread relates resources across all files.
import { parentPort, workerData } from 'node:worker_threads';
import { parseDocuments, resourcesOf, type PolicyDocument } from './load.js';
import { AnalysisContext } from './analysis.js';
import { complete, type Finding, type RawFinding } from './findings.js';
import { loadAnalyzers, selectAnalyzers } from './validate.js';
import type { SourceFile } from './source.js';
import type { MeshConfig } from './mesh-config.js';

export interface WorkerInput {
  sources: SourceFile[];
  defaultNamespace?: string;
  analyzers?: string[];
  meshConfig: MeshConfig;
}

export interface WorkerDocument {
  /** Index into the worker's `sources`. */
  file: number;
  index: number;
  offset: number;
  length: number;
  value: unknown;
}

export interface WorkerOutput {
  documents: WorkerDocument[];
  /** Syntax and encoding findings; already located. */
  parseFindings: RawFinding[];
  /** Findings of the resource-scoped analyzers, complete. */
  findings: Finding[];
}

async function main(input: WorkerInput): Promise<WorkerOutput> {
  const documents: WorkerDocument[] = [];
  const parseFindings: RawFinding[] = [];
  const docs: PolicyDocument[] = [];
  input.sources.forEach((source, file) => {
    const parsed = parseDocuments(source);
    parseFindings.push(...parsed.findings);
    for (const d of parsed.documents) {
      docs.push(d);
      documents.push({ file, index: d.index, offset: d.offset, length: d.text.length, value: d.value });
    }
  });
  const { resources } = resourcesOf(docs, { defaultNamespace: input.defaultNamespace });
  const { ANALYZERS } = await loadAnalyzers();
  const ctx = new AnalysisContext(resources, input.meshConfig);
  for (const a of selectAnalyzers(ANALYZERS, input.analyzers)) if (a.scope === 'resource') ctx.runAnalyzer(a);
  return { documents, parseFindings, findings: ctx.findings.map(complete) };
}

if (parentPort) {
  main(workerData as WorkerInput).then(
    (out) => parentPort!.postMessage({ ok: true, out }),
    (err: Error) => parentPort!.postMessage({ ok: false, error: err.stack ?? String(err) }),
  );
}
