// Field-level changes between the canonical forms of two versions of one resource, reported as JSON
// pointers with the values as written. Sets and maps are compared by membership and key, routes in order.
import { joinPointer, pointerSegments } from '../locate.js';
import { Canonical, leafText, stableKey, strategyOf } from './canonical.js';
import { pairRoutes, routeIdentity } from './routes.js';
import type { FieldChange } from './model.js';

export interface FieldDiff {
  fields: FieldChange[];
  /** Pointers of route lists whose order changed. */
  reordered: string[];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Canonical);
}

/** The value at `pointer` in `root` as written; null when absent. */
export function valueAt(root: unknown, pointer: string | null): unknown {
  if (pointer === null) return null;
  let v: unknown = root;
  for (const seg of pointerSegments(pointer)) {
    if (Array.isArray(v)) v = v[Number(seg)];
    else if (v !== null && typeof v === 'object') v = (v as Obj)[seg];
    else return null;
    if (v === undefined) return null;
  }
  return v ?? null;
}

class FieldWalker {
  readonly fields: FieldChange[] = [];
  readonly reordered: string[] = [];

  constructor(
    private readonly oldRaw: unknown,
    private readonly newRaw: unknown,
    private readonly gatewayApi: boolean,
  ) {}

  private push(path: string, oldPtr: string | null, newPtr: string | null): void {
    this.fields.push({ path, from: valueAt(this.oldRaw, oldPtr), to: valueAt(this.newRaw, newPtr) });
  }

  walk(a: unknown, b: unknown, oldPtr: string | null, newPtr: string | null): void {
    if (a === undefined && b === undefined) return;
    // One side is absent in meaning; the other may still have written the default there (tls.mode: DISABLE).
    if (a === undefined || a === null) {
      if (b !== undefined && b !== null) this.push(newPtr!, oldPtr, newPtr);
      return;
    }
    if (b === undefined || b === null) {
      const written = newPtr !== null && valueAt(this.newRaw, newPtr) !== null;
      this.push(written ? newPtr! : oldPtr!, oldPtr, newPtr);
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) return this.list(a, b, oldPtr!, newPtr!);
    if (isObj(a) && isObj(b)) {
      if (stableKey(a) === stableKey(b)) return;
      const keys = [...Object.keys(a), ...Object.keys(b).filter((k) => !(k in a))];
      for (const k of keys) this.walk(a[k], b[k], joinPointer(oldPtr!, k), joinPointer(newPtr!, k));
      return;
    }
    const scalarA = !Array.isArray(a) && !isObj(a);
    const scalarB = !Array.isArray(b) && !isObj(b);
    if (scalarA && scalarB && typeof (a instanceof Canonical ? a.key : a) === typeof (b instanceof Canonical ? b.key : b) && leafText(a) === leafText(b)) return;
    this.push(newPtr!, oldPtr, newPtr);
  }

  private list(a: unknown[], b: unknown[], oldPtr: string, newPtr: string): void {
    const strategy = strategyOf(b);
    switch (strategy.type) {
      case 'set':
        return this.set(a, b, oldPtr, newPtr);
      case 'map': {
        const ka = a.map(strategy.key);
        const kb = b.map(strategy.key);
        const usable = (keys: (string | undefined)[]) => keys.every((k) => k !== undefined) && new Set(keys).size === keys.length;
        if (!usable(ka) || !usable(kb)) return this.ordered(a, b, oldPtr, newPtr);
        const newIndex = new Map(kb.map((k, j) => [k!, j]));
        const seen = new Set<number>();
        ka.forEach((k, i) => {
          const j = newIndex.get(k!);
          if (j === undefined) this.push(joinPointer(oldPtr, i), joinPointer(oldPtr, i), null);
          else {
            seen.add(j);
            this.walk(a[i], b[j], joinPointer(oldPtr, i), joinPointer(newPtr, j));
          }
        });
        b.forEach((_, j) => {
          if (!seen.has(j)) this.push(joinPointer(newPtr, j), null, joinPointer(newPtr, j));
        });
        return;
      }
      case 'routes': {
        const pairing = pairRoutes(a.map((r) => routeIdentity(r, this.gatewayApi)), b.map((r) => routeIdentity(r, this.gatewayApi)));
        if (pairing.reordered) {
          this.reordered.push(newPtr);
          this.fields.push({
            path: newPtr,
            from: a.map((r) => routeIdentity(r, this.gatewayApi).label),
            to: b.map((r) => routeIdentity(r, this.gatewayApi).label),
          });
        }
        for (const [i, j] of pairing.pairs) this.walk(a[i], b[j], joinPointer(oldPtr, i), joinPointer(newPtr, j));
        for (const i of pairing.removed) this.push(joinPointer(oldPtr, i), joinPointer(oldPtr, i), null);
        for (const j of pairing.added) this.push(joinPointer(newPtr, j), null, joinPointer(newPtr, j));
        return;
      }
      default:
        return this.ordered(a, b, oldPtr, newPtr);
    }
  }

  private ordered(a: unknown[], b: unknown[], oldPtr: string, newPtr: string): void {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (i >= a.length) this.push(joinPointer(newPtr, i), null, joinPointer(newPtr, i));
      else if (i >= b.length) this.push(joinPointer(oldPtr, i), joinPointer(oldPtr, i), null);
      else this.walk(a[i], b[i], joinPointer(oldPtr, i), joinPointer(newPtr, i));
    }
  }

  private set(a: unknown[], b: unknown[], oldPtr: string, newPtr: string): void {
    const ka = a.map(stableKey);
    const kb = b.map(stableKey);
    if (a.every((x) => !Array.isArray(x) && !isObj(x)) && b.every((x) => !Array.isArray(x) && !isObj(x))) {
      // A set of scalars reads best whole: hosts [a, b] → [a, c].
      if ([...new Set(ka)].sort().join('\n') !== [...new Set(kb)].sort().join('\n')) this.push(newPtr, oldPtr, newPtr);
      return;
    }
    const inA = new Set(ka);
    const inB = new Set(kb);
    ka.forEach((k, i) => {
      if (!inB.has(k)) this.push(joinPointer(oldPtr, i), joinPointer(oldPtr, i), null);
    });
    kb.forEach((k, j) => {
      if (!inA.has(k)) this.push(joinPointer(newPtr, j), null, joinPointer(newPtr, j));
    });
  }
}

/**
 * Changes between two canonical resources. `oldRaw`/`newRaw` are the resources as written (pointers
 * resolve in them); `gatewayApi` says how to read route matches.
 */
export function diffFields(oldCanon: unknown, newCanon: unknown, oldRaw: unknown, newRaw: unknown, gatewayApi = false): FieldDiff {
  const walker = new FieldWalker(oldRaw, newRaw, gatewayApi);
  walker.walk(oldCanon, newCanon, '', '');
  return { fields: walker.fields, reordered: walker.reordered };
}
