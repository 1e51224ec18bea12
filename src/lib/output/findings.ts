// Renderings of validate's findings: text for people, JSON/YAML for scripts, SARIF for code scanning,
// GitHub workflow annotations for pull requests. All render the same list.
import { CATALOG, describeName } from '../policy/catalog.js';
import type { Finding, FindingGroup } from '../policy/findings.js';
import type { FileSummary, ValidateSummary } from '../policy/validate.js';
import { paint, toJson } from './format.js';

export interface FindingsReport {
  findings: Finding[];
  /** Conflict groups the findings refer to by id; absent or empty when none does. */
  groups?: FindingGroup[];
  summary: ValidateSummary;
}

export interface FindingsDocument {
  findings: Finding[];
  groups?: FindingGroup[];
  summary: ValidateSummary;
}

export function findingsDocument(report: FindingsReport): FindingsDocument {
  const document: FindingsDocument = {
    findings: report.findings.map((f) => ({
      code: f.code,
      name: f.name,
      severity: f.severity,
      message: f.message,
      resource: f.resource,
      file: f.file,
      line: f.line,
      column: f.column,
      path: f.path,
      ...(f.group ? { group: f.group } : {}),
    })),
    summary: report.summary,
  };
  // Written only when some finding refers to a group, so a report without conflicts reads as before.
  if (report.groups?.length) return { findings: document.findings, groups: report.groups, summary: document.summary };
  return document;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export interface TextOptions {
  color: boolean;
  files: FileSummary[];
  /** File text by path, for the source line under each finding. */
  sourceText: (path: string) => string | undefined;
  /** validate --live: the sources beyond the files were objects read from a mesh (`the cluster of context "prod"`). */
  live?: { objects: number; from: string };
}

export function renderText(report: FindingsReport, options: TextOptions): string {
  const p = paint(options.color);
  const out: string[] = [];
  const byFile = new Map<string, Finding[]>();
  for (const f of report.findings) {
    let list = byFile.get(f.file);
    if (!list) byFile.set(f.file, (list = []));
    list.push(f);
  }
  const fileInfo = new Map(options.files.map((f) => [f.path, f]));
  const order = [...new Set([...options.files.map((f) => f.path), ...byFile.keys()])];
  for (const path of order) {
    const info = fileInfo.get(path);
    const list = byFile.get(path) ?? [];
    const ns = info?.defaultedTo ? ` (resources without a namespace read as namespace ${info.defaultedTo})` : '';
    if (!list.length) continue;
    out.push(p.bold(path) + p.dim(ns));
    // A file that could not be read as text (binary, not UTF-8) has no source lines to show.
    const text = options.sourceText(path);
    const lines = text ? text.split('\n') : undefined;
    for (const f of list) {
      const sev = f.severity === 'error' ? p.red('error') : f.severity === 'warning' ? p.yellow('warning') : p.blue('info');
      const where = f.resource ? ` ${p.dim(`(${f.resource.kind} ${f.resource.namespace ? `${f.resource.namespace}/` : ''}${f.resource.name})`)}` : '';
      out.push(`  ${f.file}:${f.line}:${f.column}  ${sev}  ${f.code}  ${f.message}${where}`);
      const src = lines?.[f.line - 1];
      if (src !== undefined && f.line > 0) {
        const gutter = String(f.line).length;
        const shown = src.replace(/\t/g, ' ').replace(/\r$/, '');
        const clipped = shown.length > 160 ? `${shown.slice(0, 157)}...` : shown;
        out.push(`    ${p.dim(`${f.line} |`)} ${clipped}`);
        out.push(`    ${' '.repeat(gutter)} ${p.dim('|')} ${' '.repeat(Math.max(0, Math.min(f.column - 1, 157)))}${p.red('^')}`);
      }
    }
  }
  const defaulted = new Map<string, string[]>();
  for (const f of options.files) {
    if (!f.defaultedTo || byFile.has(f.path)) continue;
    let list = defaulted.get(f.defaultedTo);
    if (!list) defaulted.set(f.defaultedTo, (list = []));
    list.push(f.path);
  }
  for (const [ns, paths] of defaulted) {
    const shown = paths.length > 6 ? `${paths.slice(0, 6).join(', ')} and ${paths.length - 6} more` : paths.join(', ');
    out.push(p.dim(`Resources without a namespace were read as namespace ${ns} in ${shown}.`));
  }
  const s = report.summary;
  const counts = `${plural(s.error, 'error')}, ${plural(s.warning, 'warning')}, ${s.info} info`;
  const read = options.live
    ? `${s.files > options.live.objects ? `${plural(s.files - options.live.objects, 'file')} and ` : ''}${plural(options.live.objects, 'object')} read from ${options.live.from}`
    : plural(s.files, 'file');
  out.push(`${read}, ${plural(s.resources, 'resource')}: ${report.findings.length ? counts : 'no findings'}`);
  return `${out.join('\n')}\n`;
}

const SARIF_LEVEL = { error: 'error', warning: 'warning', info: 'note' } as const;

/** Other members of a finding's group shown as SARIF related locations; the group id and size say the rest. */
export const SARIF_RELATED_LOCATIONS = 10;

function resourceName(r: { kind: string; namespace: string; name: string }): string {
  return `${r.kind}/${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

function sarifRegion(line: number, column: number): { startLine: number; startColumn: number } {
  return { startLine: Math.max(1, line), startColumn: Math.max(1, column) };
}

function sarifUri(file: string): string {
  return file.split('\\').join('/');
}

function relatedLocations(f: Finding, group: FindingGroup | undefined): object {
  if (!group) return {};
  const related = [];
  for (const m of group.members) {
    if (related.length === SARIF_RELATED_LOCATIONS) break;
    if (m.file === f.file && m.line === f.line && m.column === f.column) continue;
    related.push({
      id: related.length + 1,
      message: { text: resourceName(m.resource) },
      physicalLocation: { artifactLocation: { uri: sarifUri(m.file) }, region: sarifRegion(m.line, m.column) },
    });
  }
  return { relatedLocations: related, properties: { group: group.id, groupSize: group.size } };
}

export function renderSarif(report: FindingsReport, version: string): string {
  const rules = CATALOG.map((c) => ({
    id: c.code,
    name: c.name,
    shortDescription: { text: describeName(c.name) },
    defaultConfiguration: { level: SARIF_LEVEL[c.severity] },
  }));
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const groups = new Map((report.groups ?? []).map((g) => [g.id, g]));
  const results = report.findings.map((f) => ({
    ruleId: f.code,
    ruleIndex: index.get(f.code),
    level: SARIF_LEVEL[f.severity],
    message: { text: f.message },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: sarifUri(f.file) },
          region: sarifRegion(f.line, f.column),
        },
        ...(f.resource ? { logicalLocations: [{ fullyQualifiedName: `${resourceName(f.resource)}${f.path ? `#${f.path}` : ''}`, kind: 'resource' }] } : {}),
      },
    ],
    ...relatedLocations(f, f.group && groups.get(f.group.id)),
  }));
  return toJson({
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{ tool: { driver: { name: 'meshctl', version, rules } }, results }],
  });
}

function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

const GITHUB_LEVEL = { error: 'error', warning: 'warning', info: 'notice' } as const;

export function renderGithub(report: FindingsReport): string {
  return report.findings
    .map((f) => `::${GITHUB_LEVEL[f.severity]} file=${escapeProperty(f.file)},line=${f.line},col=${f.column},title=${escapeProperty(`${f.code} ${f.name}`)}::${escapeData(f.message)}\n`)
    .join('');
}
