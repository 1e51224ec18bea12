// Policy loading: source files → documents (parsed fast, without positions) → resources.
import { CORE_SCHEMA, EVENT_ID, getScalarValue, mergeTag, parseEvents, load as loadYaml, loadAll as loadAllYaml } from 'js-yaml';
import type { SourceFile } from './source.js';
import { kindInfo, splitApiVersion, type KindInfo } from './kinds.js';
import { jsonStringEnd, jsonStringValue, offsetToPosition } from './locate.js';
import type { RawFinding } from './findings.js';
import type { PolicyDocument, ResourceRef } from './document.js';

export interface Resource {
  apiVersion: string;
  group: string;
  version: string;
  kind: string;
  /** `group/Kind`, e.g. `networking.istio.io/VirtualService` (see K in kinds.ts). */
  kindId: string;
  info?: KindInfo;
  name: string;
  /** '' for cluster-scoped kinds and, when no default applies, for resources that name none. */
  namespace: string;
  /** True when the namespace came from -n/--namespace or the `default` fallback, not from the file. */
  namespaceDefaulted: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  // Policy objects are user input of many shapes; analyzers read them field by field.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  metadata: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  object: any;
  /** Where the resource came from; null for resources meshctl adds itself (the modelled ingress gateway). */
  doc: PolicyDocument | null;
  /** JSON pointer of the resource inside its document ('' or '/items/N' for a List). */
  pointer: string;
}

export interface LoadOptions {
  /** Namespace for namespaced resources that name none; undefined keeps them namespace-less (Istio's test harness). */
  defaultNamespace?: string;
}

export interface LoadResult {
  documents: PolicyDocument[];
  resources: Resource[];
  /** Findings about the input itself: syntax, encoding, shape. */
  findings: RawFinding[];
}

/**
 * YAML 1.2's core schema, as js-yaml reads by default, plus merge keys (`<<: *defaults`), which
 * Kubernetes' YAML reader applies: a resource written with them is stored merged, so it is checked merged.
 */
const YAML_SCHEMA = CORE_SCHEMA.withTags(mergeTag);

const MAX_DEPTH = 100;
/**
 * Text per js-yaml call on large files: one call per file is quickest, but js-yaml holds a whole call's
 * parse events at once, so a file of 30 MB is read in pieces of about this size (whole documents each).
 * Pieces much smaller than a file cost more than their number suggests: a 3.5 MB export read in 1 MB
 * pieces took js-yaml twice the time of one call, as V8 recompiled the parser's hot functions for each.
 */
const CHUNK_CHARS = 1 << 23;
const MAX_ALIASES = 100;
const YAML_OPTIONS = { schema: YAML_SCHEMA, maxDepth: MAX_DEPTH, maxAliases: MAX_ALIASES };
/** Expanded node count above which a document's aliases are treated as an expansion attack. */
const MAX_EXPANDED_NODES = 1_000_000;

export function refOf(r: Resource): ResourceRef {
  return { apiVersion: r.apiVersion, kind: r.kind, namespace: r.namespace, name: r.name };
}

/** Splits YAML text at document markers (`---`, `...` at column 0, which end any block scalar by the spec). */
export function splitYamlDocuments(text: string): { offset: number; text: string }[] {
  const out: { offset: number; text: string }[] = [];
  const marker = /^(---|\.\.\.)(?=[ \t\r\n]|$)/gm;
  let start = 0;
  let m: RegExpExecArray | null;
  while ((m = marker.exec(text))) {
    if (m.index > start || (m.index === start && m[1] === '...')) out.push({ offset: start, text: text.slice(start, m.index) });
    if (m[1] === '...') {
      // Skip the end marker line itself.
      const nl = text.indexOf('\n', m.index);
      start = nl === -1 ? text.length : nl + 1;
      marker.lastIndex = start;
    } else {
      start = m.index;
      marker.lastIndex = m.index + 3;
    }
  }
  out.push({ offset: start, text: text.slice(start) });
  return out.filter((d) => hasContent(d.text));
}

