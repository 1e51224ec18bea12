// Runs istioctl's analyzer test corpus the way Istio's harness does: one analyzer per case, runtime kinds
// loaded from the files, the default ingress gateway added, no namespace defaulting, and an
// order-insensitive, multiplicity-sensitive comparison of (code, Kind [ns/]name).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readSource } from '../policy/source.js';
import { loadSources } from '../policy/load.js';
import { analyzeResources, readMeshConfig } from '../policy/validate.js';
import { complete } from '../policy/findings.js';

export interface AnalyzeCase {
  id: number;
  name: string;
  analyzer: string;
  inputs: string[];
  meshConfig?: string;
  expected: string[];
}

export interface CaseResult {
  case: AnalyzeCase;
  actual: string[];
  missing: string[];
  unexpected: string[];
  pass: boolean;
}

export async function readCases(corpusDir: string): Promise<AnalyzeCase[]> {
  const inScope = new Set(
    (await fs.readFile(path.join(corpusDir, 'in-scope.txt'), 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#')),
  );
  const rows = (await fs.readFile(path.join(corpusDir, 'expectations.tsv'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
  const cases: AnalyzeCase[] = [];
  for (const row of rows) {
    const cols = row.split('\t');
    const analyzer = cols[3]!;
    if (!inScope.has(analyzer)) continue;
    const expected = cols[9] && cols[9] !== '(none)' ? cols[9].split(' | ').map(normalizeExpected) : [];
    cases.push({
      id: Number(cols[0]),
      name: cols[1]!,
      analyzer,
      inputs: cols[4]!.split(',').filter(Boolean),
      meshConfig: cols[5] || undefined,
      expected,
    });
  }
  return cases;
}

// `IST0101:ReferencedResourceNotFound:Error@Gateway ns/name` → `IST0101@Gateway ns/name`
function normalizeExpected(message: string): string {
  const at = message.indexOf('@');
  return `${message.slice(0, message.indexOf(':'))}${message.slice(at)}`;
}

export async function runCase(corpusDir: string, c: AnalyzeCase): Promise<CaseResult> {
  const testdata = path.join(corpusDir, 'testdata');
  const sources = [];
  for (const input of c.inputs) sources.push(await readSource(path.join(testdata, input)));
  const loaded = loadSources(sources, { defaultNamespace: undefined });
  const meshConfig = c.meshConfig ? await readMeshConfig(path.join(testdata, c.meshConfig)) : undefined;
  const raw = await analyzeResources(loaded.resources, { analyzers: [c.analyzer], assumeIngressGateway: true, meshConfig });
  // Istio deduplicates messages by their full text; meshctl's texts name the same field, so key on code, resource and path.
  const seen = new Set<string>();
  const actual: string[] = [];
  for (const f of raw.map(complete)) {
    if (!f.resource) continue;
    const friendly = `${f.code}@${f.resource.kind} ${f.resource.namespace ? `${f.resource.namespace}/` : ''}${f.resource.name}`;
    const key = `${friendly}|${f.path}|${f.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    actual.push(friendly);
  }
  const missing = multisetMinus(c.expected, actual);
  const unexpected = multisetMinus(actual, c.expected);
  return { case: c, actual, missing, unexpected, pass: missing.length === 0 && unexpected.length === 0 };
}

function multisetMinus(a: string[], b: string[]): string[] {
  const counts = new Map<string, number>();
  for (const x of b) counts.set(x, (counts.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of a) {
    const n = counts.get(x) ?? 0;
    if (n > 0) counts.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

export async function runAll(corpusDir: string): Promise<CaseResult[]> {
  const cases = await readCases(corpusDir);
  const results: CaseResult[] = [];
  for (const c of cases) {
    try {
      results.push(await runCase(corpusDir, c));
    } catch (err) {
      results.push({ case: c, actual: [], missing: c.expected, unexpected: [`error: ${(err as Error).message}`], pass: false });
    }
  }
  return results;
}
