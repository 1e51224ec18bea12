#!/usr/bin/env node
// Generates schemas/<group>.<Kind>.json, the JSON Schema of every kind meshctl checks, from the CRDs that
// define them: Istio's crd-all.gen.yaml and the Gateway API's standard-channel CRDs, read from
// ../shared/reference (relative to the project root; override with MESHCTL_SHARED). The generated files are
// committed, so users never need the CRDs; run `npm run schemas` after updating them.
//
// Which kinds: every KINDS entry of src/lib/policy/kinds.ts that names a `schema` (`networking.istio.io.VirtualService`
// is group `networking.istio.io`, kind `VirtualService`). meshctl's own kinds (meshctl.dev) have hand-written
// schemas and are left alone.
//
// Versions: a CRD serves several versions; their schemas are compared without descriptions. The file
// `<schema>.json` holds the schema of the storage version and of every served version whose schema is the
// same; each served version whose schema differs gets its own `<schema>.<version>.json`. Every file lists
// the apiVersions it covers in `properties.apiVersion.enum`, so lookup is: `<schema>.<version>.json` when it
// exists, else `<schema>.json`.
//
// Conversion from the CRD's openAPIV3Schema (Kubernetes structural schema) to JSON Schema draft-07:
// - fields, types, enums, formats, bounds, patterns and descriptions are kept as they are;
// - `x-kubernetes-int-or-string: true` becomes `type: [integer, string]` (its `anyOf` of the two types is dropped);
// - `nullable: true` adds `null` to the type (and to the enum, when there is one);
// - every object that lists `properties` gets `additionalProperties: false` unless it sets
//   `x-kubernetes-preserve-unknown-fields`, since Kubernetes and Istio reject (or silently drop) unknown fields;
//   value-validation branches (oneOf/anyOf/allOf/not) only constrain, so they are left open;
// - a oneOf/anyOf branch that constrains a field with a `default` requires that field when the default
//   itself fails the branch, because Kubernetes applies defaults before it validates;
// - apiVersion, kind and a Kubernetes ObjectMeta schema for metadata (name, namespace, labels, annotations, ...)
//   are added at the root, where the CRD leaves them to the API server;
// - other `x-kubernetes-*` annotations (list types, CEL rules) are kept as annotations; meshctl ports the rules
//   that matter as code.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.MESHCTL_SHARED ?? path.resolve(root, '..', 'shared');
const outDir = path.join(root, 'schemas');
const crdSources = [path.join(shared, 'reference', 'istio-crds', 'crd-all.gen.yaml'), path.join(shared, 'reference', 'gateway-api-crds')];

const DRAFT = 'http://json-schema.org/draft-07/schema#';

/** Kubernetes ObjectMeta as the API server validates it for custom resources. */
export function objectMetaSchema() {
  const dnsSubdomain = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
  const qualifiedKey = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
  return {
    description: 'Standard Kubernetes object metadata.',
    type: 'object',
    properties: {
      name: { description: 'Name of the resource, unique within its namespace and kind (a DNS subdomain: lowercase letters, digits, - and .).', type: 'string', maxLength: 253, pattern: dnsSubdomain },
      generateName: { description: 'Prefix the API server uses to generate a unique name when name is unset.', type: 'string' },
      namespace: { description: 'Namespace of the resource (a DNS label: lowercase letters, digits and -).', type: 'string', maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
      labels: {
        description: 'Labels used by selectors (app and version are the ones the mesh reads).',
        type: 'object',
        propertyNames: { maxLength: 317, pattern: qualifiedKey },
        additionalProperties: { type: 'string', maxLength: 63, pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$' },
      },
      annotations: {
        description: 'Annotations: arbitrary string metadata, read by tools and by Istio (e.g. sidecar.istio.io/inject).',
        type: 'object',
        propertyNames: { maxLength: 317, pattern: qualifiedKey },
        additionalProperties: { type: 'string' },
      },
      uid: { type: 'string' },
      resourceVersion: { type: 'string' },
      generation: { type: 'integer' },
      creationTimestamp: { type: ['string', 'null'] },
      deletionTimestamp: { type: ['string', 'null'] },
      deletionGracePeriodSeconds: { type: 'integer' },
      selfLink: { type: 'string' },
      finalizers: { type: 'array', items: { type: 'string' } },
      ownerReferences: {
        type: 'array',
        items: {
          type: 'object',
          required: ['apiVersion', 'kind', 'name', 'uid'],
          properties: {
            apiVersion: { type: 'string' },
            kind: { type: 'string' },
            name: { type: 'string' },
            uid: { type: 'string' },
            controller: { type: 'boolean' },
            blockOwnerDeletion: { type: 'boolean' },
          },
          additionalProperties: false,
        },
      },
      managedFields: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
    },
    additionalProperties: false,
  };
}

function isIntOrStringAnyOf(anyOf) {
  return (
    Array.isArray(anyOf) &&
    anyOf.length === 2 &&
    anyOf.every((s) => Object.keys(s).length === 1) &&
    anyOf.some((s) => s.type === 'integer') &&
    anyOf.some((s) => s.type === 'string')
  );
}

/** Checks `value` against the small value schemas found in branches (enum, not, const, type). */
function satisfies(value, schema) {
  if (!schema || typeof schema !== 'object') return true;
  if (schema.enum && !schema.enum.some((e) => e === value)) return false;
  if ('const' in schema && schema.const !== value) return false;
  if (schema.not && satisfies(value, schema.not)) return false;
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const t = value === null ? 'null' : Number.isInteger(value) ? 'integer' : typeof value;
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) return false;
  }
  return true;
}

