// Envoy's response flags for the local mesh's access log (`response_flags`).
//
// Two sources, merged: rules that answer on their own (no route, a connection-pool overflow, a fault,
// a denial, a rate limit, the route deadline) set `txn.response_flags` before answering, and the log
// prints it; what only HAProxy's own state tells (its termination state %ts, the status, the retry
// count, whether a server was chosen) is derived here when the log is read, since HAProxy 2.6 has no
// sample fetch for the termination state or the retry count that a rule could test.
import type { HttpRoute } from '../../policy/mesh-model.js';

/** Envoy's order of its short codes when it prints several (comma-joined). */
const ENVOY_FLAG_ORDER = [
  'LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'UAEX', 'RLSE', 'DC', 'URX', 'SI', 'IH', 'DPE',
  'UMSDR', 'RFCF', 'NFCF', 'DT', 'UPE', 'NC', 'OM', 'DF', 'DO',
];

/** An HAProxy rule that records a flag for the access log (`cond` is the rule's `if …` / `unless …`). */
export function setResponseFlag(flags: string, cond: string): string {
  // A comma separates arguments in HAProxy's sample syntax, so several flags travel URL-encoded.
  const value = flags.includes(',') ? `str(${flags.replace(/,/g, '%2C')}),url_dec` : `str(${flags})`;
  return `http-request set-var(txn.response_flags) ${value} ${cond}`;
}

/**
 * Fault injection rules with their flags, as Envoy: the delay first (DI), then the abort (FI), each
 * drawn on its own; a request both delayed and aborted is flagged `DI,FI`.
 */
export function faultRules(fault: NonNullable<HttpRoute['fault']>, isRoute: string, draw: (percent: number, which: 'delay' | 'abort') => string, delayMs: number | string): string[] {
  const out: string[] = [];
  const delayed = fault.delayMs !== null && fault.delayMs > 0 && fault.delayPercent > 0;
  if (delayed) {
    out.push(setResponseFlag('DI', `if ${isRoute}${draw(fault.delayPercent, 'delay')}`));
    out.push(`http-request lua.mesh_delay ${delayMs} if ${isRoute} { var(txn.response_flags) -m str DI }`);
  }
  if (fault.abortStatus !== null && fault.abortPercent > 0) {
    const aborted = '{ var(txn.fault_abort) -m bool }';
    out.push(`http-request set-var(txn.fault_abort) bool(true) if ${isRoute}${draw(fault.abortPercent, 'abort')}`);
    if (delayed) out.push(setResponseFlag('DI,FI', `if ${aborted} { var(txn.response_flags) -m str DI }`));
    out.push(setResponseFlag('FI', `if ${aborted} !{ var(txn.response_flags) -m found }`));
    out.push(`http-request return status ${fault.abortStatus} content-type text/plain string "fault filter abort" if ${aborted}`);
  }
  return out;
}

export interface FlagInputs {
  /** HAProxy's two-character termination state (%ts). */
  termination: string;
  status: number;
  retries: number;
  /** The server that served the request (`<NOSRV>` when none was chosen). */
  server: string;
  /** What the rules set (`txn.response_flags`; `-` or empty when none). */
  logged: string;
}

/** The flags HAProxy's own state shows: Envoy's meaning of each termination. */
export function derivedResponseFlags(i: Omit<FlagInputs, 'logged'>): string[] {
  const [by = '-', phase = '-'] = i.termination;
  const flags: string[] = [];
  const noServer = i.server === '<NOSRV>' || i.server === '';
  if (by === 's') {
    // A server timeout: waiting for a connection is a failure to connect; in the queue, an overflow.
    if (phase === 'C') flags.push('UF');
    else if (phase === 'Q') flags.push('UO');
    else if (phase === 'H' || phase === 'D') flags.push('UT');
  } else if (by === 'S') {
    if (phase === 'C') flags.push(noServer ? 'UH' : 'UF');
    else if (phase === 'H' || phase === 'D') flags.push('UC');
  } else if (by === 'D' && (phase === 'H' || phase === 'D')) flags.push('UC');
  else if (by === 'C' && phase !== '-') flags.push('DC');
  if (i.status === 503 && noServer && by !== 'L' && !flags.length) flags.push('UH');
  if (i.retries > 0 && (i.status >= 500 || i.status <= 0)) flags.push('URX');
  return flags;
}

/** Envoy's ordering of a set of flags. */
export function orderResponseFlags(flags: Iterable<string>): string[] {
  const rank = (f: string) => {
    const n = ENVOY_FLAG_ORDER.indexOf(f);
    return n < 0 ? ENVOY_FLAG_ORDER.length : n;
  };
  return [...new Set(flags)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The request's flags: what the rules logged, with what HAProxy's state shows. */
export function responseFlags(i: FlagInputs): string[] {
  const logged = i.logged && i.logged !== '-' ? i.logged.split(',').map((f) => f.trim()).filter(Boolean) : [];
  return orderResponseFlags([...logged, ...derivedResponseFlags(i)]);
}

/** As Envoy prints them: comma-joined, `-` when none. */
export function formatResponseFlags(flags: string[]): string {
  return flags.length ? flags.join(',') : '-';
}
