// The route values a running proxy takes without a reload. The configuration text refers to them by
// route id through HAProxy maps (one file per value, in the proxy's directory), so a change of value
// is a `set map` on the runtime API, while the same map files on disk make a restarted proxy start
// with the same values:
//
//   route-deadline.map   route id → the route `timeout` in ms (the deadline of the whole response,
//                        read by the Lua filter mesh_deadline, and the mirror copies' wait)
//   route-attempt.map    route id → each attempt's wait for the response headers in ms (perTryTimeout,
//                        bounded by the route timeout), applied with `http-request set-timeout server`
//   route-headers.map    `<backend>/<request|response>/<set|add>/<header>` → the value a VirtualService
//                        header operation sets or adds (the operation and the header's name are in the
//                        configuration; only the value is looked up)
//   route-fault.map      `<route id>/delay-ms`, `<route id>/delay-cut`, `<route id>/abort-cut` → a fault's
//                        delay, and the share of requests delayed or aborted in millionths
//   host-route.map       host name → route id, for the hosts without a VirtualService (the request's
//                        host is looked up once instead of one rule per host)
//   route-backend.map    route id → backend, for the routes with one destination
//   route-pick.map       `<route id>/total` → the length of a weighted route's pick cycle, and
//                        `<route id>/<n>` → the destination backend at place n of the cycle; written
//                        by the proxy's Lua program from its weights (lua.ts), empty on disk
//
// Whether a route has such a value at all decides which rules its backends carry, and that is part
// of the configuration's structure (a route that gains or loses a timeout is reloaded); weights live
// in the Lua state (lua.ts) and are sent alongside.
import path from 'node:path';
import type { CompiledRoute, RouteRuntimeState } from './types.js';

export type { RouteRuntimeState };


export type RouteMapName = keyof RouteRuntimeState;

const MAP_FILES: Record<RouteMapName, string> = { deadlineMs: 'route-deadline.map', attemptMs: 'route-attempt.map', headerValues: 'route-headers.map', faultValues: 'route-fault.map', hostRoutes: 'host-route.map', routeBackends: 'route-backend.map' };

/** The map files of a proxy directory. */
export function routeMapFile(dir: string, name: RouteMapName): string {
  return path.join(dir, MAP_FILES[name]);
}

export const ROUTE_MAP_NAMES = Object.keys(MAP_FILES) as RouteMapName[];

/** The map of weighted routes' pick cycles, which the proxy's Lua program fills (lua.ts). */
export function pickMapFile(dir: string): string {
  return path.join(dir, 'route-pick.map');
}

/** The route map files of a proxy directory with their text, for a state (what a starting proxy reads). */
export function routeMapTexts(dir: string, state: RouteRuntimeState): [string, string][] {
  return [...ROUTE_MAP_NAMES.map((name): [string, string] => [routeMapFile(dir, name), renderRouteMap(state[name] ?? {})]), [pickMapFile(dir), '']];
}

/** HAProxy takes whole milliseconds; a sub-millisecond part rounds up (never 0, which means no limit). */
export function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

/** The runtime values of a proxy's routes. */
export function routeRuntimeState(routes: CompiledRoute[]): RouteRuntimeState {
  const state: RouteRuntimeState = { deadlineMs: {}, attemptMs: {}, headerValues: {}, faultValues: {}, hostRoutes: {}, routeBackends: {} };
  for (const r of routes) {
    if (r.deadlineMs) state.deadlineMs[r.id] = wholeMs(r.deadlineMs);
    if (r.attemptMs) state.attemptMs[r.id] = wholeMs(r.attemptMs);
    Object.assign(state.headerValues, r.headerValues ?? {});
    Object.assign(state.faultValues, r.faultValues ?? {});
    for (const name of r.hostNames ?? []) state.hostRoutes[name] = r.id;
    if (r.destinations.length === 1) state.routeBackends[r.id] = r.destinations[0]!.backend;
  }
  return state;
}

/** A map file's text (keys are route ids and header keys: no blanks, no `#`; values are map-safe). */
export function renderRouteMap(entries: Record<string, number | string>): string {
  return Object.entries(entries).map(([k, v]) => `${k} ${v}\n`).join('');
}

/** Parses a map file's text or `show map`'s answer (`<ref> <key> <value>` lines) into text values. */
export function parseRouteMap(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split('\n')) {
    const m = /^(?:0x[0-9a-f]+\s+)?(\S+)\s+(.*)$/.exec(l.trim());
    if (m && !m[1]!.startsWith('#')) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * Whether a header value can live in a map: a map line keeps the value from its first non-blank
 * character to the line's end, so a value with an edge blank or a control character stays in the
 * configuration text (a change to it reloads).
 */
export function mapSafeValue(value: string): boolean {
  return value !== '' && !/^\s|\s$/.test(value) && !/[\x00-\x1f\x7f]/.test(value);
}

/** One word on the runtime API's command line, which splits words on blanks and commands on `;`. */
function cliWord(text: string): string {
  return text.replace(/[\\ ;]/g, '\\$&');
}

/** Runtime API commands that turn `previous` into `next` in the maps of the proxy in `dir`. */
export function routeStateCommands(dir: string, previous: RouteRuntimeState, next: RouteRuntimeState): string[] {
  const commands: string[] = [];
  for (const name of ROUTE_MAP_NAMES) {
    // The CLI splits words on blanks and commands on `;`: a directory holding them is escaped.
    const file = cliWord(routeMapFile(dir, name));
    const before = previous[name] ?? {};
    const after = next[name];
    for (const [id, value] of Object.entries(after)) {
      if (before[id] === value) continue;
      commands.push(`${id in before ? 'set' : 'add'} map ${file} ${id} ${cliWord(String(value))}`);
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

const DRAW_RANGE = 1_000_000;

/**
 * A route's fault injection as runtime values: rules that read the delay and the shares from the
 * fault map into variables (for this route's requests alone), and the draw each fault compares
 * against them. `rand(1000000)` is below the share in millionths exactly as often as the share says
 * (100% is 1000000: always), so a new percentage or delay needs no reload.
 */
export function faultRuntime(routeId: string, fault: { delayMs: number | null; delayPercent: number; abortPercent: number }, file: string, isRoute: string): {
  rules: string[];
  draw: (percent: number, which: 'delay' | 'abort') => string;
  values: Record<string, number>;
} {
  const values: Record<string, number> = {};
  const rules: string[] = [];
  const share = (percent: number) => (percent >= 100 ? DRAW_RANGE : Math.round(percent * 10_000));
  const lookup = (variable: string, key: string, value: number) => {
    values[key] = value;
    rules.push(`http-request set-var(${variable}) str(${key}),map_str_int(${file}) if ${isRoute}`);
  };
  if (fault.delayMs !== null && fault.delayMs > 0 && fault.delayPercent > 0) {
    lookup('txn.fault_delay_ms', `${routeId}/delay-ms`, Math.ceil(fault.delayMs));
    lookup('txn.fault_delay_cut', `${routeId}/delay-cut`, share(fault.delayPercent));
  }
  if (fault.abortPercent > 0) lookup('txn.fault_abort_cut', `${routeId}/abort-cut`, share(fault.abortPercent));
  return { rules, values, draw: (_percent, which) => ` { rand(${DRAW_RANGE}),sub(txn.fault_${which}_cut) lt 0 }` };
}
