// HTTP routes are tried in order and the first match wins, so a route placed after one that takes every
// request is dead. Exact duplicates and a second match-less route are Istio's own IST0130 and are left to it.
import type { Analyzer } from '../analysis.js';
import { K } from '../kinds.js';
import { listOf, objectOf, specOf, type VirtualServiceSpec } from '../spec.js';
import { isCatchAllMatch, isCatchAllRoute, routeLabel, type HttpRouteInput } from './util.js';

/** Canonical JSON (sorted keys), so that matches compare the way Istio's duplicate check compares them. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && v !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function hasMatches(route: HttpRouteInput): boolean {
  const match = objectOf(route).match;
  return Array.isArray(match) && match.length > 0;
}

/** Gateways (other than `mesh`) move catch-all routes after the others, so only mesh traffic keeps the written order. */
function appliesToMesh(spec: VirtualServiceSpec): boolean {
  const gateways = listOf<unknown>(spec.gateways);
  return gateways.length === 0 || gateways.includes('mesh');
}

export const shadowedRoutes: Analyzer = {
  name: 'meshctl.ShadowedRoutes',
  description: 'Finds VirtualService HTTP routes that can never match because an earlier route takes every request.',
  inputs: [K.VirtualService],
  codes: ['MSH2003'],
  run(ctx) {
    for (const vs of ctx.of(K.VirtualService)) {
      const spec = specOf(vs, K.VirtualService);
      const routes = listOf(spec.http);
      if (!routeAfterCatchAll(routes)) continue; // Only a route behind a catch-all can be shadowed.
      const orderKept = appliesToMesh(spec);
      let catchAll = -1;
      let matchless = false;
      // Earlier matches, canonicalised only once a catch-all makes the comparison needed.
      const earlier: unknown[] = [];
      let seen: Set<string> | undefined;
      const seenMatch = (m: unknown): boolean => {
        seen ??= new Set(earlier.map(canonical));
        return seen.has(canonical(m));
      };
      routes.forEach((route, i) => {
        const matches = listOf(objectOf(route).match);
        const catchAllHere = isCatchAllRoute(route);
        // On gateways only another catch-all stays behind the first one.
        const shadowed = catchAll !== -1 && (orderKept || catchAllHere);
        if (shadowed && !(hasMatches(route) ? matches.every(seenMatch) : matchless)) {
          const first = routes[catchAll];
          const why = hasMatches(first) ? `its match ${describeCatchAll(first)} takes every request` : 'it has no match, so it takes every request';
          ctx.report(
            'MSH2003',
            vs,
            `/spec/http/${i}`,
            `${cap(routeLabel(route, i))} of VirtualService ${vs.name} can never be reached because ${routeLabel(first, catchAll)} comes first and ${why}; move it above ${routeLabel(first, catchAll)} or narrow that route's match.`,
          );
        }
        for (const m of matches) {
          if (seen) seen.add(canonical(m));
          else earlier.push(m);
        }
        if (!hasMatches(route)) matchless = true;
        if (catchAll === -1 && catchAllHere) catchAll = i;
      });
    }
  },
};

/** True when some route comes after the first one that takes every request. */
function routeAfterCatchAll(routes: readonly HttpRouteInput[]): boolean {
  for (let i = 0; i < routes.length - 1; i++) if (isCatchAllRoute(routes[i])) return true;
  return false;
}

function describeCatchAll(route: HttpRouteInput): string {
  const matches = listOf(objectOf(route).match);
  const index = matches.findIndex(isCatchAllMatch);
  const uri = objectOf(objectOf(matches[index]).uri);
  if (typeof uri.prefix === 'string') return `${index} (prefix ${uri.prefix})`;
  if (typeof uri.regex === 'string') return `${index} (regex ${uri.regex})`;
  return `${index} (empty)`;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
