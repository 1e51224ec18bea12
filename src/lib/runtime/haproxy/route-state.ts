// The route values a running proxy takes without a reload. The configuration text refers to them by
// route id through HAProxy maps (one file per value, in the proxy's directory), so a change of value
// is a `set map` on the runtime API, while the same map files on disk make a restarted proxy start
// with the same values:
//
//   route-deadline.map   route id → the route `timeout` in ms (the deadline of the whole response,
//                        read by the Lua filter mesh_deadline, and the mirror copies' wait)
//   route-attempt.map    route id → each attempt's wait for the response headers in ms (perTryTimeout,
//                        bounded by the route timeout), applied with `http-request set-timeout server`
//
// Whether a route has such a value at all decides which rules its backends carry, and that is part
// of the configuration's structure (a route that gains or loses a timeout is reloaded); weights live
// in the Lua state (lua.ts) and are sent alongside.
import path from 'node:path';
import type { CompiledRoute } from './types.js';

export interface RouteRuntimeState {
  /** Route id → the route's deadline (ms). */
  deadlineMs: Record<string, number>;
  /** Route id → each attempt's timeout (ms). */
  attemptMs: Record<string, number>;
}

export type RouteMapName = keyof RouteRuntimeState;

const MAP_FILES: Record<RouteMapName, string> = { deadlineMs: 'route-deadline.map', attemptMs: 'route-attempt.map' };

/** The map files of a proxy directory. */
export function routeMapFile(dir: string, name: RouteMapName): string {
  return path.join(dir, MAP_FILES[name]);
}

export const ROUTE_MAP_NAMES = Object.keys(MAP_FILES) as RouteMapName[];

/** HAProxy takes whole milliseconds; a sub-millisecond part rounds up (never 0, which means no limit). */
export function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

/** The runtime values of a proxy's routes. */
export function routeRuntimeState(routes: CompiledRoute[]): RouteRuntimeState {
  const state: RouteRuntimeState = { deadlineMs: {}, attemptMs: {} };
  for (const r of routes) {
    if (r.deadlineMs) state.deadlineMs[r.id] = wholeMs(r.deadlineMs);
    if (r.attemptMs) state.attemptMs[r.id] = wholeMs(r.attemptMs);
  }
  return state;
}

/** A map file's text (keys are route ids: no blanks, no `#`). */
export function renderRouteMap(entries: Record<string, number>): string {
  return Object.entries(entries).map(([k, v]) => `${k} ${v}\n`).join('');
}

/** Parses a map file's text or `show map`'s answer (`<ref> <key> <value>` lines). */
export function parseRouteMap(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of text.split('\n')) {
    const cells = l.trim().split(/\s+/);
    if (cells.length < 2 || cells[0]!.startsWith('#')) continue;
    const [key, value] = cells.slice(-2) as [string, string];
    if (/^\d+$/.test(value)) out[key] = Number(value);
  }
  return out;
}

/** Runtime API commands that turn `previous` into `next` in the maps of the proxy in `dir`. */
export function routeStateCommands(dir: string, previous: RouteRuntimeState, next: RouteRuntimeState): string[] {
  const commands: string[] = [];
  for (const name of ROUTE_MAP_NAMES) {
    // The CLI splits words on blanks and commands on `;`: a directory holding them is escaped.
    const file = routeMapFile(dir, name).replace(/[\\ ;]/g, '\\$&');
    const before = previous[name] ?? {};
    const after = next[name];
    for (const [id, ms] of Object.entries(after)) {
      if (before[id] === ms) continue;
      commands.push(`${id in before ? 'set' : 'add'} map ${file} ${id} ${ms}`);
    }
    for (const id of Object.keys(before)) if (!(id in after)) commands.push(`del map ${file} ${id}`);
  }
  return commands;
}

/** Routes whose runtime values differ between two states. */
export function changedRouteIds(previous: RouteRuntimeState, next: RouteRuntimeState): string[] {
  const ids = new Set<string>();
  for (const name of ROUTE_MAP_NAMES) {
    const before = previous[name] ?? {};
    const after = next[name];
    for (const id of new Set([...Object.keys(before), ...Object.keys(after)])) if (before[id] !== after[id]) ids.add(id);
  }
  return [...ids];
}
