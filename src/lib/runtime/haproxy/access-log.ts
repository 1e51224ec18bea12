// The sidecars' access log: the line each proxy writes per request (its HAProxy log-format), and
// reading it back, forward from an offset (what was appended since the last read) or backwards from its
// end as far as a window needs. HAProxy's own counters give averages only; percentiles, Istio's metrics
// and the spans need every request, hence the log (the figures are made in traffic.ts).
//
// The line is positional: one tab-separated value per field of ACCESS_LOG_FIELDS, after a tag naming the
// layout. Every field is formatted on the request path of every proxy, so the line carries no names, no
// quotes and no date (readers make the time from start_ms), and only what a client can fill in goes
// through an escape: its request id, host, the peer header and what an authorization rule matched through
// `url_enc`, which percent-encodes a tab, a newline, `%` itself and every other byte that is not plain
// text; the path as HAProxy keeps the request line for its own logs (`%HPO`), which writes a control
// byte, a byte above 126, `"` and `#` as `#` and two hex digits. No client can split a field or a line,
// and readers undo both exactly. The values HAProxy makes itself (numbers, flags, names, addresses, hex
// ids) are written as they are, and so is the destination a route picked, host and subset in one
// variable with a tab between them (one rule and one variable less per request than two).
//
// A rule whose only use is this line counts as what metrics and tracing cost the request path:
// compiler.ts's telemetryOnlyRule tells them (bench/dataplane.mjs takes them out of its path without
// telemetry).
// Lines of the earlier layouts (m2 with the path percent-encoded in a variable, m1 with JSON's escapes,
// and the JSON objects before them) are still read, so a log written before an upgrade keeps its figures.
import { promises as fs } from 'node:fs';
import { responseFlags } from './response-flags.js';
import { traceLogFields } from './tracing.js';

/**
 * Where a frontend's access log takes the caller from: a variable set per request, a sample read at
 * log time (a session variable, the client address), or a text known when compiling.
 */
export type LogSource = { sample: string } | { literal: string };

/** What a frontend's line says of itself: the proxy, its direction (inbound, outbound, ingress, mirror), its caller. */
export interface LogFrontend {
  proxy: string;
  direction: string;
  source: LogSource;
  /** The frontend runs authorization rules (authz.ts), which set what the authz fields print. */
  authorization?: boolean;
}

/**
 * A field of the line: its name (the JSON member `meshctl logs` prints it as), whether it is a number,
 * whether it is written percent-encoded (text a client can fill in), and its log-format.
 */
interface LogField {
  name: string;
  number?: true;
  /** Client text: percent-encoded (`url_enc`) in this layout and in m2. */
  encoded?: true;
  /** Client text written with HAProxy's own `#XX` escapes in this layout (percent-encoded in m2). */
  hashEscaped?: true;
  /** The field's log-format; null: the field before it prints this one too (the destination's subset). */
  format: (f: LogFrontend) => string | null;
}

const escaped = (sample: string) => `%[${sample},url_enc]`;
const plain = (sample: string) => `%[${sample}]`;
/**
 * A field no rule of this frontend sets is written as HAProxy writes an unset one, without reading a
 * variable per request: a receiving sidecar routes nothing, only it is told a peer, and only frontends
 * with authorization rules decide.
 */
const UNSET = '-';
const routes = (f: LogFrontend) => f.direction !== 'inbound';

/** The tag a positional line starts with: it names this layout, so that a later one can be told apart. */
const LINE_TAG = 'm3';
/** The layout before: every field its own variable, the path percent-encoded. */
const PERCENT_TAG = 'm2';
/** The layout before that: the same fields, client text with JSON's escapes instead of percent-encoded. */
const JSON_ESCAPED_TAG = 'm1';

/**
 * The variable naming the destination a route picked, for the log alone: the host, a tab, the subset
 * (`-` without one), so that it prints as the two fields it is. Unset (nothing routed), it prints one
 * `-`, and the reader puts back the second.
 */
export const DESTINATION_VAR = 'txn.dest';
/** The value of DESTINATION_VAR for a destination. */
export function destinationValue(host: string, subset: string | undefined): string {
  return `${host}\t${subset || UNSET}`;
}

