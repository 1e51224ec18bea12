// Every -o json contract of meshctl (schemas/output/*.json), compiled once into one ajv so that
// schemas can refer to each other (get.json uses status.json's pod).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020Module from 'ajv/dist/2020.js';
import draft7 from 'ajv/dist/refs/json-schema-draft-07.json' with { type: 'json' };
import { ROOT } from './shared.js';

// validate's and diff's contracts are written in draft 2020-12, the others in draft-07: one ajv reads both.
const Ajv = Ajv2020Module.default;
export const OUTPUT_SCHEMAS = path.join(ROOT, 'schemas', 'output');
const BASE = 'https://meshctl.dev/schemas/output/';

const ajv = new Ajv({ allErrors: true });
ajv.addMetaSchema(draft7);
for (const file of readdirSync(OUTPUT_SCHEMAS).filter((f) => f.endsWith('.json'))) {
  ajv.addSchema(JSON.parse(readFileSync(path.join(OUTPUT_SCHEMAS, file), 'utf8')) as object);
}

/** Throws with ajv's errors when `document` does not match schemas/output/`name`.json. */
export function assertOutput(name: string, document: unknown): void {
  const validate = ajv.getSchema(`${BASE}${name}.json`);
  if (!validate) throw new Error(`schemas/output/${name}.json is not there`);
  if (!validate(document)) throw new Error(`${name} output does not match schemas/output/${name}.json: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(document).slice(0, 2000)}`);
}

/** Parses a command's -o json stdout and holds it to its contract; returns the document. */
export function jsonOutput<T = unknown>(name: string, stdout: string): T {
  const document = JSON.parse(stdout) as T;
  assertOutput(name, document);
  return document;
}
