// A yes/no schema check for the common case, valid input: one small recursive function over a compiled
// form of the schema, with no allocation on success. It gets hot within a few resources, where ajv's
// large generated code spends thousands of resources in the interpreter. It only ever answers "valid"
// when the schema holds; any doubt (a keyword it does not know) answers "not sure", and ajv then decides
// and explains. Both read the same prepared schema (ajv-config.ts), and the tests compare their verdicts.
// A field's schema is compiled when a value first has the field: a run meets a small part of a large CRD
// schema (a DestinationRule's repeats its traffic policy for every subset and port), so the rest is never
// prepared or compiled.

const NULL = 1;
const BOOL = 2;
const INT = 4;
const NUM = 8;
const STR = 16;
const ARR = 32;
const OBJ = 64;

const TYPE_BITS: Record<string, number> = { null: NULL, boolean: BOOL, integer: INT, number: NUM | INT, string: STR, array: ARR, object: OBJ };

/** Keywords that do not constrain values (annotations), or that the compiled form covers. */
const KNOWN = new Set([
  'type', 'enum', 'properties', 'required', 'additionalProperties', 'propertyNames', 'items', 'minimum', 'maximum', 'exclusiveMinimum',
  'exclusiveMaximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties', 'oneOf',
  'anyOf', 'allOf', 'not', 'x-kubernetes-list-map-keys', 'description', 'title', 'default', '$schema', 'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type', 'x-kubernetes-map-type', 'x-kubernetes-validations', 'const',
]);

/** Every node has the same fields, so the checker sees one shape. */
interface Node {
  opaque: boolean;
  types: number;
  en: Set<unknown> | null;
  /** The fields' schemas as written; each compiled into `props` when a value first has that field. */
  fields: Record<string, unknown> | null;
  props: Map<string, Node> | null;
  required: string[] | null;
  closed: boolean;
  additional: Node | null;
  names: Node | null;
  items: Node | null;
  min: number;
  max: number;
  xmin: number;
  xmax: number;
  minLength: number;
  maxLength: number;
  re: RegExp | null;
  minItems: number;
  maxItems: number;
  unique: boolean;
  mapKeys: string[] | null;
  minProps: number;
  maxProps: number;
  oneOf: Node[] | null;
  anyOf: Node[] | null;
  allOf: Node[] | null;
  not: Node | null;
  /** Has allOf, anyOf, oneOf or not. */
  logic: boolean;
  /** True for `{type: string}` and nothing else that constrains: the most common field, checked inline. */
  plainString: boolean;
  /** How this node's field schemas are prepared when compiled (set with `fields`). */
  prepare: Prepare | null;
}

/** Prepares one schema node for reading (ajv-config.ts's prepareKeywords), leaving its subschemas as written. */
type Prepare = (node: Record<string, unknown>) => Record<string, unknown>;