export const ACCESS_LOG_FIELDS: readonly LogField[] = [
  // The stream's accept date: on a reused keep-alive connection the request starts after the idle wait
  // (and on a new one after the handshake), so readers add those two.
  { name: 'start_ms', number: true, format: () => '%Ts%ms' },
  { name: 'handshake_ms', number: true, format: () => '%Th' },
  { name: 'idle_ms', number: true, format: () => '%Ti' },
  { name: 'request_id', encoded: true, format: () => escaped('var(txn.rid)') },
  { name: 'proxy', format: (f) => logLiteral(f.proxy) },
  { name: 'direction', format: (f) => logLiteral(f.direction) },
  { name: 'source', format: (f) => ('literal' in f.source ? logLiteral(f.source.literal) : plain(f.source.sample)) },
  { name: 'method', format: () => '%HM' },
  { name: 'host', encoded: true, format: () => escaped('var(txn.host)') },
  // The path as the client sent it, before any rewrite: HAProxy keeps the request line for its logs.
  { name: 'path', hashEscaped: true, format: () => '%HPO' },
  { name: 'route', format: (f) => (routes(f) ? plain('var(txn.route)') : UNSET) },
  // A receiving sidecar's destination is the host it was called by: left empty, the reader takes the host.
  { name: 'destination_host', format: (f) => (routes(f) ? plain(`var(${DESTINATION_VAR})`) : '') },
  { name: 'destination_subset', format: (f) => (routes(f) ? null : UNSET) },
  { name: 'backend', format: () => '%b' },
  { name: 'server', format: () => '%s' },
  { name: 'status', number: true, format: () => '%ST' },
  { name: 'duration_ms', number: true, format: () => '%Ta' },
  { name: 'upstream_ms', number: true, format: () => '%Tr' },
  { name: 'retries', format: () => '%rc' },
  { name: 'bytes', number: true, format: () => '%B' },
  { name: 'request_bytes', number: true, format: () => '%U' },
  { name: 'peer', encoded: true, format: (f) => (routes(f) ? UNSET : escaped('var(txn.peer)')) },
  ...traceLogFields().map(([name, sample]) => ({ name, format: () => plain(sample) })),
  { name: 'termination', format: () => '%ts' },
  { name: 'response_flags', format: () => plain('var(txn.response_flags)') },
  { name: 'authz', encoded: true, format: (f) => (f.authorization ? escaped('var(txn.authz)') : UNSET) },
  { name: 'authz_audit', encoded: true, format: (f) => (f.authorization ? escaped('var(txn.authz_audit)') : UNSET) },
];

/** A frontend's access-log line, in the log-format syntax (before config quoting). */
export function accessLogFormat(frontend: LogFrontend): string {
  return [LINE_TAG, ...ACCESS_LOG_FIELDS.map((field) => field.format(frontend)).filter((format) => format !== null)].join('\t');
}

/** A connection that never made a request (a failed handshake): rare, so a JSON object with its date. */
export function errorLogFormat(frontend: Omit<LogFrontend, 'source'>): string {
  return `{"time":"%[date,utime(%Y-%m-%dT%H:%M:%SZ)]","start_ms":%Ts%ms,"proxy":"${jsonLiteral(frontend.proxy)}","direction":"${jsonLiteral(frontend.direction)}","connection_error":"%[fc_err_str,json(utf8s)]","client":"%ci:%cp"}`;
}

/** A text known when compiling, in a JSON string (the connection-error line), `%` doubled for HAProxy. */
function jsonLiteral(text: string): string {
  return JSON.stringify(text).slice(1, -1).replace(/%/g, '%%');
}

/**
 * A text known when compiling (a proxy's name, a direction, a SPIFFE ID), written as it is with `%`
 * doubled for HAProxy. Names and SPIFFE IDs hold no control characters; one would be a space, so that
 * the line keeps its shape whatever a configuration says.
 */
function logLiteral(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, ' ').replace(/%/g, '%%');
}

