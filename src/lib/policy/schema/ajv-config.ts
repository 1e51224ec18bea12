// One ajv configuration for both places that compile schemas/*.json: the build step that writes standalone
// validators (scripts/gen-validators.mjs) and the run-time fallback when those are missing or stale.
// ajv is loaded with require, lazily: nothing here runs unless a schema is actually compiled.
import { createRequire } from 'node:module';
import type { Ajv, KeywordCxt, Options, AnySchemaObject } from 'ajv';

const require = createRequire(import.meta.url);

/** Kubernetes annotations kept in the schemas; ajv treats them as annotations, except the list-map keys. */
export const ANNOTATION_KEYWORDS = [
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
];

export const AJV_OPTIONS: Options = {
  allErrors: true,
  strict: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  allowUnionTypes: true,
  validateFormats: false,
  // meshctl writes its own messages from the error's keyword and params.
  messages: false,
  // JSON Schema defaults are annotations here: Kubernetes applies them, meshctl never rewrites input.
  useDefaults: false,
  // Definitions (see split) stay functions of their own.
  inlineRefs: false,
};

// Formats of Kubernetes structural schemas, checked by pattern (standalone code cannot carry format functions).
const IPV4 = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}';
const H16 = '[0-9A-Fa-f]{1,4}';
const IPV6 =
  `(` +
  `(${H16}:){7}${H16}|` +
  `(${H16}:){1,7}:|` +
  `(${H16}:){1,6}:${H16}|` +
  `(${H16}:){1,5}(:${H16}){1,2}|` +
  `(${H16}:){1,4}(:${H16}){1,3}|` +
  `(${H16}:){1,3}(:${H16}){1,4}|` +
  `(${H16}:){1,2}(:${H16}){1,5}|` +
  `${H16}:(:${H16}){1,6}|` +
  `:((:${H16}){1,7}|:)|` +
  `(${H16}:){6}${IPV4}|` +
  `::(ffff(:0{1,4})?:)?${IPV4}|` +
  `(${H16}:){1,5}:${IPV4}` +
  `)`;

export const FORMAT_PATTERNS: Record<string, string> = {
  ipv4: `^${IPV4}$`,
  ipv6: `^${IPV6}$`,
  byte: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$',
  'date-time': '^\\d{4}-\\d{2}-\\d{2}[Tt ]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?([Zz]|[+-]\\d{2}:\\d{2})$',
};

/** Human words for formats, used in messages. */
export const FORMAT_WORDS: Record<string, string> = {
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  byte: 'base64-encoded bytes',
  'date-time': 'an RFC 3339 date-time',
  int32: 'a 32-bit integer',
};

const INT32 = { minimum: -2147483648, maximum: 2147483647 };

/**
 * Rewrites a schema node for ajv without changing what it accepts: descriptions go, formats become
 * patterns or bounds (a format becomes a sibling pattern, so keyword paths stay those of the committed
 * schema), and `x-kubernetes-list-type: set` becomes uniqueItems.
 */
export function prepareNode(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(prepareNode);
  if (!node || typeof node !== 'object') return node;
  return prepareKeywords(node as Record<string, unknown>, prepareNode);
}

/**
 * prepareNode of one node, with `sub` applied to each value that may hold subschemas: prepareNode for a
 * whole tree, or the value as written, for a reader that prepares each subschema when it gets to it.
 */
export function prepareKeywords(node: Record<string, unknown>, sub: (value: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'description' || key === 'title' || key === '$schema') continue;
    if (key === 'enum' || key === 'default' || key === 'const' || key === 'required' || key === 'x-kubernetes-validations' || key === 'x-kubernetes-list-map-keys') {
      out[key] = value;
    } else if (key === 'properties') {
      const props: Record<string, unknown> = {};
      for (const [name, schema] of Object.entries(value as Record<string, unknown>)) props[name] = sub(schema);
      out[key] = props;
    } else {
      out[key] = sub(value);
    }
  }
  const format = out.format;
  if (typeof format === 'string') {
    delete out.format;
    const pattern = FORMAT_PATTERNS[format];
    if (pattern) {
      if (out.pattern === undefined) out.pattern = pattern;
      else out.allOf = [...((out.allOf as unknown[]) ?? []), { pattern }];
    } else if (format === 'int32') {
      if (out.minimum === undefined) out.minimum = INT32.minimum;
      if (out.maximum === undefined) out.maximum = INT32.maximum;
    }
  }
  if (out['x-kubernetes-list-type'] === 'set' && out.uniqueItems === undefined) out.uniqueItems = true;
  return out;
}