const stats = { objectsClosed: 0, intOrString: 0, nullable: 0, defaultsInBranches: 0, openObjects: [] };

/**
 * Converts one structural-schema node. `logic` is true inside oneOf/anyOf/allOf/not (value validations),
 * where objects are not closed.
 */
function convert(node, where, logic) {
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case 'properties': {
        const props = {};
        for (const [name, sub] of Object.entries(value)) props[name] = convert(sub, `${where}.${name}`, logic);
        out.properties = props;
        break;
      }
      case 'items':
        out.items = convert(value, `${where}[]`, logic);
        break;
      case 'additionalProperties':
        out.additionalProperties = typeof value === 'object' ? convert(value, `${where}{}`, logic) : value;
        break;
      case 'oneOf':
      case 'anyOf':
      case 'allOf':
        out[key] = value.map((branch) => convert(branch, where, true));
        break;
      case 'not':
        out.not = convert(value, where, true);
        break;
      default:
        out[key] = value;
    }
  }
  if (out['x-kubernetes-int-or-string'] === true) {
    stats.intOrString++;
    if (isIntOrStringAnyOf(out.anyOf)) delete out.anyOf;
    out.type = ['integer', 'string'];
    delete out['x-kubernetes-int-or-string'];
  }
  if (out.nullable === true) {
    stats.nullable++;
    if (out.type !== undefined) {
      const types = Array.isArray(out.type) ? out.type : [out.type];
      if (!types.includes('null')) out.type = [...types, 'null'];
    }
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  }
  delete out.nullable;
  // Kubernetes defaults fields before validating: a branch that rejects the default must see the field.
  for (const key of ['oneOf', 'anyOf']) {
    if (!out[key] || !out.properties) continue;
    for (const branch of out[key]) {
      if (!branch.properties) continue;
      for (const [name, sub] of Object.entries(branch.properties)) {
        const field = out.properties[name];
        if (field && 'default' in field && !satisfies(field.default, sub)) {
          branch.required = [...new Set([...(branch.required ?? []), name])];
          stats.defaultsInBranches++;
        }
      }
    }
  }
  const preserve = out['x-kubernetes-preserve-unknown-fields'] === true;
  if (!logic && out.properties && !preserve && out.additionalProperties === undefined) {
    out.additionalProperties = false;
    stats.objectsClosed++;
  }
  // (The root metadata is replaced by ObjectMeta below.)
  if (!logic && out.type === 'object' && !out.properties && out.additionalProperties === undefined && !preserve && !/^\w+\.metadata$/.test(where)) {
    stats.openObjects.push(where);
  }
  return out;
}

/** The schema text that decides validation: descriptions removed. */
function validationKey(schema) {
  return JSON.stringify(schema, (k, v) => (k === 'description' ? undefined : v));
}

