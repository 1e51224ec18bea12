// Maps a JSON pointer inside one document to its line and column, on demand: documents are parsed
// without positions (fast) and only those with findings are scanned again here.
import { parseEvents, EVENT_ID, getScalarValue } from 'js-yaml';
import type { PolicyDocument } from './load.js';

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
  const segments = pointerSegments(pointer);
  return doc.file.format === 'json' ? locateJson(doc.text, segments) : locateYaml(doc.text, segments);
}

export function locate(doc: PolicyDocument, pointer: string): Position {
  const local = locateOffset(doc, pointer);
  return offsetToPosition(doc.file.text, doc.offset + local);
}

type YamlEvent = ReturnType<typeof parseEvents>[number];

function eventStart(ev: YamlEvent): number {
  switch (ev.type) {
    case EVENT_ID.MAPPING:
    case EVENT_ID.SEQUENCE: {
      const starts = [ev.start, ev.anchorStart, ev.tagStart].filter((n) => n >= 0);
      return starts.length ? Math.min(...starts) : 0;
    }
    case EVENT_ID.SCALAR: {
      const starts = [ev.valueStart, ev.anchorStart, ev.tagStart].filter((n) => n >= 0);
      let s = starts.length ? Math.min(...starts) : 0;
      return s;
    }
    case EVENT_ID.ALIAS:
      return Math.max(0, ev.anchorStart - 1);
    default:
      return 0;
  }
}

function locateYaml(text: string, segments: string[]): number {
  let events: YamlEvent[];
  try {
    events = parseEvents(text, { maxDepth: 1000 });
  } catch {
    return 0;
  }
  let i = 0;
  while (i < events.length && events[i]!.type === EVENT_ID.DOCUMENT) i++;
  if (i >= events.length) return 0;
  // Skips the node starting at events[i]; returns the index after it.
  const skip = (j: number): number => {
    const ev = events[j]!;
    if (ev.type === EVENT_ID.MAPPING || ev.type === EVENT_ID.SEQUENCE) {
      j++;
      while (j < events.length && events[j]!.type !== EVENT_ID.POP) j = skip(j);
      return j + 1;
    }
    return j + 1;
  };
  let best = eventStart(events[i]!);
  let node = i;
  for (const seg of segments) {
    const ev = events[node]!;
    if (ev.type === EVENT_ID.MAPPING) {
      let j = node + 1;
      let found = -1;
      while (j < events.length && events[j]!.type !== EVENT_ID.POP) {
        const keyEv = events[j]!;
        const keyText = keyEv.type === EVENT_ID.SCALAR ? getScalarValue(text, keyEv) : undefined;
        const valueIndex = skip(j);
        if (keyText === seg) {
          best = quoteAwareStart(text, eventStart(keyEv));
          found = valueIndex;
          break;
        }
        j = skip(valueIndex);
      }
      if (found === -1) return best;
      node = found;
    } else if (ev.type === EVENT_ID.SEQUENCE) {
      const want = Number(seg);
      if (!Number.isInteger(want) || want < 0) return best;
      let j = node + 1;
      let n = 0;
      while (j < events.length && events[j]!.type !== EVENT_ID.POP && n < want) {
        j = skip(j);
        n++;
      }
      if (j >= events.length || events[j]!.type === EVENT_ID.POP) return best;
      best = itemStart(text, eventStart(events[j]!));
      node = j;
    } else {
      return best;
    }
  }
  return best;
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

/** A small JSON scanner that follows the pointer; JSON.parse gives values, this gives places. */
function locateJson(text: string, segments: string[]): number {
  let pos = 0;
  const ws = () => {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  };
  const readString = (): string => {
    const start = pos;
    pos++;
    while (pos < text.length && text[pos] !== '"') {
      if (text[pos] === '\\') pos++;
      pos++;
    }
    pos++;
    try {
      return JSON.parse(text.slice(start, pos)) as string;
    } catch {
      return '';
    }
  };
  const skipValue = (): void => {
    ws();
    const c = text[pos];
    if (c === '"') {
      readString();
      return;
    }
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      pos++;
      ws();
      if (text[pos] === close) {
        pos++;
        return;
      }
      for (;;) {
        ws();
        if (c === '{') {
          readString();
          ws();
          pos++; // colon
        }
        skipValue();
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        pos++;
        return;
      }
    }
    while (pos < text.length && !/[\s,}\]]/.test(text[pos]!)) pos++;
  };
  ws();
  let best = pos;
  for (const seg of segments) {
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      let found = false;
      for (;;) {
        ws();
        if (text[pos] === '}' || pos >= text.length) break;
        const keyStart = pos;
        const key = readString();
        ws();
        pos++; // colon
        if (key === seg) {
          best = keyStart;
          found = true;
          break;
        }
        skipValue();
        ws();
        if (text[pos] === ',') pos++;
      }
      if (!found) return best;
    } else if (c === '[') {
      pos++;
      const want = Number(seg);
      let n = 0;
      let found = false;
      for (;;) {
        ws();
        if (text[pos] === ']' || pos >= text.length) break;
        if (n === want) {
          best = pos;
          found = true;
          break;
        }
        skipValue();
        ws();
        if (text[pos] === ',') pos++;
        n++;
      }
      if (!found) return best;
    } else {
      return best;
    }
  }
  return best;
}