function hasContent(text: string): boolean {
  // Anything but blank lines, comments, directives and a bare `---`.
  return /^(?!\s*(#|$)|%|---\s*(#.*)?$)/m.test(text);
}

function fileFinding(file: SourceFile, code: RawFinding['code'], message: string, offset: number, base: { line: number; column: number } | null = null): RawFinding {
  const pos = base ?? offsetToPosition(file.text, offset);
  return { code, message, file: file.path, line: pos.line, column: pos.column, path: '', resource: null };
}

function yamlErrorPosition(file: SourceFile, docOffset: number, err: unknown): { line: number; column: number } {
  const mark = (err as { mark?: { position?: number; line?: number; column?: number } }).mark;
  if (mark && typeof mark.position === 'number') return offsetToPosition(file.text, docOffset + mark.position);
  return offsetToPosition(file.text, docOffset);
}

/** The findings for a document js-yaml refused: one, or one per repeated key when keys repeat. */
function yamlFindings(file: SourceFile, part: { offset: number; text: string }, index: number, err: unknown): RawFinding[] {
  const pos = yamlErrorPosition(file, part.offset, err);
  const reason = yamlReason(err);
  if (/nesting|maxDepth/i.test(reason)) {
    return [fileFinding(file, 'MSH1008', `Document ${index + 1} of ${file.path} nests deeper than ${MAX_DEPTH} levels; no mesh resource does, so it was not read.`, 0, pos)];
  }
  if (/alias/i.test(reason)) {
    return [fileFinding(file, 'MSH1009', `Document ${index + 1} of ${file.path} uses more than ${MAX_ALIASES} aliases; expand them, as Kubernetes stores resources without aliases.`, 0, pos)];
  }
  if (/duplicat/i.test(reason)) {
    const repeats = duplicateYamlKeys(part.text);
    if (repeats.length) return repeats.map((d) => duplicateKeyFinding(file, d.key, part.offset + d.offset));
    // The events could not be read (a later syntax error): name the key on the line js-yaml points at.
    const lineText = file.text.split('\n')[pos.line - 1] ?? '';
    const keyPattern = /^\s*(?:-\s+)?["']?([^"':]+)["']?\s*:/;
    const key = keyPattern.exec(lineText.slice(pos.column - 1))?.[1] ?? keyPattern.exec(lineText)?.[1];
    return [duplicateKeyFinding(file, key?.trim(), pos)];
  }
  return [fileFinding(file, 'MSH1006', `YAML syntax error in ${file.path}: ${reason}; fix the YAML at this line (the other documents were still checked).`, 0, pos)];
}

/** A repeated key, at an offset in the file's text or at a position already worked out. */
function duplicateKeyFinding(file: SourceFile, key: string | undefined, at: number | { line: number; column: number }): RawFinding {
  const message = `Key ${key ? `"${key}" ` : ''}appears twice in the same mapping in ${file.path}; keep one of the two entries (Kubernetes would silently keep the last).`;
  return typeof at === 'number' ? fileFinding(file, 'MSH1007', message, at) : fileFinding(file, 'MSH1007', message, 0, at);
}

/** Every key that repeats one of its mapping (after the first), with the offset of the repeat, in document order. */
function duplicateYamlKeys(text: string): { key: string; offset: number }[] {
  let events: ReturnType<typeof parseEvents>;
  try {
    events = parseEvents(text, { maxDepth: MAX_DEPTH });
  } catch {
    return [];
  }
  const out: { key: string; offset: number }[] = [];
  // Open containers: a mapping's keys so far and whether its next node is a key; null for a sequence.
  const stack: ({ keys: Set<string>; atKey: boolean } | null)[] = [];
  for (const ev of events) {
    if (ev.type === EVENT_ID.DOCUMENT) continue;
    if (ev.type === EVENT_ID.POP) {
      stack.pop();
      continue;
    }
    const top = stack[stack.length - 1];
    if (top) {
      if (top.atKey && ev.type === EVENT_ID.SCALAR) {
        const key = getScalarValue(text, ev);
        if (top.keys.has(key)) out.push({ key, offset: ev.valueStart });
        top.keys.add(key);
      }
      top.atKey = !top.atKey;
    }
    if (ev.type === EVENT_ID.MAPPING) stack.push({ keys: new Set(), atKey: true });
    else if (ev.type === EVENT_ID.SEQUENCE) stack.push(null);
  }
  return out;
}

/**
 * What JSON.parse lets pass and YAML reading does not: a key repeated in one object (JSON.parse keeps
 * the last) and nesting deeper than MAX_DEPTH. One pass over the text, with its own stack.
 */
function jsonShapeProblems(text: string): { duplicates: { key: string; offset: number }[]; tooDeepAt: number } {
  const duplicates: { key: string; offset: number }[] = [];
  // Open containers: an object's keys (a Set), or null for an array; `atKey` is true where an object expects a key.
  const stack: (Set<string> | null)[] = [];
  let atKey = false;
  const n = text.length;
  for (let pos = 0; pos < n; pos++) {
    const c = text.charCodeAt(pos);
    if (c === 0x22) {
      const start = pos;
      pos = jsonStringEnd(text, start);
      const keys = stack[stack.length - 1];
      if (atKey && keys) {
        const key = jsonStringValue(text, start, pos);
        if (keys.has(key)) duplicates.push({ key, offset: start });
        keys.add(key);
        atKey = false;
      }
    } else if (c === 0x7b || c === 0x5b) {
      stack.push(c === 0x7b ? new Set() : null);
      if (stack.length > MAX_DEPTH) return { duplicates, tooDeepAt: pos };
      atKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      atKey = false;
    } else if (c === 0x2c) {
      atKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return { duplicates, tooDeepAt: -1 };
}

function yamlReason(err: unknown): string {
  const reason = (err as { reason?: string }).reason ?? (err as Error).message ?? String(err);
  return reason.replace(/\s+/g, ' ').trim();
}

export function parseDocuments(file: SourceFile): { documents: PolicyDocument[]; findings: RawFinding[] } {
  const documents: PolicyDocument[] = [];
  const findings: RawFinding[] = [];
  if (file.problem) {
    findings.push({ code: file.problem.code, message: file.problem.message, file: file.path, line: file.problem.line, column: file.problem.column, path: '', resource: null });
    return { documents, findings };
  }
  const text = file.text.charCodeAt(0) === 0xfeff ? file.text.slice(1) : file.text;
  if (text.trim() === '') {
    findings.push(fileFinding(file, 'MSH1005', `File ${file.path} is empty; it holds no resources.`, 0));
    return { documents, findings };
  }
  if (file.format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const msg = (err as Error).message;
      const at = /position (\d+)/.exec(msg);
      const lc = /line (\d+) column (\d+)/.exec(msg);
      const pos = lc ? { line: Number(lc[1]), column: Number(lc[2]) } : offsetToPosition(file.text, at ? Number(at[1]) : 0);
      findings.push(fileFinding(file, 'MSH1006', `JSON syntax error in ${file.path}: ${msg.replace(/^.*?JSON[^:]*:\s*/, '').replace(/ in JSON.*$/, '')}; fix the JSON at this line.`, 0, pos));
      return { documents, findings };
    }
    const shape = jsonShapeProblems(file.text);
    if (shape.tooDeepAt !== -1) {
      findings.push(fileFinding(file, 'MSH1008', `${file.path} nests deeper than ${MAX_DEPTH} levels; no mesh resource does, so it was not read.`, shape.tooDeepAt));
      return { documents, findings };
    }
    if (shape.duplicates.length) {
      for (const d of shape.duplicates) findings.push(duplicateKeyFinding(file, d.key, d.offset));
      return { documents, findings };
    }
    documents.push({ file, index: 0, offset: 0, text: file.text, value });
    return { documents, findings };
  }
  const parts = splitYamlDocuments(file.text);
  // Fast path: one js-yaml call per file (per piece of about CHUNK_CHARS on large files). Only when a call
  // fails (a syntax error somewhere) or its document count disagrees with the split is each document
  // of that piece parsed on its own, so that one bad document still leaves the others checked.
  const values: unknown[] = new Array(parts.length);
  const errors: unknown[] = new Array(parts.length);
  for (let a = 0; a < parts.length; ) {
    let b = a + 1;
    let size = parts[a]!.text.length;
    while (b < parts.length && size < CHUNK_CHARS) size += parts[b++]!.text.length;
    let piece: unknown[] | undefined;
    try {
      piece = loadAllYaml(a === 0 && b === parts.length ? text : pieceText(file.text, parts, a, b), YAML_OPTIONS);
      if (piece.length !== b - a) piece = undefined;
    } catch {
      piece = undefined;
    }
    for (let i = a; i < b; i++) {
      if (piece) values[i] = piece[i - a];
      else {
        try {
          values[i] = loadYaml(parts[i]!.text, YAML_OPTIONS);
        } catch (err) {
          errors[i] = err;
        }
      }
    }
    a = b;
  }
  // Alias bombs need anchors: a file without any `&` has no document to measure.
  const anchors = text.includes('&');
  parts.forEach((part, index) => {
    const err = errors[index];
    if (err !== undefined) {
      for (const f of yamlFindings(file, part, index, err)) findings.push(f);
      return;
    }
    const value = values[index];
    if (value === undefined || value === null) return;
    if (anchors && part.text.includes('&') && expandedSize(value, new Map(), 0) > MAX_EXPANDED_NODES) {
      findings.push(fileFinding(file, 'MSH1009', `Document ${index + 1} of ${file.path} expands its aliases to over ${MAX_EXPANDED_NODES.toLocaleString('en-US')} nodes (an alias bomb); it was not read.`, part.offset));
      return;
    }
    documents.push({ file, index, offset: part.offset, text: part.text, value });
  });
  return { documents, findings };
}

/** The text of parts[a] to parts[b - 1], without a byte order mark at the start of the file. */
function pieceText(fileText: string, parts: { offset: number; text: string }[], a: number, b: number): string {
  const last = parts[b - 1]!;
  let from = parts[a]!.offset;
  if (from === 0 && fileText.charCodeAt(0) === 0xfeff) from = 1;
  return fileText.slice(from, last.offset + last.text.length);
}

function expandedSize(value: unknown, memo: Map<object, number>, depth: number): number {
  if (value === null || typeof value !== 'object') return 1;
  const known = memo.get(value);
  if (known !== undefined) return known;
  if (depth > MAX_DEPTH * 2) return Infinity;
  let n = 1;
  const children = Array.isArray(value) ? value : Object.values(value);
  for (const c of children) {
    n += expandedSize(c, memo, depth + 1);
    if (n > MAX_EXPANDED_NODES) break;
  }
  memo.set(value, n);
  return n;
}

function stringMap(v: unknown): Record<string, string> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
  const from = v as Record<string, unknown>;
  // The common case, a map of strings only, is the parsed map itself: no copy kept per resource.
  // A copy is made for anything else, and for a `__proto__` key, which assignment to a copy drops.
  if (onlyStrings(from)) return from as Record<string, string>;
  const out: Record<string, string> = {};
  // for...in with an own-property test lists what Object.keys lists, in the same order, without the array.
  for (const key in from) {
    if (!Object.hasOwn(from, key)) continue;
    const val = from[key];
    out[key] = val === null || val === undefined ? '' : String(val);
  }
  return out;
}

function onlyStrings(from: Record<string, unknown>): boolean {
  if (Object.getPrototypeOf(from) !== Object.prototype) return false;
  for (const key in from) {
    if (!Object.hasOwn(from, key) || key === '__proto__' || typeof from[key] !== 'string') return false;
  }
  return true;
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return `a ${typeof v} (${JSON.stringify(v).slice(0, 40)})`;
}

/** Turns parsed documents into resources; `kind: List` documents contribute their items. */
export function resourcesOf(documents: PolicyDocument[], options: LoadOptions = {}): { resources: Resource[]; findings: RawFinding[] } {
  const resources: Resource[] = [];
  const findings: RawFinding[] = [];
  const unknownKinds = new Set<string>();
  const docFinding = (doc: PolicyDocument, pointer: string, code: RawFinding['code'], message: string): RawFinding => ({
    code, message, file: doc.file.path, line: 0, column: 0, path: pointer, resource: null, doc,
  });
  // apiVersion and kind → their parts, worked out once per pair (thousands of resources share a few pairs).
  const kinds = new Map<string, Map<string, { group: string; version: string; info: KindInfo | undefined; kindId: string }>>();
  const kindOf = (apiVersion: string, kind: string) => {
    let byKind = kinds.get(apiVersion);
    if (!byKind) kinds.set(apiVersion, (byKind = new Map()));
    let known = byKind.get(kind);
    if (!known) {
      const { group, version } = splitApiVersion(apiVersion);
      byKind.set(kind, (known = { group, version, info: kindInfo(group, kind), kindId: `${group || 'core'}/${kind}` }));
    }
    return known;
  };
  const take = (doc: PolicyDocument, value: unknown, pointer: string) => {
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      findings.push(docFinding(doc, pointer, 'MSH1010', `${capitalize(where(doc, pointer))} is ${describeValue(value)}, not a resource; each document must be a mapping with apiVersion, kind and metadata.`));
      return;
    }
    const obj = value as Record<string, unknown>;
    if (obj.kind === 'List' && (obj.apiVersion === 'v1' || obj.apiVersion === undefined)) {
      if (!Array.isArray(obj.items)) {
        findings.push(docFinding(doc, pointer, 'MSH1011', `The List in ${where(doc, pointer)} has no items list; put its resources under items.`));
        return;
      }
      obj.items.forEach((item, i) => take(doc, item, `${pointer}/items/${i}`));
      return;
    }
    if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '' || typeof obj.kind !== 'string' || obj.kind === '') {
      const missing = ['apiVersion', 'kind'].filter((f) => typeof obj[f] !== 'string' || obj[f] === '');
      findings.push(docFinding(doc, pointer, 'MSH1011', `${capitalize(where(doc, pointer))} has no ${missing.join(' or ')}; every resource needs apiVersion and kind.`));
      return;
    }
    const apiVersion = obj.apiVersion;
    const kind = obj.kind;
    const { group, version, info, kindId } = kindOf(apiVersion, kind);
    const metadata = (obj.metadata && typeof obj.metadata === 'object' && !Array.isArray(obj.metadata) ? obj.metadata : {}) as Record<string, unknown>;
    const name = typeof metadata.name === 'string' ? metadata.name : '';
    if (!name) {
      findings.push(docFinding(doc, obj.metadata ? `${pointer}/metadata` : pointer, 'MSH1011', `The ${kind} in ${where(doc, pointer)} has no metadata.name; name it.`));
      return;
    }
    let unknownVersion = false;
    if (!info) {
      // Once per kind: another version of the same group and kind is the same unknown kind.
      const key = `${group}/${kind}`;
      if (!unknownKinds.has(key)) {
        unknownKinds.add(key);
        findings.push(docFinding(doc, `${pointer}/kind`, 'MSH1020', `Kind ${kind} (${apiVersion}) is not part of the mesh policy language; meshctl does not check it (reported once per kind).`));
      }
    } else if (!info.versions.includes(version)) {
      unknownVersion = true;
      findings.push(docFinding(doc, `${pointer}/apiVersion`, 'MSH1021', `${kind} ${name} uses ${apiVersion}, which meshctl does not know; use one of ${info.versions.map((v) => (group ? `${group}/${v}` : v)).join(', ')}.`));
    }
    const namespaced = info ? info.namespaced : true;
    let namespace = typeof metadata.namespace === 'string' ? metadata.namespace : '';
    let namespaceDefaulted = false;
    if (namespaced && !namespace && options.defaultNamespace !== undefined) {
      namespace = options.defaultNamespace;
      namespaceDefaulted = true;
    }
    if (!namespaced) namespace = '';
    const resource: Resource = {
      apiVersion,
      group,
      version,
      kind,
      kindId,
      info,
      name,
      namespace,
      namespaceDefaulted,
      labels: stringMap(metadata.labels),
      annotations: stringMap(metadata.annotations),
      metadata,
      spec: obj.spec ?? {},
      object: obj,
      doc,
      pointer,
    };
    if (unknownVersion) findings[findings.length - 1]!.resource = refOf(resource);
    resources.push(resource);
  };
  for (const doc of documents) take(doc, doc.value, '');
  return { resources, findings };
}

