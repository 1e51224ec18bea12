// Finds the validator for a kind and API version, synchronously and only for the kinds present:
// the standalone module written at build time (dist/validators/<schema>.cjs) when it is there and not older
// than its schema, else the schema compiled with ajv on first use. Schemas are `<schema>.json`, with
// `<schema>.<version>.json` for an API version whose schema differs (see scripts/gen-schemas.mjs).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import { createAjv, prepareKeywords, prepareSchema } from './ajv-config.js';
import { compileFastCheck } from './fast-check.js';

const require = createRequire(import.meta.url);

export interface ValidateFn {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

export interface SchemaEntry {
  /** File name of the schema, without .json. */
  name: string;
  /** Fast yes/no: true only when the data surely satisfies the schema (see fast-check.ts). */
  accepts(data: unknown): boolean;
  /** ajv's validator, loaded on first use: the verdict that counts, and the errors. */
  validate(data: unknown): boolean;
  /** The errors of the last validate() call. */
  errors(): ErrorObject[];
  /** The committed schema, read on first need (messages use it). */
  schema(): Record<string, unknown>;
}

let rootDir: string | undefined;
/** The package root: the nearest folder above this module holding package.json and schemas/. */
export function packageRoot(): string {
  if (rootDir) return rootDir;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'schemas'))) return (rootDir = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error('meshctl cannot find its schemas/ folder; reinstall meshctl.');
    dir = up;
  }
}

export function schemaDir(): string {
  return path.join(packageRoot(), 'schemas');
}

function validatorDir(): string {
  return path.join(packageRoot(), 'dist', 'validators');
}

const entries = new Map<string, SchemaEntry | null>();

const asWritten = (value: unknown): unknown => value;
/** One schema node prepared as ajv reads it, its subschemas left for the fast check to prepare as it reaches them. */
const prepareOneNode = (node: Record<string, unknown>): Record<string, unknown> => prepareKeywords(node, asWritten);

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

function load(name: string): SchemaEntry | null {
  const schemaFile = path.join(schemaDir(), `${name}.json`);
  const schemaTime = mtime(schemaFile);
  if (schemaTime < 0) return null;
  let parsed: Record<string, unknown> | undefined;
  const schema = () => (parsed ??= JSON.parse(readFileSync(schemaFile, 'utf8')) as Record<string, unknown>);
  let fast: ((data: unknown) => boolean) | undefined;
  let full: ValidateFn | undefined;
  const ajvValidator = (): ValidateFn => {
    if (full) return full;
    const moduleFile = path.join(validatorDir(), `${name}.cjs`);
    full = mtime(moduleFile) >= schemaTime
      ? (require(moduleFile) as ValidateFn)
      : (createAjv().compile(prepareSchema(schema()) as object) as ValidateFn);
    return full;
  };
  return {
    name,
    schema,
    accepts(data) {
      fast ??= compileFastCheck(schema(), prepareOneNode);
      return fast(data);
    },
    validate(data) {
      return ajvValidator()(data);
    },
    errors() {
      return full?.errors ?? [];
    },
  };
}

/** The schema and validator for `schemaName` (KindInfo.schema) at `version`; undefined when there is none. */
export function schemaFor(schemaName: string, version: string): SchemaEntry | undefined {
  const key = `${schemaName}@${version}`;
  let entry = entries.get(key);
  if (entry === undefined) {
    entry = (version ? byName(`${schemaName}.${version}`) : null) ?? byName(schemaName);
    entries.set(key, entry);
  }
  return entry ?? undefined;
}

function byName(name: string): SchemaEntry | null {
  let entry = entries.get(name);
  if (entry === undefined) {
    entry = load(name);
    entries.set(name, entry);
  }
  return entry;
}
