// validate: paths → documents → resources → analyzers → findings.
import { stat } from 'node:fs/promises';
import { expandPaths, readSource, type ReadOptions, type SourceFile } from './source.js';
import { loadSources, parseDocuments, resourcesOf, syntheticResource, type Resource } from './load.js';
import { AnalysisContext, type Analyzer } from './analysis.js';
import { complete, completeGroups, sortFindings, type Finding, type FindingGroup, type RawFinding } from './findings.js';
import { applyMeshConfig, type MeshConfig } from './mesh-config.js';
import { usageError } from '../errors.js';
import type { Severity } from './catalog.js';

export interface AnalyzeOptions {
  /** Only these analyzers (istioctl names); all when empty. */
  analyzers?: string[];
  /** Model Istio's default ingress gateway (Service and Pod istio-system/istio-ingressgateway), as istioctl's test harness does. */
  assumeIngressGateway?: boolean;
  meshConfig?: MeshConfig;
}

export interface ValidateOptions extends AnalyzeOptions, ReadOptions {
  /** Namespace for resources that name none; `default` when not given. */
  namespace?: string;
  /** Keep resources without a namespace namespace-less (Istio's analyzer test harness). */
  keepEmptyNamespaces?: boolean;
  meshConfigPath?: string;
  /** Called once every input is parsed, before the analyzers run (the CLI tunes V8 for the analysis there). */
  beforeAnalysis?: () => void;
}

export interface FileSummary {
  path: string;
  /** Namespaces the file's resources were read in. */
  namespaces: string[];
  /** The namespace given to resources that named none, when any did. */
  defaultedTo?: string;
}

export interface ValidateSummary {
  files: number;
  resources: number;
  error: number;
  warning: number;
  info: number;
}

export interface ValidateResult {
  findings: Finding[];
  /** The conflict groups findings refer to, each listing its members once. */
  groups: FindingGroup[];
  summary: ValidateSummary;
  files: FileSummary[];
  resources: Resource[];
  sources: SourceFile[];
}

let analyzerModule: Promise<typeof import('./analyzers/index.js')> | undefined;
export function loadAnalyzers(): Promise<typeof import('./analyzers/index.js')> {
  analyzerModule ??= import('./analyzers/index.js');
  return analyzerModule;
}

