// The -o json contracts of route shift, status, promote and abort (schemas/output/route-*.json).
import { assertOutput } from './output-schemas.js';

const SCHEMA = { event: 'route-shift-event', status: 'route-status', control: 'route-control' } as const;

/** Throws with ajv's errors when `value` does not match the named contract. */
export function assertContract(kind: keyof typeof SCHEMA, value: unknown): void {
  assertOutput(SCHEMA[kind], value);
}