function compile(schema: unknown, prepare: Prepare): Node {
  const s = schema && typeof schema === 'object' && !Array.isArray(schema) ? prepare(schema as Record<string, unknown>) : ((schema && typeof schema === 'object' ? schema : {}) as Record<string, unknown>);
  const sub = (x: unknown): Node => compile(x, prepare);
  const node: Node = {
    opaque: false, types: 0, en: null, fields: null, props: null, required: null, closed: false, additional: null, names: null, items: null,
    min: -Infinity, max: Infinity, xmin: -Infinity, xmax: Infinity, minLength: 0, maxLength: Infinity, re: null, minItems: 0,
    maxItems: Infinity, unique: false, mapKeys: null, minProps: 0, maxProps: Infinity, oneOf: null, anyOf: null, allOf: null, not: null, logic: false,
    plainString: false, prepare: null,
  };
  if (typeof schema === 'boolean') {
    node.opaque = !schema;
    return node;
  }
  for (const key of Object.keys(s)) if (!KNOWN.has(key)) node.opaque = true;
  if (s.type !== undefined) {
    for (const t of Array.isArray(s.type) ? s.type : [s.type]) {
      const bits = TYPE_BITS[t as string];
      if (bits === undefined) node.opaque = true;
      else node.types |= bits;
    }
  }
  if ('const' in s) node.en = new Set([s.const]);
  if (Array.isArray(s.enum)) {
    if (s.enum.some((v) => v !== null && typeof v === 'object')) node.opaque = true;
    node.en = new Set(s.enum);
  }
  if (s.properties && typeof s.properties === 'object') {
    node.fields = s.properties as Record<string, unknown>;
    node.props = new Map();
    node.prepare = prepare;
  }
  if (Array.isArray(s.required) && s.required.length) node.required = s.required as string[];
  if (s.additionalProperties === false) node.closed = true;
  else if (s.additionalProperties && typeof s.additionalProperties === 'object') node.additional = sub(s.additionalProperties);
  if (s.propertyNames !== undefined) node.names = sub(s.propertyNames);
  if (s.items !== undefined) {
    if (Array.isArray(s.items)) node.opaque = true;
    else node.items = sub(s.items);
  }
  if (typeof s.minimum === 'number') node.min = s.minimum;
  if (typeof s.maximum === 'number') node.max = s.maximum;
  if (typeof s.exclusiveMinimum === 'number') node.xmin = s.exclusiveMinimum;
  if (typeof s.exclusiveMaximum === 'number') node.xmax = s.exclusiveMaximum;
  if (typeof s.minLength === 'number') node.minLength = s.minLength;
  if (typeof s.maxLength === 'number') node.maxLength = s.maxLength;
  if (typeof s.pattern === 'string') node.re = new RegExp(s.pattern, 'u');
  if (typeof s.minItems === 'number') node.minItems = s.minItems;
  if (typeof s.maxItems === 'number') node.maxItems = s.maxItems;
  if (s.uniqueItems === true) node.unique = true;
  if (Array.isArray(s['x-kubernetes-list-map-keys']) && s['x-kubernetes-list-type'] === 'map') node.mapKeys = s['x-kubernetes-list-map-keys'] as string[];
  if (typeof s.minProperties === 'number') node.minProps = s.minProperties;
  if (typeof s.maxProperties === 'number') node.maxProps = s.maxProperties;
  if (Array.isArray(s.oneOf)) node.oneOf = s.oneOf.map(sub);
  if (Array.isArray(s.anyOf)) node.anyOf = s.anyOf.map(sub);
  if (Array.isArray(s.allOf)) node.allOf = s.allOf.map(sub);
  if (s.not !== undefined) node.not = sub(s.not);
  node.logic = node.allOf !== null || node.anyOf !== null || node.oneOf !== null || node.not !== null;
  node.plainString = !node.opaque && node.types === STR && node.en === null && node.minLength === 0 && node.maxLength === Infinity && node.re === null && !node.logic;
  return node;
}

/** Length in code points, as JSON Schema (and ajv) count it. */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

function typeOf(v: unknown): number {
  if (v === null) return NULL;
  switch (typeof v) {
    case 'boolean':
      return BOOL;
    case 'number':
      return Number.isInteger(v) ? INT | NUM : Number.isFinite(v) ? NUM : 0;
    case 'string':
      return STR;
    case 'object':
      return Array.isArray(v) ? ARR : OBJ;
    default:
      return 0;
  }
}

function check(n: Node, v: unknown): boolean {
  if (n.opaque) return false;
  const t = typeOf(v);
  if (n.types !== 0 && (n.types & t) === 0) return false;
  if (n.en !== null && !n.en.has(v)) return false;
  if (t === OBJ) {
    if (!checkObject(n, v as Record<string, unknown>)) return false;
  } else if (t === STR) {
    if (!checkString(n, v as string)) return false;
  } else if (t === ARR) {
    if (!checkArray(n, v as unknown[])) return false;
  } else if ((t & NUM) !== 0) {
    const x = v as number;
    if (x < n.min || x > n.max || x <= n.xmin || x >= n.xmax) return false;
  }
  return n.logic ? checkLogic(n, v) : true;
}