export function loadSources(files: SourceFile[], options: LoadOptions = {}): LoadResult {
  const documents: PolicyDocument[] = [];
  const findings: RawFinding[] = [];
  for (const file of files) {
    const parsed = parseDocuments(file);
    // One push per item: spreading 100,000 documents into push() would overflow the call stack.
    for (const d of parsed.documents) documents.push(d);
    for (const f of parsed.findings) findings.push(f);
  }
  const built = resourcesOf(documents, options);
  return { documents, resources: built.resources, findings: [...findings, ...built.findings] };
}

/** A resource meshctl adds itself (no file): used to model Istio's default ingress gateway. */
export function syntheticResource(apiVersion: string, kind: string, namespace: string, name: string, object: Record<string, unknown>): Resource {
  const { group, version } = splitApiVersion(apiVersion);
  const metadata = { name, namespace, ...(object.metadata as object | undefined) };
  return {
    apiVersion, group, version, kind, kindId: `${group || 'core'}/${kind}`, info: kindInfo(group, kind), name, namespace,
    namespaceDefaulted: false,
    labels: stringMap((metadata as Record<string, unknown>).labels),
    annotations: stringMap((metadata as Record<string, unknown>).annotations),
    metadata, spec: object.spec ?? {}, object: { apiVersion, kind, ...object, metadata }, doc: null, pointer: '',
  };
}

/** Where a document (or an item of a List) is, for findings about it. */
function where(doc: PolicyDocument, pointer: string): string {
  return `document ${doc.index + 1} of ${doc.file.path}${pointer ? ` (${pointer})` : ''}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
