// Turns ajv errors into findings a person can act on: the exact field (a JSON pointer from the resource
// root) and one sentence naming it and what to do. oneOf/anyOf branch noise is collapsed into one message.
import type { ErrorObject } from 'ajv';
import { joinPointer, pointerSegments } from '../locate.js';
import { FORMAT_WORDS } from './ajv-config.js';

export interface Problem {
  pointer: string;
  message: string;
}

export interface Subject {
  kind: string;
  name: string;
  /** The resource object that was validated. */
  object: unknown;
  /** The committed schema (for field names, formats and alternatives). */
  schema: () => Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** `/spec/http/0/retries` → `spec.http[0].retries`; odd keys are quoted: `metadata.labels["app.kubernetes.io/name"]`. */
export function fieldPath(pointer: string): string {
  let out = '';
  for (const seg of pointerSegments(pointer)) {
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function valueAt(root: unknown, pointer: string): unknown {
  let node = root;
  for (const seg of pointerSegments(pointer)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Json)[seg];
  }
  return node;
}

/** The schema node at an ajv schemaPath (`#/properties/spec/...`), or undefined. */
function schemaAt(root: Json, schemaPath: string): unknown {
  let node: unknown = root;
  for (const seg of pointerSegments(schemaPath.replace(/^#/, ''))) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Json)[seg];
  }
  return node;
}

function parentSchemaPath(schemaPath: string): string {
  return schemaPath.slice(0, schemaPath.lastIndexOf('/'));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  if (typeof value === 'string') return outOfRange(value) ? `${value}, a number beyond the range any field holds` : `the string ${shown}`;
  if (typeof value === 'number') return Number.isInteger(value) ? `the integer ${shown}` : `the number ${shown}`;
  return `${typeof value} ${shown}`;
}

/**
 * A numeral too large for a double (`1e400`): the YAML reader keeps it as its text, quoted or not, so
 * taking the quotes away would not help.
 */
function outOfRange(text: string): boolean {
  const n = Number(text);
  return text.trim() !== '' && !Number.isNaN(n) && !Number.isFinite(n);
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping of fields',
  null: 'null',
};

function typeWords(types: string[]): string {
  const t = types.filter((x) => x !== 'null');
  if (t.length === 2 && t.includes('integer') && t.includes('string')) return 'an integer or a string';
  return t.map((x) => TYPE_WORDS[x] ?? x).join(' or ');
}

function typeHint(expected: string[], value: unknown): string {
  if (value === null) return 'fill it in or remove it';
  if (expected.includes('object') && Array.isArray(value)) return 'write its fields without the leading "- "';
  if (typeof value === 'string' && outOfRange(value)) return `write ${expected.includes('integer') ? 'an integer' : 'a number'} in range`;
  if ((expected.includes('integer') || expected.includes('number')) && typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) {
    return 'write the number without quotes';
  }
  if (expected.includes('string') && (typeof value === 'number' || typeof value === 'boolean')) return `quote it ("${String(value)}")`;
  if (expected.includes('array') && !Array.isArray(value)) return 'make it a list (items starting with "- ")';
  if (expected.includes('object') && typeof value !== 'object') return 'give it nested fields';
  if (expected.includes('boolean') && typeof value === 'string' && /^(true|false)$/i.test(value)) return 'write true or false without quotes';
  return `change it to ${typeWords(expected)}`;
}

/** Levenshtein distance, capped: enough to suggest a spelling. */
function distance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  if (Math.abs(m - n) > 3) return 99;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[n]!;
}

/** The closest known name, by case-insensitive match, snake_case, then edit distance. */
export function suggest(word: string, known: string[]): string | undefined {
  if (!known.length) return undefined;
  const lower = word.toLowerCase();
  const flat = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const exactish = known.find((k) => k.toLowerCase() === lower) ?? known.find((k) => flat(k) === flat(word));
  if (exactish) return exactish;
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(lower, k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  if (best && bestD <= limit) return best;
  // A known name that starts with the word or the other way round (retry → retries), else one containing it (Prefix → PathPrefix).
  return (
    known.find((k) => k.toLowerCase().startsWith(lower) || lower.startsWith(k.toLowerCase())) ??
    (word.length >= 4 ? known.find((k) => k.toLowerCase().includes(lower)) : undefined)
  );
}

function listWords(values: unknown[], max = 8): string {
  const shown = values.filter((v) => v !== null).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  if (shown.length <= max) return shown.join(', ');
  return `${shown.slice(0, max).join(', ')}, ... (${shown.length} values)`;
}

function where(pointer: string): string {
  const p = fieldPath(pointer);
  return p ? `at ${p}` : 'at the top level';
}

function subjectName(s: Subject): string {
  return `${s.kind} ${s.name}`;
}

/** Istio's generated oneOf for a protobuf oneof: [{not: {anyOf: [{required: [a]}, ...]}}, {required: [a]}, ...]. */
function protoOneofFields(branches: unknown[]): string[] | undefined {
  const fields: string[] = [];
  for (const b of branches.slice(1)) {
    const req = (b as Json)?.required;
    if (!Array.isArray(req) || req.length !== 1 || Object.keys(b as Json).length !== 1) return undefined;
    fields.push(req[0] as string);
  }
  const first = branches[0] as Json | undefined;
  if (!first?.not) return undefined;
  return fields.length ? fields : undefined;
}

/** Words for a branch made only of formats (anyOf: [{format: ipv4}, {format: ipv6}]). */
function formatAlternatives(branches: unknown[]): string | undefined {
  const words: string[] = [];
  for (const b of branches) {
    const f = (b as Json)?.format;
    if (typeof f !== 'string' || !FORMAT_WORDS[f]) return undefined;
    words.push(FORMAT_WORDS[f]!);
  }
  return words.join(' or ');
}

/**
 * The error's keyword path from the root of the committed schema. Errors inside a definition (see
 * prepareSchema) carry paths relative to it; the definition stands for the field the error's data path
 * reaches once the path steps of the relative keyword path are taken off, so that field's place in the
 * committed schema is prefixed.
 */
function absoluteSchemaPath(e: ErrorObject, root: Json): string {
  const rel = pointerSegments(e.schemaPath.replace(/^#/, ''));
  let consumed = 0;
  for (let i = 0; i < rel.length - 1; i++) {
    const seg = rel[i];
    if (seg === 'properties') {
      consumed++;
      i++;
    } else if (seg === 'items' || seg === 'additionalProperties') consumed++;
    else if (seg === 'oneOf' || seg === 'anyOf' || seg === 'allOf') i++;
  }
  const data = pointerSegments(e.instancePath);
  if (consumed >= data.length) return e.schemaPath;
  let node: Json | undefined = root;
  let path = '';
  for (const seg of data.slice(0, data.length - consumed)) {
    const props = node?.properties as Json | undefined;
    if (props && Object.prototype.hasOwnProperty.call(props, seg)) {
      path = joinPointer(path, 'properties', seg);
      node = props[seg] as Json;
    } else if (node?.items && typeof node.items === 'object') {
      path += '/items';
      node = node.items as Json;
    } else if (node?.additionalProperties && typeof node.additionalProperties === 'object') {
      path += '/additionalProperties';
      node = node.additionalProperties as Json;
    } else return e.schemaPath;
  }
  return `#${path}${e.schemaPath.replace(/^#/, '')}`;
}

export function explain(errors: ErrorObject[], subject: Subject): Problem[] {
  const root = subject.schema();
  return explainAnchored(errors.map((e) => ({ ...e, schemaPath: absoluteSchemaPath(e, root) })), subject);
}

function explainAnchored(errors: ErrorObject[], subject: Subject): Problem[] {
  // Kubernetes prunes a null field that is not nullable before it validates: not an error.
  const kept = errors.filter((e) => !isPrunedNull(e, subject.object));
  const problems: Problem[] = [];
  const consumed = new Set<ErrorObject>();
  // Outermost alternatives first: their branch errors are folded into one message.
  const alternatives = kept.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'propertyNames').sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const alt of alternatives) {
    if (consumed.has(alt)) continue;
    const prefix = `${alt.schemaPath}/`;
    const inner = kept.filter((e) => e !== alt && e.schemaPath.startsWith(prefix) && within(e.instancePath, alt.instancePath));
    for (const e of inner) consumed.add(e);
    consumed.add(alt);
    problems.push(...explainAlternative(alt, inner, subject));
  }
  for (const e of kept) {
    if (consumed.has(e)) continue;
    problems.push(explainOne(e, subject));
  }
  return dedupe(problems);
}

function within(pointer: string, ancestor: string): boolean {
  return pointer === ancestor || pointer.startsWith(`${ancestor}/`);
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.pointer}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function isPrunedNull(e: ErrorObject, root: unknown): boolean {
  if (e.keyword === 'required' || e.keyword === 'additionalProperties') return false;
  const segs = pointerSegments(e.instancePath);
  if (!segs.length) return false;
  if (valueAt(root, e.instancePath) !== null) return false;
  const parent = valueAt(root, e.instancePath.slice(0, e.instancePath.lastIndexOf('/')));
  return !!parent && typeof parent === 'object' && !Array.isArray(parent);
}

function explainAlternative(alt: ErrorObject, inner: ErrorObject[], s: Subject): Problem[] {
  const at = alt.instancePath;
  const value = valueAt(s.object, at);
  if (alt.keyword === 'propertyNames') {
    const key = String((alt.params as { propertyName?: string }).propertyName ?? '');
    const pointer = joinPointer(at, key);
    const isLabels = /\/metadata\/labels$/.test(at);
    const isAnnotations = /\/metadata\/annotations$/.test(at);
    const what = isLabels ? 'label key' : isAnnotations ? 'annotation key' : 'key';
    const rule = isLabels || isAnnotations
      ? 'use an optional DNS prefix and a slash, then up to 63 letters, digits, -, _ or ., starting and ending with a letter or digit'
      : 'rename it';
    return [{ pointer, message: `The ${what} ${JSON.stringify(key)} in ${subjectName(s)} ${where(at)} is not valid; ${rule}.` }];
  }
  const branches = schemaAt(s.schema(), alt.schemaPath);
  const list = Array.isArray(branches) ? branches : [];
  const passing = (alt.params as { passingSchemas?: number[] | null }).passingSchemas;
  const fields = alt.keyword === 'oneOf' ? protoOneofFields(list) : undefined;
  if (fields && value && typeof value === 'object') {
    const present = fields.filter((f) => f in (value as Json));
    if (present.length > 1) {
      const last = present[present.length - 1]!;
      const names = present.map((f) => f).join(', ').replace(/, ([^,]*)$/, ' and $1');
      return [{
        pointer: joinPointer(at, last),
        message: `${fieldPath(at) || 'The resource'} in ${subjectName(s)} sets ${names}, which exclude each other; keep only one of ${fields.join(', ')}.`,
      }];
    }
  }
  const formats = formatAlternatives(list);
  if (formats) {
    return [{ pointer: at, message: `${fieldPath(at)} in ${subjectName(s)} is ${describe(value)}, which is not ${formats}; fix the address.` }];
  }
  if (Array.isArray(passing) && passing.length > 1) {
    return [{ pointer: at, message: `${fieldPath(at) || 'The resource'} in ${subjectName(s)} fits more than one of its alternative forms; keep the fields of one form only.` }];
  }
  // No branch passed: explain the branch that got furthest (its errors are deepest), else list them all.
  const byBranch = new Map<number, ErrorObject[]>();
  for (const e of inner) {
    const rest = e.schemaPath.slice(alt.schemaPath.length + 1);
    const n = Number(rest.split('/')[0]);
    if (!Number.isInteger(n)) continue;
    if (!byBranch.has(n)) byBranch.set(n, []);
    byBranch.get(n)!.push(e);
  }
  let best: ErrorObject[] | undefined;
  let bestDepth = -1;
  for (const errs of byBranch.values()) {
    let depth = -Infinity;
    for (const e of errs) depth = Math.max(depth, e.instancePath.length + (e.keyword === 'required' ? 0 : 1));
    if (depth > bestDepth) {
      bestDepth = depth;
      best = errs;
    }
  }
  if (best && bestDepth > at.length) return explainAnchored(best, s);
  return [{ pointer: at, message: `${fieldPath(at) || 'The resource'} in ${subjectName(s)} matches none of its allowed forms; check the field against the ${s.kind} reference.` }];
}

/** Whether the field an error is about is required by its parent object (so "remove it" is no advice). */
function requiredField(root: Json, schemaPath: string): boolean {
  const segs = pointerSegments(schemaPath.replace(/^#/, ''));
  if (segs.length < 3 || segs[segs.length - 3] !== 'properties') return false;
  const parent = schemaAt(root, `#${joinPointer('', ...segs.slice(0, -3))}`) as Json | undefined;
  return Array.isArray(parent?.required) && (parent!.required as string[]).includes(segs[segs.length - 2]!);
}

function explainOne(e: ErrorObject, s: Subject): Problem {
  const at = e.instancePath;
  const value = valueAt(s.object, at);
  const field = fieldPath(at);
  const who = subjectName(s);
  const params = e.params as Record<string, unknown>;
  const parentSchema = schemaAt(s.schema(), parentSchemaPath(e.schemaPath)) as Json | undefined;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = parentSchema && typeof parentSchema.properties === 'object' ? Object.keys(parentSchema.properties as Json) : [];
      const guess = suggest(key, known);
      const hint = guess ? ` (did you mean ${guess}?)` : known.length && known.length <= 12 ? ` (known fields: ${known.join(', ')})` : '';
      return { pointer: joinPointer(at, key), message: `Unknown field ${key} in ${who} ${where(at)}; remove it or fix its spelling${hint}.` };
    }
    case 'required': {
      const missing = String(params.missingProperty);
      const full = fieldPath(joinPointer(at, missing));
      return { pointer: at, message: `${who} lacks the required field ${full}; add it.` };
    }
    case 'type': {
      const expected = String(params.type).split(',');
      return { pointer: at, message: `${field} in ${who} must be ${typeWords(expected)}, not ${describe(value)}; ${typeHint(expected, value)}.` };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]) ?? [];
      const strings = allowed.filter((v): v is string => typeof v === 'string');
      const guess = typeof value === 'string' ? suggest(value, strings) : undefined;
      const hint = guess ? ` (did you mean ${guess}?)` : '';
      return { pointer: at, message: `${field} in ${who} is ${show(value)}, which is not one of ${listWords(allowed)}; use one of them${hint}.` };
    }
    case 'const':
      return { pointer: at, message: `${field} in ${who} is ${show(value)} but must be ${show(params.allowedValue)}; change it.` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const limit = params.limit as number;
      const original = parentSchema ?? {};
      if (original.format === 'int32' && original[e.keyword] === undefined) {
        return { pointer: at, message: `${field} in ${who} is ${show(value)}, which does not fit in a 32-bit integer; use a smaller number.` };
      }
      const low = e.keyword === 'minimum' || e.keyword === 'exclusiveMinimum';
      const bound = e.keyword.startsWith('exclusive') ? (low ? `greater than ${limit}` : `less than ${limit}`) : low ? `at least ${limit}` : `at most ${limit}`;
      return { pointer: at, message: `${field} in ${who} is ${show(value)} but must be ${bound}; change it.` };
    }
    case 'multipleOf':
      return { pointer: at, message: `${field} in ${who} is ${show(value)} but must be a multiple of ${String(params.multipleOf)}; change it.` };
    case 'minLength':
      return params.limit === 1
        ? { pointer: at, message: `${field} in ${who} is empty; give it a value${requiredField(s.schema(), e.schemaPath) ? '' : ' or remove it'}.` }
        : { pointer: at, message: `${field} in ${who} is shorter than ${String(params.limit)} characters; lengthen it.` };
    case 'maxLength':
      return { pointer: at, message: `${field} in ${who} is longer than ${String(params.limit)} characters; shorten it.` };
    case 'minItems':
      return params.limit === 1
        ? { pointer: at, message: `${field} in ${who} is an empty list; add at least one item${requiredField(s.schema(), e.schemaPath) ? '' : ' or remove the field'}.` }
        : { pointer: at, message: `${field} in ${who} has fewer than ${String(params.limit)} items; add items.` };
    case 'maxItems':
      return { pointer: at, message: `${field} in ${who} has more than ${String(params.limit)} items; remove some.` };
    case 'minProperties':
      return { pointer: at, message: `${field} in ${who} has fewer than ${String(params.limit)} entries; add entries.` };
    case 'maxProperties':
      return { pointer: at, message: `${field} in ${who} has more than ${String(params.limit)} entries; remove some.` };
    case 'uniqueItems': {
      const i = params.i as number;
      const j = params.j as number;
      const later = Math.max(i, j);
      return { pointer: joinPointer(at, later), message: `${field} in ${who} lists ${show(valueAt(s.object, joinPointer(at, later)))} twice (items ${Math.min(i, j)} and ${later}); remove the duplicate.` };
    }
    case 'x-kubernetes-list-map-keys': {
      const i = params.i as number;
      const j = params.j as number;
      let keys: string[] = [];
      try {
        keys = JSON.parse(String(params.keys)) as string[];
      } catch {
        /* keep empty */
      }
      const item = valueAt(s.object, joinPointer(at, i)) as Json | undefined;
      const shown = keys.map((k) => `${k} ${show(item?.[k])}`).join(', ');
      return { pointer: joinPointer(at, i), message: `${field}[${i}] in ${who} repeats the ${shown} of item ${j}; each item of ${field} needs its own ${keys.join(' and ')}.` };
    }
    case 'pattern': {
      const original = parentSchema ?? {};
      const format = typeof original.format === 'string' ? original.format : undefined;
      if (format && FORMAT_WORDS[format]) {
        return { pointer: at, message: `${field} in ${who} is ${describe(value)}, which is not ${FORMAT_WORDS[format]}; fix it.` };
      }
      if (/^\/metadata\/name$/.test(at)) {
        return { pointer: at, message: `metadata.name ${show(value)} of ${who} is not a valid Kubernetes name; use lowercase letters, digits, - and . (at most 253 characters).` };
      }
      if (/^\/metadata\/namespace$/.test(at)) {
        return { pointer: at, message: `metadata.namespace ${show(value)} of ${who} is not a valid namespace; use lowercase letters, digits and - (at most 63 characters).` };
      }
      if (/^\/metadata\/labels\//.test(at)) {
        return { pointer: at, message: `The label value ${show(value)} of ${who} ${where(at)} is not valid; use up to 63 letters, digits, -, _ or ., starting and ending with a letter or digit.` };
      }
      return { pointer: at, message: `${field} in ${who} is ${show(value)}, which does not match the required pattern ${String(params.pattern)}; fix it.` };
    }
    case 'not':
      return { pointer: at, message: `${field} in ${who} has a value or combination of fields that is not allowed here; check the ${s.kind} reference.` };
    case 'x-kubernetes-validations':
    default:
      return { pointer: at, message: `${field || 'The resource'} in ${who} is invalid (${e.keyword}); check the ${s.kind} reference.` };
  }
}