const DESTINATION_HOST = ACCESS_LOG_FIELDS.findIndex((f) => f.name === 'destination_host') + 1;

/** A positional line as the members its fields name (the earlier JSON layout's); null for any other line. */
function positionalRecord(line: string): Record<string, unknown> | null {
  const tag = line.slice(0, line.indexOf('\t'));
  if (tag !== LINE_TAG && tag !== PERCENT_TAG && tag !== JSON_ESCAPED_TAG) return null;
  const values = line.split('\t');
  // No destination: its variable printed one `-` for the two fields.
  if (tag === LINE_TAG && values.length === ACCESS_LOG_FIELDS.length && values[DESTINATION_HOST] === UNSET) values.splice(DESTINATION_HOST + 1, 0, UNSET);
  if (values.length !== ACCESS_LOG_FIELDS.length + 1) return null;
  const o: Record<string, unknown> = {};
  for (let i = 0; i < ACCESS_LOG_FIELDS.length; i++) {
    const field = ACCESS_LOG_FIELDS[i]!;
    const value = values[i + 1]!;
    o[field.name] = fieldValue(field, tag, value);
  }
  if (o.destination_host === '' && o.direction === 'inbound') o.destination_host = o.host;
  if (o.direction === 'mirror') o.mirror = true;
  return o;
}

/** A field's value as its layout wrote it: a number, or text with the layout's escapes undone. */
function fieldValue(field: LogField, tag: string, value: string): unknown {
  if (field.number) return Number(value);
  if (tag === JSON_ESCAPED_TAG) return unescapeField(value);
  if (field.hashEscaped && tag === LINE_TAG) return hashUnescaped(value);
  return field.encoded || field.hashEscaped ? percentDecoded(value) : value;
}

/**
 * A field HAProxy wrote with its `#XX` escapes, as the client sent it; bytes that are not UTF-8 read as
 * U+FFFD. A request HAProxy could not parse has no path (`<BADREQ>`): `-`, as an unset one.
 */
