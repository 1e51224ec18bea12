// Routes as a reviewer names them — by name, by match, or `default` — and how the routes of two versions
// pair up: by name, then by match, then (for unnamed routes whose match changed) by their order.
import { Canonical, leafText, stableKey } from './canonical.js';

export interface RouteIdentity {
  id: string;
  named: boolean;
  label: string;
  /** The route takes every request (no match). */
  catchAll: boolean;
}

export interface RoutePairing {
  /** [old index, new index] */
  pairs: [number, number][];
  removed: number[];
  added: number[];
  /** The routes present in both versions are not in the same relative order. */
  reordered: boolean;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Canonical);
}

function text(v: unknown): string {
  if (Array.isArray(v)) return v.map(text).join(',');
  if (isObj(v)) return stableKey(v);
  return v instanceof Canonical ? String(v.raw) : leafText(v);
}

/** `exact jason`, `prefix /api`, `regex ^/v[12]`. */
function stringMatch(v: unknown): string {
  if (!isObj(v)) return text(v);
  return Object.entries(v)
    .map(([op, x]) => `${op} ${text(x)}`)
    .join(' ');
}

function istioCondition(key: string, v: unknown): string | undefined {
  switch (key) {
    case 'name':
      return undefined;
    case 'uri':
    case 'scheme':
    case 'method':
    case 'authority':
      return `${key} ${stringMatch(v)}`;
    case 'headers':
    case 'queryParams':
    case 'withoutHeaders':
      return isObj(v)
        ? Object.entries(v)
            .map(([name, m]) => `${key === 'withoutHeaders' ? 'without header' : key === 'headers' ? 'header' : 'query'} ${name} ${stringMatch(m)}`)
            .join(' and ')
        : `${key} ${text(v)}`;
    case 'sourceLabels':
      return isObj(v) ? `source ${Object.entries(v).map(([k, x]) => `${k}=${text(x)}`).join(',')}` : `source ${text(v)}`;
    case 'ignoreUriCase':
      return v === true ? 'ignoring uri case' : undefined;
    default:
      return `${key} ${text(v)}`;
  }
}

function gatewayApiCondition(key: string, v: unknown): string | undefined {
  switch (key) {
    case 'path':
      return isObj(v) ? `path ${text(v.type ?? 'PathPrefix')} ${text(v.value)}` : `path ${text(v)}`;
    case 'headers':
    case 'queryParams':
      return Array.isArray(v)
        ? v.map((h) => (isObj(h) ? `${key === 'headers' ? 'header' : 'query'} ${text(h.name)} ${text(h.type ?? 'Exact')} ${text(h.value)}` : text(h))).join(' and ')
        : `${key} ${text(v)}`;
    case 'method':
      return isObj(v) ? `method ${[v.service, v.method].filter((x) => x !== undefined).map(text).join('/')}` : `method ${text(v)}`;
    default:
      return `${key} ${text(v)}`;
  }
}

/** The match part of a route's label: conditions joined with `and`, alternatives with `or`. */
export function matchLabel(matches: unknown, gatewayApi = false): string {
  if (!Array.isArray(matches) || matches.length === 0) return '';
  return matches
    .map((m) => {
      if (!isObj(m)) return text(m);
      const parts = Object.entries(m)
        .map(([k, v]) => (gatewayApi ? gatewayApiCondition(k, v) : istioCondition(k, v)))
        .filter((p): p is string => !!p);
      return parts.length ? parts.join(' and ') : 'any request';
    })
    .join(' or ');
}

/** A route's identity and label, from its canonical form (VirtualService http/tcp/tls, or Gateway API rule). */
export function routeIdentity(route: unknown, gatewayApi = false): RouteIdentity {
  const r = isObj(route) ? route : {};
  const matches = gatewayApi ? r.matches : r.match;
  const name = typeof r.name === 'string' && r.name ? r.name : undefined;
  const label = matchLabel(matches, gatewayApi);
  const catchAll = matches === undefined;
  if (name) return { id: `n:${name}`, named: true, label: name, catchAll };
  return { id: `m:${matches === undefined ? '' : stableKey(matches)}`, named: false, label: catchAll ? 'default' : `match ${label}`, catchAll };
}

/** Makes identities unique within one list (a second route with the same match gets `#2`). */
function uniqueIds(ids: RouteIdentity[]): string[] {
  const seen = new Map<string, number>();
  return ids.map((r) => {
    const n = (seen.get(r.id) ?? 0) + 1;
    seen.set(r.id, n);
    return n === 1 ? r.id : `${r.id}#${n}`;
  });
}

export function pairRoutes(before: RouteIdentity[], after: RouteIdentity[]): RoutePairing {
  const oldIds = uniqueIds(before);
  const newIds = uniqueIds(after);
  const oldIndex = new Map(oldIds.map((id, i) => [id, i]));
  const pairs: [number, number][] = [];
  const pairedOld = new Set<number>();
  const pairedNew = new Set<number>();
  newIds.forEach((id, j) => {
    const i = oldIndex.get(id);
    if (i !== undefined) {
      pairs.push([i, j]);
      pairedOld.add(i);
      pairedNew.add(j);
    }
  });
  // Order is judged on routes that kept their identity; pairs made by position below cannot move.
  const byOld = [...pairs].sort((a, b) => a[0] - b[0]);
  let reordered = false;
  for (let k = 1; k < byOld.length; k++) if (byOld[k]![1] < byOld[k - 1]![1]) reordered = true;
  // Unnamed routes whose match changed keep their pairing by order: the same route, now matching otherwise.
  const oldLeft = before.map((_, i) => i).filter((i) => !pairedOld.has(i) && !before[i]!.named);
  const newLeft = after.map((_, j) => j).filter((j) => !pairedNew.has(j) && !after[j]!.named);
  for (let k = 0; k < Math.min(oldLeft.length, newLeft.length); k++) {
    pairs.push([oldLeft[k]!, newLeft[k]!]);
    pairedOld.add(oldLeft[k]!);
    pairedNew.add(newLeft[k]!);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return {
    pairs,
    removed: before.map((_, i) => i).filter((i) => !pairedOld.has(i)),
    added: after.map((_, j) => j).filter((j) => !pairedNew.has(j)),
    reordered,
  };
}