/** Subschemas larger than this (as JSON) become definitions of their own, compiled to their own function. */
const SPLIT_SIZE = 1500;

/**
 * Moves large field schemas into `definitions` (identical ones shared), so ajv emits many small functions
 * V8 can optimize instead of one that is too large to. Only fields reached through properties, items and
 * additionalProperties move, never parts of oneOf/anyOf/allOf/not; ajv then reports errors inside a
 * definition with paths relative to it, which explain.ts anchors again by the error's data path.
 */
function split(root: Record<string, unknown>): Record<string, unknown> {
  const definitions: Record<string, unknown> = {};
  const byText = new Map<string, string>();
  const visit = (node: unknown, isRoot: boolean): unknown => {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return node;
    const n = { ...(node as Record<string, unknown>) };
    if (n.properties && typeof n.properties === 'object') {
      const props: Record<string, unknown> = {};
      for (const [name, sub] of Object.entries(n.properties as Record<string, unknown>)) props[name] = visit(sub, false);
      n.properties = props;
    }
    if (n.items && typeof n.items === 'object' && !Array.isArray(n.items)) n.items = visit(n.items, false);
    if (n.additionalProperties && typeof n.additionalProperties === 'object') n.additionalProperties = visit(n.additionalProperties, false);
    if (isRoot) return n;
    const text = JSON.stringify(n);
    if (text.length < SPLIT_SIZE) return n;
    let name = byText.get(text);
    if (!name) {
      name = `d${byText.size}`;
      byText.set(text, name);
      definitions[name] = n;
    }
    return { $ref: `#/definitions/${name}` };
  };
  const out = visit(root, true) as Record<string, unknown>;
  if (byText.size) out.definitions = definitions;
  return out;
}

/** The schema ajv compiles from a committed schema. */
export function prepareSchema(schema: unknown): unknown {
  return split(prepareNode(schema) as Record<string, unknown>);
}

type AjvModule = { Ajv: typeof Ajv; _: typeof import('ajv')._ };

let ajvModule: AjvModule | undefined;
function ajvLib(): AjvModule {
  ajvModule ??= require('ajv') as AjvModule;
  return ajvModule;
}

/** `x-kubernetes-list-type: map`: no two items may share the values of `x-kubernetes-list-map-keys`. */
function listMapKeysKeyword() {
  const { _ } = ajvLib();
  return {
    keyword: 'x-kubernetes-list-map-keys',
    type: 'array' as const,
    schemaType: 'array' as const,
    error: {
      message: 'must not have two items with the same keys',
      params: ({ params }: { params: Record<string, unknown> }) => _`{i: ${params.i as never}, j: ${params.j as never}, keys: ${params.keys as never}}`,
    },
    code(cxt: KeywordCxt) {
      const { gen, data, schema, parentSchema } = cxt;
      const keys = schema as string[];
      if (!Array.isArray(keys) || keys.length === 0 || (parentSchema as AnySchemaObject)['x-kubernetes-list-type'] !== 'map') return;
      const valid = gen.let('valid', true);
      const i = gen.let('i');
      const j = gen.let('j');
      cxt.setParams({ i, j, keys: _`${JSON.stringify(keys)}` });
      const seen = gen.const('seen', _`new Map()`);
      gen.forRange('k', 0, _`${data}.length`, (k) => {
        const item = gen.const('item', _`${data}[${k}]`);
        gen.if(_`${item} && typeof ${item} == "object"`, () => {
          let parts = _``;
          keys.forEach((key, n) => {
            parts = n === 0 ? _`${item}[${key}]` : _`${parts}, ${item}[${key}]`;
          });
          const id = gen.const('id', _`JSON.stringify([${parts}])`);
          gen.if(
            _`${seen}.has(${id})`,
            () => {
              gen.assign(i, k);
              gen.assign(j, _`${seen}.get(${id})`);
              gen.assign(valid, false);
              cxt.error();
            },
            () => gen.code(_`${seen}.set(${id}, ${k})`),
          );
        });
      });
      cxt.ok(valid);
    },
  };
}

/** A configured ajv instance; `standalone` adds the options that make it emit module source. */
export function createAjv(standalone = false): Ajv {
  const { Ajv: AjvCtor } = ajvLib();
  const ajv = new AjvCtor({ ...AJV_OPTIONS, ...(standalone ? { code: { source: true, lines: false } } : {}) });
  ajv.addVocabulary(ANNOTATION_KEYWORDS);
  ajv.addKeyword(listMapKeysKeyword());
  return ajv;
}
