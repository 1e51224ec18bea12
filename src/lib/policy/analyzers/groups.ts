// How conflict analyzers speak about a group without growing with it: a message names a few members and
// the count, and the group itself (every member, once) travels with the findings.
import { selectorSubset, type Labels } from './workloads.js';

/** How many other members a message names. */
export const NAMED_MEMBERS = 3;

/** Names of other resources are clipped in messages: a long one repeated in every member's message would multiply. */
const NAME_CHARS = 100;

export function clipName(name: string): string {
  return name.length > NAME_CHARS ? `${name.slice(0, NAME_CHARS - 3)}...` : name;
}

/**
 * `1,234`, as `toLocaleString('en-US')` writes it. Whole numbers are grouped here: the first
 * toLocaleString call of a run loads ICU's locale data, about 10 ms, more than a whole analyzer costs.
 */
export function count(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let grouped = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let i = grouped.length; i < digits.length; i += 3) grouped += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${grouped}` : grouped;
}

/**
 * `Gateway a`, `Gateways a and b`, `Gateways a, b and c`, `Gateways a, b, c and 9,997 more`: the first names
 * of `shown` (already in the order to show, at least min(total, NAMED_MEMBERS) of them) out of `total`.
 */
export function fewOf(shown: string[], total: number, singular: string, plural = `${singular}s`): string {
  const names = shown.slice(0, NAMED_MEMBERS).map(clipName);
  const rest = total - names.length;
  const noun = total === 1 ? singular : plural;
  if (rest > 0) return `${noun} ${names.join(', ')} and ${count(rest)} more`;
  if (names.length <= 1) return `${noun} ${names.join('')}`;
  return `${noun} ${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** A list of words (protocols, ports, hosts) of one resource or group, bounded the same way: `a, b, c and 7 more`. */
export function fewWords(words: string[]): string {
  const shown = words.slice(0, NAMED_MEMBERS).map(clipName);
  const rest = words.length - shown.length;
  return rest > 0 ? `${shown.join(', ')} and ${count(rest)} more` : shown.join(', ');
}

/** The first NAMED_MEMBERS names of `sorted` other than `own` (skipped once: two members may share a name). */
export function othersOf(sorted: string[], own: string): string[] {
  const out: string[] = [];
  let skipped = false;
  for (const name of sorted) {
    if (!skipped && name === own) {
      skipped = true;
      continue;
    }
    out.push(name);
    if (out.length === NAMED_MEMBERS) break;
  }
  return out;
}

/** Disjoint sets over 0..n-1: members that conflict, directly or through others, end in one group. */
export class UnionFind {
  private readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
  }

  find(i: number): number {
    let root = i;
    while (this.parent[root] !== root) root = this.parent[root]!;
    while (this.parent[i] !== root) {
      const next = this.parent[i]!;
      this.parent[i] = root;
      i = next;
    }
    return root;
  }

  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

/**
 * Label selectors indexed by their key/value pairs, so that the selectors holding every pair of a given one
 * are found through its rarest pair instead of by comparing every selector with every other.
 */
export class SelectorIndex<T extends { selector: Labels }> {
  private readonly byPair = new Map<string, T[]>();

  constructor(private readonly items: T[]) {
    for (const item of items) {
      for (const [k, v] of Object.entries(item.selector)) {
        const pair = `${k}=${v}`;
        let list = this.byPair.get(pair);
        if (!list) this.byPair.set(pair, (list = []));
        list.push(item);
      }
    }
  }

  /** Items whose selector holds every pair of `selector` (so select only what it selects), in the order given. */
  supersetsOf(selector: Labels): T[] {
    let candidates = this.items;
    for (const [k, v] of Object.entries(selector)) {
      const list = this.byPair.get(`${k}=${v}`) ?? [];
      if (list.length < candidates.length) candidates = list;
    }
    return candidates.filter((c) => selectorSubset(selector, c.selector));
  }
}
