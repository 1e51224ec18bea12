// Typed specs: the generated types of each checked kind (types/, from schemas/ at build time) and the few
// helpers that read a field of user input safely. validate reads invalid input, and every analyzer runs on
// every resource, so a field may be missing or hold a value of another type than its schema says; the
// types say so (each field optional, or `Mistyped`) and the helpers rule that out where a field is used.
import type { Resource } from './load.js';
import type { Mistyped } from './mistyped.js';
import type { SpecByKind } from './types/index.js';

export type * from './types/index.js';
export type { Mistyped, SpecByKind };

/** What objectOf gives for anything but a mapping: one shared empty object (frozen, as callers only read it). */
const NO_OBJECT = Object.freeze({});
/** What listOf gives for anything but a list: one shared empty list (frozen, as callers only read it). */
const NO_LIST: readonly never[] = Object.freeze([]);

/** The spec of a resource of a checked kind, as written: its fields are what the kind's schema names. */
export function specOf<Id extends keyof SpecByKind>(r: Resource, _kindId: Id): SpecByKind[Id] {
  // objectOf's test, written out: analyzers ask for every resource's spec, mostly before the optimizing
  // compiler would inline a call.
  const spec: unknown = r.spec;
  return (spec !== null && typeof spec === 'object' && !Array.isArray(spec) ? spec : NO_OBJECT) as SpecByKind[Id];
}

/**
 * A mapping field: the mapping itself, or an empty one when the field is missing or not a mapping (every
 * field of a generated type is optional, so the empty mapping is a value of the type).
 */
export function objectOf<T extends object>(v: T | Mistyped | null | undefined): T {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as T) : (NO_OBJECT as T);
}

/** A list field: the list itself, or an empty one when the field is missing or not a list. Items may still be mistyped. */
export function listOf<T>(v: readonly T[] | T[] | Mistyped | null | undefined): readonly T[] {
  return Array.isArray(v) ? (v as readonly T[]) : NO_LIST;
}

/** A string field, or `fallback` when it is missing or not a string. */
export function stringOf(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

/** A number field, or undefined when it is missing or not a finite number. */
export function numberOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