export function selectAnalyzers(all: Analyzer[], names: string[] | undefined): Analyzer[] {
  if (!names || names.length === 0) return all;
  const byName = new Map(all.map((a) => [a.name, a]));
  const out: Analyzer[] = [];
  for (const name of names) {
    const a = byName.get(name);
    if (!a) {
      const near = closest(name, all.map((x) => x.name));
      throw usageError(`Unknown analyzer ${name} for --analyzer; ${near ? `did you mean ${near}? ` : ''}run \`meshctl validate --list-analyzers\` for the names.`);
    }
    if (!out.includes(a)) out.push(a);
  }
  return out;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function closest(name: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const n of names) {
    const d = editDistance(name.toLowerCase(), n.toLowerCase());
    if (d < bestDistance) {
      best = n;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(3, Math.floor(name.length / 4)) ? best : undefined;
}

/** The Service and Pod istioctl's harness adds for the default ingress gateway. */
export function ingressGatewayResources(meshConfig: MeshConfig): Resource[] {
  if (meshConfig.ingressControllerMode === 'OFF') return [];
  const ns = 'istio-system';
  return [
    syntheticResource('v1', 'Service', ns, meshConfig.ingressService || 'istio-ingressgateway', {
      metadata: { labels: { istio: 'ingressgateway' } },
      spec: {
        selector: { istio: 'ingressgateway' },
        ports: [
          { name: 'http2', port: 80, targetPort: 8080, protocol: 'TCP' },
          { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' },
          { name: 'tcp', port: 31400, targetPort: 31400, protocol: 'TCP' },
          { name: 'tls', port: 15443, targetPort: 15443, protocol: 'TCP' },
        ],
      },
    }),
    syntheticResource('v1', 'Pod', ns, 'istio-ingressgateway-dummypod', {
      metadata: { labels: { istio: 'ingressgateway' } },
      spec: { containers: [{ name: 'istio-proxy', image: 'proxyv2' }] },
    }),
  ];
}

/** Runs the selected analyzers over resources; returns raw findings (not yet located). */
export async function analyzeResources(resources: Resource[], options: AnalyzeOptions = {}): Promise<RawFinding[]> {
  const { ANALYZERS } = await loadAnalyzers();
  const analyzers = selectAnalyzers(ANALYZERS, options.analyzers);
  const meshConfig = options.meshConfig ?? applyMeshConfig(undefined);
  const all = options.assumeIngressGateway ? [...resources, ...ingressGatewayResources(meshConfig)] : resources;
  const ctx = new AnalysisContext(all, meshConfig);
  for (const a of analyzers) ctx.runAnalyzer(a);
  return ctx.findings;
}

export async function readMeshConfig(path: string): Promise<MeshConfig> {
  // The source reader's own sentences speak of policy paths; this file is a flag's value.
  const isDirectory = await stat(path).then((st) => st.isDirectory(), (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw usageError(`Mesh config ${path} (--mesh-config) does not exist; pass the path of an Istio MeshConfig YAML file.`);
    return false;
  });
  if (isDirectory) throw usageError(`Mesh config ${path} (--mesh-config) is a directory; pass the path of an Istio MeshConfig YAML file.`);
  const file = await readSource(path);
  const { documents, findings } = parseDocuments(file);
  if (findings.length || documents.length !== 1 || !documents[0]!.value || typeof documents[0]!.value !== 'object') {
    throw usageError(`Mesh config ${file.path} is not one YAML or JSON mapping; pass a MeshConfig file to --mesh-config.`);
  }
  return applyMeshConfig(documents[0]!.value as Record<string, unknown>);
}

export function summarize(findings: Finding[], files: number, resources: number): ValidateSummary {
  const summary: ValidateSummary = { files, resources, error: 0, warning: 0, info: 0 };
  for (const f of findings) summary[f.severity]++;
  return summary;
}

export async function validateSources(sources: SourceFile[], options: ValidateOptions = {}): Promise<ValidateResult> {
  const defaultNamespace = options.keepEmptyNamespaces ? undefined : options.namespace || 'default';
  const meshConfig = options.meshConfig ?? (options.meshConfigPath ? await readMeshConfig(options.meshConfigPath) : applyMeshConfig(undefined));
  const loaded = loadSources(sources, { defaultNamespace });
  options.beforeAnalysis?.();
  const raw = [...loaded.findings, ...(await analyzeResources(loaded.resources, { ...options, meshConfig }))];
  const resources = loaded.resources;
  const kept = dedupe(raw);
  const findings = kept.map(complete);
  sortFindings(findings);
  const groups = completeGroups(kept, findings);
  const byFile = new Map<SourceFile, Resource[]>();
  for (const r of resources) {
    if (!r.doc) continue;
    let list = byFile.get(r.doc.file);
    if (!list) byFile.set(r.doc.file, (list = []));
    list.push(r);
  }
  const files: FileSummary[] = sources.map((s) => {
    const mine = byFile.get(s) ?? [];
    const namespaces = [...new Set(mine.map((r) => r.namespace).filter(Boolean))].sort();
    const defaulted = mine.find((r) => r.namespaceDefaulted);
    return defaulted ? { path: s.path, namespaces, defaultedTo: defaulted.namespace } : { path: s.path, namespaces };
  });
  return { findings, groups, summary: summarize(findings, sources.length, resources.length), files, resources, sources };
}

export async function validatePaths(paths: string[], options: ValidateOptions = {}): Promise<ValidateResult> {
  if (paths.length === 0) throw usageError('No policy paths given; pass files, directories or - for stdin.');
  const expanded = await expandPaths(paths, options);
  const sources: SourceFile[] = [];
  for (const p of expanded) sources.push(await readSource(p, options));
  return validateSources(sources, options);
}

/** Istio deduplicates identical messages; so does meshctl (same code, resource, field and text). */
function dedupe(findings: RawFinding[]): RawFinding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const r = f.resource;
    const key = `${f.code}|${f.file}|${f.path}|${r ? `${r.kind}/${r.namespace}/${r.name}` : ''}|${f.message}|${f.line}:${f.column}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function failThresholdReached(findings: Finding[], failOn: Severity | 'none'): boolean {
  if (failOn === 'none') return false;
  const rank = { info: 0, warning: 1, error: 2 } as const;
  return findings.some((f) => rank[f.severity] >= rank[failOn]);
}

export { resourcesOf };
