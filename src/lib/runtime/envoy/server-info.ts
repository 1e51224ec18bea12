// Envoy's /server_info and /ready into the health section.
import type { Health, ServerState } from '../model.js';
import { meshBuildOf, revisionOf, stripBuildSha } from './config-dump.js';
import { asNumber, asString, field } from './proto-json.js';
import { parseDuration } from '../../policy/duration.js';

export interface ServerInfo {
  /** The build without its leading commit, e.g. "1.31.0/Clean/RELEASE/BoringSSL". */
  version: string | null;
  state: ServerState | null;
  uptimeSeconds: number | null;
  /** The bootstrap node (Envoy 1.16+), when reported. */
  node: unknown;
}

const STATES: readonly ServerState[] = ['LIVE', 'DRAINING', 'PRE_INITIALIZING', 'INITIALIZING'];

export function asServerState(v: unknown): ServerState | null {
  if (typeof v === 'string') {
    const s = v.trim().toUpperCase();
    return (STATES as readonly string[]).includes(s) ? (s as ServerState) : null;
  }
  // Some encoders write the enum's number.
  const n = asNumber(v);
  return n !== null && n >= 0 && n < STATES.length ? STATES[n]! : null;
}

/** Protobuf Duration text ("188s", "3.5s") → seconds. */
export function durationSeconds(v: unknown): number | null {
  const s = asString(v);
  if (s === null) return asNumber(v);
  const ms = parseDuration(s.trim());
  return ms === undefined ? null : ms / 1000;
}

export function parseServerInfo(doc: unknown): ServerInfo {
  const version = asString(field(doc, 'version'));
  return {
    version: version ? stripBuildSha(version) : null,
    state: asServerState(field(doc, 'state')),
    uptimeSeconds: durationSeconds(field(doc, 'uptime_current_epoch')),
    node: field(doc, 'node') ?? null,
  };
}

/** /ready answers 200 with "LIVE", or 503 with the state. */
export function parseReady(status: number, body: string): { ready: boolean; state: ServerState | null } {
  return { ready: status === 200, state: asServerState(body) };
}

export function stateReason(state: ServerState | null, ready: boolean | null): string {
  switch (state) {
    case 'LIVE':
      return ready === false ? 'The proxy reports LIVE but /ready did not answer 200.' : 'The proxy is LIVE and takes traffic.';
    case 'DRAINING':
      return 'The proxy is DRAINING: it is shutting down or hot-restarting and closes its listeners.';
    case 'PRE_INITIALIZING':
      return 'The proxy is PRE_INITIALIZING: it has not started to initialize yet.';
    case 'INITIALIZING':
      return 'The proxy is INITIALIZING: it waits for its first clusters and listeners from the control plane.';
    default:
      return ready ? 'The proxy answered /ready with 200.' : 'The proxy is not ready and did not name its state.';
  }
}

/** Health from a live admin API: /ready, /server_info and (for the revision) the config dump's versions. */
export function healthFromServer(
  info: ServerInfo | null,
  ready: { ready: boolean; state: ServerState | null } | null,
  versions: Record<string, string>,
  node: unknown,
): Health {
  const state = ready?.state ?? info?.state ?? null;
  const isReady = ready ? ready.ready : state === null ? null : state === 'LIVE';
  return {
    ready: isReady,
    reason: stateReason(state, isReady),
    state,
    uptimeSeconds: info?.uptimeSeconds ?? null,
    runtime: 'envoy',
    version: info?.version ?? null,
    mesh: meshBuildOf(info?.node ?? node),
    config: revisionOf(versions),
  };
}