function hashUnescaped(value: string): string {
  if (value === '<BADREQ>') return UNSET;
  if (!value.includes('#')) return value;
  return Buffer.from(value.replace(/#([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
}

/** A field's text as the client sent it: `url_enc` undone; bytes that are not UTF-8 read as U+FFFD, as the rest of the log. */
function percentDecoded(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return Buffer.from(value.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
  }
}

/** A m1 field's text: JSON's escapes undone where the line has any (a client's tab, quote or backslash). */
function unescapeField(value: string): string {
  if (!value.includes('\\')) return value;
  // HAProxy's JSON escapes every slash of a path: the common case, undone without a parser.
  const slashes = value.replaceAll('\\/', '/');
  if (!slashes.includes('\\')) return slashes;
  try {
    return JSON.parse(`"${value}"`) as string;
  } catch {
    return value;
  }
}

const POSITIONAL_LINE = new RegExp(`^(?:${LINE_TAG}|${PERCENT_TAG}|${JSON_ESCAPED_TAG})\t[^\n]*`, 'gm');

/**
 * Access-log text as one JSON object per request line, as `meshctl logs` prints it (the members named
 * as the fields are); other lines as they are.
 */
export function accessLogAsJsonLines(text: string): string {
  return text.replace(POSITIONAL_LINE, (line) => {
    const o = positionalRecord(line);
    return o ? JSON.stringify(o) : line;
  });
}

export interface AccessLogEntry {
  time: string;
  /** Accept time, epoch milliseconds. */
  startMs: number;
  requestId: string;
  proxy: string;
  direction: 'inbound' | 'outbound' | 'ingress' | string;
  /** Caller: its SPIFFE ID (outbound: this proxy's own; inbound: the verified peer's; ingress: the client address). */
  source: string;
  method: string;
  host: string;
  path: string;
  route: string;
  destinationHost: string;
  destinationSubset: string;
  backend: string;
  server: string;
  status: number;
  durationMs: number;
  upstreamMs: number;
  retries: number;
  redispatched: boolean;
  bytes: number;
  /** Bytes the client sent (headers and body). */
  requestBytes?: number;
  /** The proxy that sent the request, as its peer said over mTLS (inbound lines); "" when unknown. */
  peer?: string;
  /** The span this proxy opened for the request (tracing.ts); "" when the proxy did not log one. */
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  termination: string;
  /** What AuthorizationPolicy decided (Envoy's `rbac_access_denied_matched_policy[...]` on a denial); empty without policy. */
  authz?: string;
  /** The AUDIT policy rule the request matched (`ns[..]-policy[..]-rule[..]`); empty when none. */
  authzAudit?: string;
  /** Envoy's response flags (UF, URX, UT, UC, UO, NR, UH, DI, FI, …) in Envoy's order; empty when none. */
  responseFlags: string[];
  /** A mirrored copy of a request (logged by the proxy's mirror listener, direction `mirror`). */
  mirror: boolean;
}

export interface ConnectionErrorEntry {
  time: string;
  startMs: number;
  proxy: string;
  direction: string;
  error: string;
  client: string;
}

/** Not negative: HAProxy logs -1 for a phase the stream never reached. */
const phaseMs = (v: unknown) => Math.max(0, Number(v ?? 0) || 0);

/** When the request began: the stream's accept date, plus the TLS handshake and the keep-alive idle wait. */
function requestStartMs(o: Record<string, unknown>): number {
  return Number(o.start_ms ?? 0) + phaseMs(o.handshake_ms) + phaseMs(o.idle_ms);
}

function toEntry(o: Record<string, unknown>): AccessLogEntry {
  const retries = String(o.retries ?? '0');
  const retryCount = Number(retries.replace(/^\+/, '')) || 0;
  const startMs = requestStartMs(o);
  return {
    time: typeof o.time === 'string' ? o.time : isoSeconds(startMs),
    startMs,
    requestId: String(o.request_id ?? ''),
    proxy: String(o.proxy ?? ''),
    direction: String(o.direction ?? ''),
    source: String(o.source ?? ''),
    method: String(o.method ?? ''),
    host: String(o.host ?? ''),
    path: String(o.path ?? ''),
    route: unsetAsEmpty(o.route),
    destinationHost: unsetAsEmpty(o.destination_host),
    destinationSubset: unsetAsEmpty(o.destination_subset),
    backend: String(o.backend ?? ''),
    server: String(o.server ?? ''),
    status: Number(o.status ?? -1),
    durationMs: Number(o.duration_ms ?? -1),
    upstreamMs: Number(o.upstream_ms ?? -1),
    retries: retryCount,
    redispatched: retries.startsWith('+'),
    bytes: Number(o.bytes ?? 0),
    requestBytes: Number(o.request_bytes ?? 0),
    peer: unsetAsEmpty(o.peer),
    traceId: unsetAsEmpty(o.trace_id),
    spanId: unsetAsEmpty(o.span_id),
    parentSpanId: unsetAsEmpty(o.parent_span_id),
    termination: String(o.termination ?? ''),
    authz: unsetAsEmpty(o.authz),
    authzAudit: unsetAsEmpty(o.authz_audit),
    responseFlags: responseFlags({ termination: String(o.termination ?? ''), status: Number(o.status ?? -1), retries: retryCount, server: String(o.server ?? ''), logged: String(o.response_flags ?? '') }),
    mirror: o.mirror === true || o.direction === 'mirror',
  };
}

/** A request line carries its start as epoch milliseconds only; its time is that instant to the second, in UTC. */
function isoSeconds(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '';
}

/** Parses access-log text; lines that are not meshctl's (e.g. a truncated last line) are skipped. */
export function parseAccessLog(text: string): { entries: AccessLogEntry[]; connectionErrors: ConnectionErrorEntry[] } {
  const entries: AccessLogEntry[] = [];
  const connectionErrors: ConnectionErrorEntry[] = [];
  for (const lineText of text.split('\n')) {
    const positional = positionalRecord(lineText);
    if (positional) {
      entries.push(toEntry(positional));
      continue;
    }
    if (!lineText.startsWith('{')) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(lineText) as Record<string, unknown>;
    } catch {
      continue;
    }
    if ('connection_error' in o) {
      connectionErrors.push({ time: String(o.time ?? ''), startMs: Number(o.start_ms ?? 0), proxy: String(o.proxy ?? ''), direction: String(o.direction ?? ''), error: String(o.connection_error ?? ''), client: String(o.client ?? '') });
    } else if ('status' in o) {
      entries.push(toEntry(o));
    }
  }
  return { entries, connectionErrors };
}

/** Where a reader of an access log is: the byte it reads from next, in the file (its inode) it read last. */
export interface LogPosition {
  offset: number;
  /** The file's inode when it was read; unknown for a position from elsewhere (a stored cursor). */
  ino?: number;
  /**
   * The log set aside (`<file>.1`) the reader read last, while the process that wrote it may still end
   * its last requests into it: read again until another set-aside file replaces it.
   */
  aside?: { offset: number; ino: number };
}

/**
 * Reads the complete lines of an access log from `position` on; returns them and the position to read
 * from next time (a partial last line is left for then). A log set aside since the last read (renamed
 * to `<file>.1`, a new `<file>` begun: a rotation, or a proxy's reload after the agent restarted) is
 * known by its inode: the rest of the set-aside file is read first, then the new file from its start,
 * and the set-aside file is read again on later reads (its writer finishes its requests into it) until
 * another one replaces it. A log found shorter than the offset (truncated, or rotated with its inode
 * unknown) is read from its start.
 */
export async function readAccessLog(file: string, position: number | LogPosition = 0): Promise<{ entries: AccessLogEntry[]; connectionErrors: ConnectionErrorEntry[]; nextOffset: number; position: LogPosition }> {
  const { offset, ino, aside } = typeof position === 'number' ? { offset: position, ino: undefined, aside: undefined } : position;
  const current = await readLines(file, offset, ino);
  // `earlier`: what the set-aside file got since it was read, read before the log itself.
  let earlier: LinesRead | null = null;
  let main = current;
  let asideIno = aside?.ino;
  if (current.rotated) {
    // The file at `file` is another one: the one read before is `<file>.1` now, then the new one from its start.
    earlier = await readLines(`${file}.1`, offset, ino);
    main = await readLines(file, 0);
    asideIno = ino;
  } else if (aside) {
    // Its writer may still end its last requests into the set-aside file.
    earlier = await readLines(`${file}.1`, aside.offset, aside.ino);
  }
  // A set-aside file replaced by another one, or gone, is no longer read.
  if (earlier && (earlier.rotated || earlier.missing || asideIno === undefined)) earlier = null;
  return {
    entries: [...(earlier?.entries ?? []), ...main.entries],
    connectionErrors: [...(earlier?.connectionErrors ?? []), ...main.connectionErrors],
    nextOffset: main.nextOffset,
    position: { offset: main.nextOffset, ino: main.ino, ...(earlier && asideIno !== undefined ? { aside: { offset: earlier.nextOffset, ino: asideIno } } : {}) },
  };
}

interface LinesRead {
  entries: AccessLogEntry[];
  connectionErrors: ConnectionErrorEntry[];
  nextOffset: number;
  ino?: number;
  /** The file is not the one expected (`expectIno`): nothing was read. */
  rotated?: true;
  missing?: true;
}

/**
 * The complete lines of `file` from `offset` on. When `expectIno` is given and the file is another
 * one, nothing is read and `rotated` is set.
 */
async function readLines(file: string, offset: number, expectIno?: number): Promise<LinesRead> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    // Not there (yet: a log set aside a moment before its new writer opens it): the position stays.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], connectionErrors: [], nextOffset: offset, ino: expectIno, missing: true };
    throw err;
  }
  try {
    const { size, ino } = await handle.stat();
    if (expectIno !== undefined && ino !== expectIno) return { entries: [], connectionErrors: [], nextOffset: 0, ino, rotated: true };
    const from = offset > size ? 0 : offset;
    const length = size - from;
    const buf = Buffer.alloc(length);
    if (length > 0) await handle.read(buf, 0, length, from);
    const end = buf.lastIndexOf(0x0a);
    if (end === -1) return { entries: [], connectionErrors: [], nextOffset: from, ino };
    return { ...parseAccessLog(buf.subarray(0, end + 1).toString('utf8')), nextOffset: from + end + 1, ino };
  } finally {
    await handle.close();
  }
}