function checkString(n: Node, s: string): boolean {
  if (n.minLength > 0 || n.maxLength !== Infinity) {
    // A string has between half its UTF-16 length and its length in code points: count only when that range
    // does not settle it.
    const units = s.length;
    if (units > n.maxLength || (units + 1) >> 1 < n.minLength) {
      const len = codePoints(s);
      if (len < n.minLength || len > n.maxLength) return false;
    }
  }
  return n.re === null || n.re.test(s);
}

function checkObject(n: Node, o: Record<string, unknown>): boolean {
  const req = n.required;
  if (req !== null) {
    for (let i = 0; i < req.length; i++) if (o[req[i]!] === undefined) return false;
  }
  const props = n.props;
  let count = 0;
  for (const k in o) {
    count++;
    let sub: Node | undefined;
    if (props !== null) {
      sub = props.get(k);
      if (sub === undefined && Object.hasOwn(n.fields!, k)) sub = compileField(n, props, k);
    }
    if (sub !== undefined) {
      const value = o[k];
      if (value !== undefined && (sub.plainString ? typeof value !== 'string' : !check(sub, value))) return false;
    } else if (n.closed) return false;
    else if (n.additional !== null && (n.additional.plainString ? typeof o[k] !== 'string' : !check(n.additional, o[k]))) return false;
    if (n.names !== null && !check(n.names, k)) return false;
  }
  return count >= n.minProps && count <= n.maxProps;
}

/** Compiles the schema of field `k` on its first use, for every later value that has the field. */
function compileField(n: Node, props: Map<string, Node>, k: string): Node {
  const compiled = compile(n.fields![k], n.prepare!);
  props.set(k, compiled);
  return compiled;
}

function checkArray(n: Node, a: unknown[]): boolean {
  if (a.length < n.minItems || a.length > n.maxItems) return false;
  const items = n.items;
  if (items !== null) {
    if (items.plainString) {
      for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'string') return false;
    } else {
      for (let i = 0; i < a.length; i++) if (!check(items, a[i])) return false;
    }
  }
  if (n.unique && a.length > 1) {
    const seen = new Set<unknown>();
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if ((x !== null && typeof x === 'object') || seen.has(x)) return false;
      seen.add(x);
    }
  }
  if (n.mapKeys !== null && a.length > 1) {
    const seen = new Set<string>();
    for (let i = 0; i < a.length; i++) {
      const item = a[i];
      if (item === null || typeof item !== 'object') continue;
      const key = JSON.stringify(n.mapKeys.map((k) => (item as Record<string, unknown>)[k]));
      if (seen.has(key)) return false;
      seen.add(key);
    }
  }
  return true;
}

function checkLogic(n: Node, v: unknown): boolean {
  if (n.allOf !== null) {
    for (let i = 0; i < n.allOf.length; i++) if (!check(n.allOf[i]!, v)) return false;
  }
  if (n.anyOf !== null) {
    let any = false;
    for (let i = 0; i < n.anyOf.length && !any; i++) any = check(n.anyOf[i]!, v);
    if (!any) return false;
  }
  if (n.oneOf !== null) {
    let passing = 0;
    for (let i = 0; i < n.oneOf.length && passing < 2; i++) if (check(n.oneOf[i]!, v)) passing++;
    if (passing !== 1) return false;
  }
  return n.not === null || !check(n.not, v);
}

/**
 * A checker for a schema as committed (without definitions), each node read through `prepare`: true only
 * when `data` surely satisfies it.
 */
export function compileFastCheck(schema: unknown, prepare: Prepare): (data: unknown) => boolean {
  const root = compile(schema, prepare);
  return (data) => check(root, data);
}
