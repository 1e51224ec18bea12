// Pairs the resources of two policy sets by identity (group, kind, namespace, name), never by file or
// order: a resource moved to another file, or listed in another order, is the same resource.
import type { Resource } from '../load.js';
import { resourceKey, type ResourceId } from './model.js';

export interface ResourcePairing {
  /** [old, new], sorted by key. */
  pairs: [Resource, Resource][];
  added: Resource[];
  removed: Resource[];
  /** Keys defined more than once on one side; the last definition is the one compared, as `kubectl apply` would keep it. */
  duplicates: { side: 'old' | 'new'; key: string; resource: Resource }[];
}

export function idOf(r: Resource): ResourceId {
  return { group: r.group, kind: r.kind, namespace: r.namespace, name: r.name };
}

export function keyOf(r: Resource): string {
  return resourceKey(idOf(r));
}

function index(resources: Resource[], side: 'old' | 'new', duplicates: ResourcePairing['duplicates']): Map<string, Resource> {
  const byKey = new Map<string, Resource>();
  for (const r of resources) {
    const key = keyOf(r);
    if (byKey.has(key)) duplicates.push({ side, key, resource: r });
    byKey.set(key, r);
  }
  return byKey;
}

const byKeyOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function pairResources(before: Resource[], after: Resource[]): ResourcePairing {
  const duplicates: ResourcePairing['duplicates'] = [];
  const oldByKey = index(before, 'old', duplicates);
  const newByKey = index(after, 'new', duplicates);
  const pairs: [Resource, Resource][] = [];
  const removed: Resource[] = [];
  const added: Resource[] = [];
  for (const key of [...oldByKey.keys()].sort(byKeyOrder)) {
    const o = oldByKey.get(key)!;
    const n = newByKey.get(key);
    if (n) pairs.push([o, n]);
    else removed.push(o);
  }
  for (const key of [...newByKey.keys()].sort(byKeyOrder)) if (!oldByKey.has(key)) added.push(newByKey.get(key)!);
  return { pairs, added, removed, duplicates };
}
