// Where a resource starts in its file (the line a reviewer or a pull-request annotation points at). Line
// starts are indexed once per file and the items of a `kind: List` document located in one pass, so that
// locating every resource of a large `kubectl get -o yaml` list costs one parse, not one per resource.
import { parseEvents, EVENT_ID, getScalarValue } from 'js-yaml';
import type { PolicyDocument } from '../document.js';
import type { Resource } from '../load.js';
import { eventStart, lineOf, locate, type YamlEvent } from '../locate.js';
import type { SourceLocation } from './model.js';

const ITEM_OFFSETS = new WeakMap<PolicyDocument, number[]>();

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
