// The -o json contracts of route shift, status, promote and abort (schemas/output/route-*.json), compiled once.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import AjvModule from 'ajv';
import { ROOT } from './shared.js';

const Ajv = AjvModule as unknown as typeof AjvModule.default;
const load = (name: string) => JSON.parse(readFileSync(path.join(ROOT, 'schemas', 'output', name), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true });
ajv.addSchema(load('route-shift-event.json'));

const compiled = {
  event: ajv.getSchema('https://meshctl.dev/schemas/output/route-shift-event.json')!,
  status: ajv.compile(load('route-status.json')),
  control: ajv.compile(load('route-control.json')),
};

/** Throws with ajv's errors when `value` does not match the named contract. */
export function assertContract(kind: keyof typeof compiled, value: unknown): void {
  const validate = compiled[kind];
  if (!validate(value)) throw new Error(`${kind} does not match its schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 2000)}`);
}
