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
  /** The conflict group this finding's resource is a member of; the group lists every member once. */
  group?: { id: string; size: number };
}

/**
 * Resources in conflict with each other (Gateways binding one host and port, ServiceEntries giving one host
 * different protocols, ...). Each member's finding names a few of the others and the count; the whole list is
 * here, once, so output grows with the number of members rather than with its square.
 */
export interface FindingGroup {
  id: string;
  code: string;
  size: number;
  members: GroupMember[];
}

export interface GroupMember {
  resource: ResourceRef;
  file: string;
  line: number;
  column: number;
  path: string;
}

/** A group as an analyzer builds it: members are located when findings are completed. */
export interface RawGroup {
  id: string;
  code: string;
  members: { resource: ResourceRef; doc: PolicyDocument | null; path: string }[];
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
  group?: RawGroup;
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
  if (raw.group) finding.group = { id: raw.group.id, size: raw.group.members.length };
  return finding;
}

/** The groups the findings refer to, each once, in the order of the first finding that refers to it, members located. */
export function completeGroups(raw: RawFinding[], findings: Finding[]): FindingGroup[] {
  const byId = new Map<string, RawGroup>();
  for (const f of raw) if (f.group) byId.set(f.group.id, f.group);
  const out: FindingGroup[] = [];
  const done = new Set<string>();
  for (const f of findings) {
    if (!f.group || done.has(f.group.id)) continue;
    done.add(f.group.id);
    const group = byId.get(f.group.id)!;
    out.push({ id: group.id, code: group.code, size: group.members.length, members: group.members.map(memberOf) });
  }
  return out;
}

function memberOf({ resource, doc, path }: RawGroup['members'][number]): GroupMember {
  const { line, column } = doc ? locate(doc, path) : { line: 1, column: 1 };
  return { resource, file: doc ? doc.file.path : '<meshctl>', line, column, path };
}

/** Sorts findings by file, line, column, then code: the order a reader walks a file in. */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort((a, b) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) || (a.message < b.message ? -1 : 1),
  );
}