function rootSchema(crd, version, apiVersions, converted) {
  const { group, names } = crd.spec;
  const props = { ...(converted.properties ?? {}) };
  delete props.apiVersion;
  delete props.kind;
  delete props.metadata;
  const required = [...new Set(['apiVersion', 'kind', 'metadata', ...(converted.required ?? [])])];
  const rest = { ...converted };
  delete rest.properties;
  delete rest.required;
  delete rest.type;
  delete rest.additionalProperties;
  delete rest.description;
  return {
    $schema: DRAFT,
    title: `${names.kind} (${group})`,
    description: converted.description ?? `${names.kind} from ${group}, generated from its CustomResourceDefinition (${version.name} schema).`,
    type: 'object',
    required,
    properties: {
      apiVersion: { description: 'API group and version of the resource.', type: 'string', enum: apiVersions },
      kind: { description: 'Kind of the resource.', type: 'string', enum: [names.kind] },
      metadata: objectMetaSchema(),
      ...props,
    },
    additionalProperties: false,
    ...rest,
  };
}

async function readCrds() {
  const files = [];
  for (const src of crdSources) {
    const st = await fs.stat(src).catch(() => null);
    if (!st) throw new Error(`CRD source ${path.relative(root, src)} is missing; set MESHCTL_SHARED to the folder holding reference/.`);
    if (st.isDirectory()) {
      for (const f of (await fs.readdir(src)).sort()) if (/\.ya?ml$/.test(f)) files.push(path.join(src, f));
    } else files.push(src);
  }
  const crds = new Map();
  for (const file of files) {
    for (const doc of loadAll(await fs.readFile(file, 'utf8'))) {
      if (doc?.kind !== 'CustomResourceDefinition') continue;
      crds.set(`${doc.spec.group}.${doc.spec.names.kind}`, doc);
    }
  }
  return crds;
}

async function wantedSchemas() {
  const kindsTs = await fs.readFile(path.join(root, 'src', 'lib', 'policy', 'kinds.ts'), 'utf8');
  return [...kindsTs.matchAll(/schema:\s*'([^']+)'/g)].map((m) => m[1]);
}

function stableJson(value) {
  return JSON.stringify(value, null, 2) + '\n';
}

async function main() {
  const crds = await readCrds();
  const written = [];
  await fs.mkdir(outDir, { recursive: true });
  for (const name of await wantedSchemas()) {
    const crd = crds.get(name);
    if (!crd) {
      if (!name.startsWith('meshctl.dev.')) console.warn(`gen-schemas: no CRD defines ${name}; its schema was not generated.`);
      continue;
    }
    const served = crd.spec.versions.filter((v) => v.served);
    const storage = served.find((v) => v.storage) ?? served[0];
    const ordered = [storage, ...served.filter((v) => v !== storage)];
    const groups = []; // [{ key, versions: [], converted }]
    for (const v of ordered) {
      const converted = convert(v.schema.openAPIV3Schema, `${crd.spec.names.kind}`, false);
      const key = validationKey(converted);
      const same = groups.find((g) => g.key === key);
      if (same) same.versions.push(v);
      else groups.push({ key, versions: [v], converted });
    }
    for (const [i, g] of groups.entries()) {
      // The storage version's group shares the base file; each other version gets its own file.
      const files = i === 0 ? [{ file: `${name}.json`, versions: g.versions }] : g.versions.map((v) => ({ file: `${name}.${v.name}.json`, versions: [v] }));
      for (const { file, versions } of files) {
        const apiVersions = versions.map((v) => `${crd.spec.group}/${v.name}`);
        await fs.writeFile(path.join(outDir, file), stableJson(rootSchema(crd, versions[0], apiVersions, g.converted)));
        written.push(`${file} (${apiVersions.join(', ')})`);
      }
    }
  }
  console.log(`gen-schemas: wrote ${written.length} schemas:\n  ${written.join('\n  ')}`);
  console.log(
    `gen-schemas: closed ${stats.objectsClosed} objects, converted ${stats.intOrString} int-or-string and ${stats.nullable} nullable fields, ` +
      `applied ${stats.defaultsInBranches} defaults to branches.`,
  );
  if (stats.openObjects.length) console.log(`gen-schemas: objects without listed fields (kept open): ${[...new Set(stats.openObjects)].join(", ")}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`gen-schemas: ${err.message}`);
    process.exitCode = 1;
  });
}