/** HAProxy writes `-` for a variable never set (no route matched, a destination without subset). */
function unsetAsEmpty(v: unknown): string {
  const text = v === undefined || v === null ? '' : String(v);
  return text === '-' ? '' : text;
}

/** How much of a log is read at most, from its end (a busy proxy's log is large; recent requests are at its end). */
export const DEFAULT_READ_LIMIT_BYTES = 64 * 1024 * 1024;

export interface RecentLog {
  entries: AccessLogEntry[];
  /** Offset just after the last complete line (where to read new lines from next time). */
  nextOffset: number;
  /** True when the log holds older lines that were not read. */
  truncated: boolean;
  /** The log does not exist (yet). */
  missing: boolean;
}

const CHUNK = 1024 * 1024;
/** Lines are written as requests end, by several threads: a line may follow one that ended this much later. */
const WRITE_ORDER_SLACK_MS = 1000;

/**
 * The entries of an access log that started at or after `sinceMs` (all of them without it), read
 * backwards from the end in chunks so that a long log costs only its recent part; never more than
 * `limitBytes`. Lines are in the order requests ended, so reading stops at a request that ended
 * (not started) before the window: every line before it ended earlier still.
 */
export async function readRecentAccessLog(file: string, options: { sinceMs?: number; limitBytes?: number } = {}): Promise<RecentLog> {
  const limit = options.limitBytes ?? DEFAULT_READ_LIMIT_BYTES;
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], nextOffset: 0, truncated: false, missing: true };
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const chunks: Buffer[] = [];
    let start = size;
    let truncated = false;
    for (;;) {
      if (start === 0) break;
      if (size - start >= limit) {
        truncated = true;
        break;
      }
      const length = Math.min(CHUNK, start, limit - (size - start));
      start -= length;
      const buf = Buffer.alloc(length);
      await handle.read(buf, 0, length, start);
      chunks.unshift(buf);
      if (options.sinceMs !== undefined && start > 0) {
        const first = firstCompleteLine(Buffer.concat(chunks.slice(0, 2)));
        const endMs = first ? lineEndMs(first) : null;
        if (endMs !== null && endMs < options.sinceMs - WRITE_ORDER_SLACK_MS) {
          truncated = true;
          break;
        }
      }
    }
    let text = Buffer.concat(chunks);
    // A read that began mid-file starts with a partial line; the last line may still be being written.
    if (start > 0) {
      const nl = text.indexOf(0x0a);
      text = nl < 0 ? Buffer.alloc(0) : text.subarray(nl + 1);
    }
    const end = text.lastIndexOf(0x0a);
    const complete = end < 0 ? Buffer.alloc(0) : text.subarray(0, end + 1);
    const nextOffset = size - (text.length - complete.length);
    let entries = parseAccessLog(complete.toString('utf8')).entries;
    if (options.sinceMs !== undefined) entries = entries.filter((e) => e.startMs >= options.sinceMs!);
    return { entries, nextOffset, truncated, missing: false };
  } finally {
    await handle.close();
  }
}

function firstCompleteLine(buf: Buffer): string | null {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return null;
  const next = buf.indexOf(0x0a, nl + 1);
  return next < 0 ? null : buf.subarray(nl + 1, next).toString('utf8');
}

/** When the request of a log line ended (start plus total duration); null when the line does not say. */
function lineEndMs(line: string): number | null {
  const o = positionalRecord(line);
  if (o) return Number(o.start_ms) + phaseMs(o.handshake_ms) + phaseMs(o.idle_ms) + phaseMs(o.duration_ms);
  const start = /"start_ms":(\d+)/.exec(line);
  if (!start) return null;
  const phase = (name: string) => phaseMs(new RegExp(`"${name}":(-?\\d+)`).exec(line)?.[1]);
  return Number(start[1]) + phase('handshake_ms') + phase('idle_ms') + phase('duration_ms');
}
