// Findings: what validate reports. Analyzers emit raw findings (code, message, resource, field); the
// pipeline completes them with the catalog's name and severity and the field's line and column.
import { catalogEntry, type Severity } from './catalog.js';
import { locate } from './locate.js';
import type { PolicyDocument, ResourceRef } from './document.js';

export interface Finding {
  code: string;
  name: string;
  severity: Severity;
  message: string;
  resource: ResourceRef | null;
  file: string;
  line: number;
  column: number;
  /** JSON pointer of the field, from the document's root. */
  path: string;
  /** The analyzer that emitted it (istioctl's name for Istio's checks). */
  analyzer?: string;
}

export interface RawFinding {
  code: string;
  message: string;
  resource: ResourceRef | null;
  file: string;
  /** 0 when still to be located from `doc` and `path`. */
  line: number;
  column: number;
  path: string;
  doc?: PolicyDocument | null;
  analyzer?: string;
}

export function complete(raw: RawFinding): Finding {
  const entry = catalogEntry(raw.code);
  let { line, column } = raw;
  if (line === 0 && raw.doc) {
    ({ line, column } = locate(raw.doc, raw.path));
  }
  const finding: Finding = {
    code: raw.code,
    name: entry.name,
    severity: entry.severity,
    message: raw.message,
    resource: raw.resource,
    file: raw.file,
    line,
    column,
    path: raw.path,
  };
  if (raw.analyzer) finding.analyzer = raw.analyzer;
  return finding;
}

/** Sorts findings by file, line, column, then code: the order a reader walks a file in. */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort((a, b) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) || (a.message < b.message ? -1 : 1),
  );
}
