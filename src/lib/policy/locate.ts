// Maps a JSON pointer inside one document to its line and column, on demand: documents are parsed
// without positions (fast) and only those with findings are scanned again here.
import { parseEvents, EVENT_ID, getScalarValue } from 'js-yaml';
import type { PolicyDocument } from './document.js';

export interface Position {
  line: number;
  column: number;
}

export function pointerSegments(pointer: string): string[] {
  if (pointer === '' || pointer === '/') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function joinPointer(base: string, ...segments: (string | number)[]): string {
  let out = base;
  for (const s of segments) out += '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1');
  return out;
}

/** 1-based line and column of `offset` in `text`. */
export function offsetToPosition(text: string, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  let i = text.indexOf('\n');
  while (i !== -1 && i < offset) {
    line++;
    lineStart = i + 1;
    i = text.indexOf('\n', lineStart);
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Offset (in the document's text) of the deepest node on the pointer's path that exists: the key of a
 * mapping member (the field), or the item of a sequence. A pointer into a missing field resolves to its
 * nearest existing parent, so a finding about a missing field points at the object that lacks it.
 */
export function locateOffset(doc: PolicyDocument, pointer: string): number {
  return indexOf(doc).offsetOf(pointerSegments(pointer));
}

export function locate(doc: PolicyDocument, pointer: string): Position {
  const local = locateOffset(doc, pointer);
  return lineIndexOf(doc.file).position(doc.offset + local);
}

// ---- Per-document indexes, built on the first finding in a document and kept for the others ----
// A document with thousands of findings (a `kind: List` from kubectl, a large VirtualService) is parsed
// for positions once, and each finding then walks only its own path: locating stays linear in the number
// of findings instead of reading the whole document again for each.

/** The structure of one document: each container's members with the offsets a finding points at. */
interface DocIndex {
  offsetOf(segments: string[]): number;
}

const docIndexes = new WeakMap<PolicyDocument, DocIndex>();

function indexOf(doc: PolicyDocument): DocIndex {
  let index = docIndexes.get(doc);
  if (!index) {
    index = doc.file.format === 'json' ? new Tree(jsonTree(doc.text)) : yamlIndex(doc.text);
    docIndexes.set(doc, index);
  }
  return index;
}

/** A container of the tree: members by key (first occurrence wins) or items in order, each with where it starts. */
interface TreeNode {
  keys: Map<string, TreeMember> | null;
  items: TreeMember[] | null;
}

interface TreeMember {
  /** Where a finding on this member points: its key, or the item itself. */
  at: number;
  /** The member's value when it is a container. */
  node: TreeNode | null;
}

class Tree implements DocIndex {
  constructor(private readonly root: { at: number; node: TreeNode | null }) {}

  offsetOf(segments: string[]): number {
    let best = this.root.at;
    let node = this.root.node;
    for (const seg of segments) {
      if (!node) return best;
      let member: TreeMember | undefined;
      if (node.keys) member = node.keys.get(seg);
      else if (node.items) {
        const want = Number(seg);
        member = Number.isInteger(want) && want >= 0 ? node.items[want] : undefined;
      }
      if (!member) return best;
      best = member.at;
      node = member.node;
    }
    return best;
  }
}

export type YamlEvent = ReturnType<typeof parseEvents>[number];

/** Where a YAML node starts: its anchor or tag when it has one, else its value. */
export function eventStart(ev: YamlEvent): number {
  let s = -1;
  const consider = (n: number) => {
    if (n >= 0 && (s === -1 || n < s)) s = n;
  };
  switch (ev.type) {
    case EVENT_ID.MAPPING:
    case EVENT_ID.SEQUENCE:
      consider(ev.start);
      consider(ev.anchorStart);
      consider(ev.tagStart);
      return Math.max(s, 0);
    case EVENT_ID.SCALAR:
      consider(ev.valueStart);
      consider(ev.anchorStart);
      consider(ev.tagStart);
      return Math.max(s, 0);
    case EVENT_ID.ALIAS:
      return Math.max(0, ev.anchorStart - 1);
    default:
      return 0;
  }
}

/** The YAML document's events, read once; each container's members are indexed when a finding first enters it. */
function yamlIndex(text: string): DocIndex {
  let events: YamlEvent[];
  try {
    events = parseEvents(text, { maxDepth: 1000 });
  } catch {
    return { offsetOf: () => 0 };
  }
  // end[j]: the index after the node that starts at event j (its POP, plus one, for a container).
  const end = new Int32Array(events.length + 1);
  const open: number[] = [];
  for (let j = 0; j < events.length; j++) {
    const type = events[j]!.type;
    if (type === EVENT_ID.MAPPING || type === EVENT_ID.SEQUENCE) open.push(j);
    else if (type === EVENT_ID.POP) {
      const start = open.pop();
      if (start !== undefined) end[start] = j + 1;
      end[j] = j + 1;
    } else end[j] = j + 1;
  }
  for (const j of open) end[j] = events.length;
  const members = new Map<number, TreeNode>();
  const nodeAt = (j: number): TreeNode | null => {
    const ev = events[j];
    if (!ev || (ev.type !== EVENT_ID.MAPPING && ev.type !== EVENT_ID.SEQUENCE)) return null;
    let node = members.get(j);
    if (node) return node;
    node = ev.type === EVENT_ID.MAPPING ? { keys: new Map(), items: null } : { keys: null, items: [] };
    members.set(j, node);
    let k = j + 1;
    while (k < events.length && events[k]!.type !== EVENT_ID.POP) {
      if (node.keys) {
        const keyEv = events[k]!;
        const value = end[k]!;
        if (value >= events.length) break;
        const key = keyEv.type === EVENT_ID.SCALAR ? getScalarValue(text, keyEv) : undefined;
        if (key !== undefined && !node.keys.has(key)) node.keys.set(key, lazyMember(quoteAwareStart(text, eventStart(keyEv)), value, nodeAt));
        k = end[value]!;
      } else {
        node.items!.push(lazyMember(itemStart(text, eventStart(events[k]!)), k, nodeAt));
        k = end[k]!;
      }
    }
    return node;
  };
  let first = 0;
  while (first < events.length && events[first]!.type === EVENT_ID.DOCUMENT) first++;
  if (first >= events.length) return { offsetOf: () => 0 };
  return new Tree(lazyMember(eventStart(events[first]!), first, nodeAt));
}

/** A member whose container is indexed only when a path goes through it. */
function lazyMember(at: number, event: number, nodeAt: (j: number) => TreeNode | null): TreeMember {
  let node: TreeNode | null | undefined;
  return {
    at,
    get node() {
      if (node === undefined) node = nodeAt(event);
      return node;
    },
  };
}

// A quoted key's value starts after its quote; point at the quote.
function quoteAwareStart(text: string, offset: number): number {
  const prev = text[offset - 1];
  return prev === '"' || prev === "'" ? offset - 1 : offset;
}

// Block sequence items are pointed at by their dash, so the caret sits where a reader looks.
function itemStart(text: string, offset: number): number {
  let k = quoteAwareStart(text, offset) - 1;
  while (k >= 0 && (text[k] === ' ' || text[k] === '\t')) k--;
  if (k >= 0 && text[k] === '-') return k;
  return quoteAwareStart(text, offset);
}

/** Index of the quote that closes the JSON string whose opening quote is at `start` (or the text's length). */
export function jsonStringEnd(text: string, start: number): number {
  let pos = start + 1;
  while (pos < text.length && text.charCodeAt(pos) !== 0x22) pos += text.charCodeAt(pos) === 0x5c ? 2 : 1;
  return pos;
}

/** The value of the JSON string between the quotes at `start` and `end`, escapes decoded. */
export function jsonStringValue(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(text.slice(start, end + 1)) as string;
  } catch {
    return raw;
  }
}

/**
 * The JSON document's tree, in one pass over the text (JSON.parse gives values, this gives places). It
 * keeps its own stack, so nesting of any depth is read without recursion.
 */
function jsonTree(text: string): TreeMember {
  let pos = 0;
  const n = text.length;
  const ws = () => {
    while (pos < n) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };
  const readString = (): string => {
    const start = pos;
    pos = jsonStringEnd(text, start) + 1;
    return jsonStringValue(text, start, pos - 1);
  };
  const skipScalar = () => {
    if (text[pos] === '"') readString();
    else while (pos < n && !/[\s,}\]]/.test(text[pos]!)) pos++;
  };
  ws();
  const root: TreeMember = { at: pos, node: null };
  // Containers being read: the node, and the member its next value belongs to.
  const stack: TreeNode[] = [];
  let pending: TreeMember | null = root;
  for (;;) {
    ws();
    if (pos >= n) break;
    const c = text[pos];
    if (pending) {
      // A value starts here.
      if (c === '{' || c === '[') {
        const node: TreeNode = c === '{' ? { keys: new Map(), items: null } : { keys: null, items: [] };
        pending.node = node;
        stack.push(node);
        pos++;
      } else {
        skipScalar();
      }
      pending = null;
      continue;
    }
    const top = stack[stack.length - 1];
    if (!top) break;
    if (c === ',') {
      pos++;
      continue;
    }
    if (c === '}' || c === ']') {
      stack.pop();
      pos++;
      continue;
    }
    if (top.keys) {
      if (c !== '"') break;
      const at = pos;
      const key = readString();
      ws();
      if (text[pos] === ':') pos++;
      const member: TreeMember = { at, node: null };
      if (!top.keys.has(key)) top.keys.set(key, member);
      pending = member;
    } else {
      const member: TreeMember = { at: pos, node: null };
      top.items!.push(member);
      pending = member;
    }
  }
  return root;
}

/**
 * Where each line of a file starts, for offset → line and column by binary search. Lines are indexed
 * only as far as the furthest offset asked for: a policy export of 100,000 lines with a few findings
 * near its top is not scanned to its end.
 */
class LineIndex {
  private readonly starts: number[] = [0];
  /** Every newline before this offset is indexed; the one at it (if any) is not yet. */
  private scanned = 0;

  constructor(private readonly text: string) {}

  position(offset: number): Position {
    if (offset > this.scanned) {
      let i = this.text.indexOf('\n', this.scanned);
      for (; i !== -1 && i < offset; i = this.text.indexOf('\n', i + 1)) this.starts.push(i + 1);
      this.scanned = i === -1 ? Infinity : i;
    }
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo]! + 1 };
  }
}

const lineIndexes = new WeakMap<PolicyDocument['file'], LineIndex>();

/** 1-based line of an offset in a file's text (line starts indexed once per file). */
export function lineOf(file: PolicyDocument['file'], offset: number): number {
  return lineIndexOf(file).position(offset).line;
}

function lineIndexOf(file: PolicyDocument['file']): LineIndex {
  let index = lineIndexes.get(file);
  if (!index) lineIndexes.set(file, (index = new LineIndex(file.text)));
  return index;
}
