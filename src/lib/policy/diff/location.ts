// Where a resource starts in its file (the line a reviewer or a pull-request annotation points at). Line
// starts are indexed once per file and the items of a `kind: List` document located in one pass, so that
// locating every resource of a large `kubectl get -o yaml` list costs one parse, not one per resource.
import { parseEvents, EVENT_ID, getScalarValue } from 'js-yaml';
import type { PolicyDocument, Resource } from '../load.js';
import type { SourceFile } from '../source.js';
import { locate } from '../locate.js';
import type { SourceLocation } from './model.js';

const LINE_STARTS = new WeakMap<SourceFile, number[]>();
const ITEM_OFFSETS = new WeakMap<PolicyDocument, number[]>();

function lineStarts(file: SourceFile): number[] {
  let starts = LINE_STARTS.get(file);
  if (!starts) {
    starts = [0];
    for (let i = file.text.indexOf('\n'); i !== -1; i = file.text.indexOf('\n', i + 1)) starts.push(i + 1);
    LINE_STARTS.set(file, starts);
  }
  return starts;
}

/** 1-based line of an offset in the file's text. */
function lineOf(file: SourceFile, offset: number): number {
  const starts = lineStarts(file);
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

type YamlEvent = ReturnType<typeof parseEvents>[number];

function eventStart(ev: YamlEvent): number {
  const starts =
    ev.type === EVENT_ID.MAPPING || ev.type === EVENT_ID.SEQUENCE
      ? [ev.start, ev.anchorStart, ev.tagStart]
      : ev.type === EVENT_ID.SCALAR
        ? [ev.valueStart, ev.anchorStart, ev.tagStart]
        : ev.type === EVENT_ID.ALIAS
          ? [ev.anchorStart - 1]
          : [];
  const valid = starts.filter((n) => n >= 0);
  return valid.length ? Math.min(...valid) : 0;
}

/** Offsets (in the document's text) of the items of its top-level `items` sequence. */
function itemOffsets(doc: PolicyDocument): number[] {
  let offsets = ITEM_OFFSETS.get(doc);
  if (offsets) return offsets;
  offsets = [];
  ITEM_OFFSETS.set(doc, offsets);
  let events: YamlEvent[];
  try {
    events = parseEvents(doc.text, { maxDepth: 1000 });
  } catch {
    return offsets;
  }
  const skip = (j: number): number => {
    const ev = events[j]!;
    if (ev.type !== EVENT_ID.MAPPING && ev.type !== EVENT_ID.SEQUENCE) return j + 1;
    j++;
    while (j < events.length && events[j]!.type !== EVENT_ID.POP) j = skip(j);
    return j + 1;
  };
  let i = 0;
  while (i < events.length && events[i]!.type === EVENT_ID.DOCUMENT) i++;
  if (events[i]?.type !== EVENT_ID.MAPPING) return offsets;
  for (let j = i + 1; j < events.length && events[j]!.type !== EVENT_ID.POP; ) {
    const key = events[j]!;
    const valueAt = skip(j);
    const value = events[valueAt];
    if (key.type === EVENT_ID.SCALAR && getScalarValue(doc.text, key) === 'items' && value?.type === EVENT_ID.SEQUENCE) {
      for (let k = valueAt + 1; k < events.length && events[k]!.type !== EVENT_ID.POP; k = skip(k)) offsets.push(eventStart(events[k]!));
      return offsets;
    }
    j = value ? skip(valueAt) : valueAt;
  }
  return offsets;
}

/** The line a resource starts on: its first line of content, past document markers and comments. */
export function resourceLocation(r: Resource): SourceLocation | undefined {
  const doc = r.doc;
  if (!doc) return undefined;
  const item = /^\/items\/(\d+)$/.exec(r.pointer);
  if (item) {
    const offset = itemOffsets(doc)[Number(item[1])];
    return { file: doc.file.path, line: offset === undefined ? locate(doc, r.pointer).line : lineOf(doc.file, doc.offset + offset) };
  }
  if (r.pointer) return { file: doc.file.path, line: locate(doc, r.pointer).line };
  const skipped = /^(?:(?:---|\.\.\.)?[ \t]*(?:#[^\n]*)?\r?\n)*/.exec(doc.text)?.[0].length ?? 0;
  return { file: doc.file.path, line: lineOf(doc.file, doc.offset + skipped) };
}
