// Trace context at every hop, as Envoy's tracer keeps it: a proxy takes the caller's W3C traceparent
// (or B3 headers), starts a trace when there is none, opens a span of its own whose parent is the
// caller's span, and sends the request on with its span as the parent of the next (traceparent always;
// tracestate passes untouched). The span's ids go to the access log, from which the spans are built: a
// sending proxy's line is the client span, a receiving sidecar's line the server span.
//
// B3 headers (x-b3-*, and single-header b3 where the caller used it) are written only for a receiver
// that is not a sidecar of the mesh: the app behind a receiving sidecar, and a ServiceEntry's endpoints.
// A receiving sidecar reads traceparent before B3 and writes B3 afresh for its app, so between two
// sidecars the caller's B3 headers go on as the app sent them.
//
// These rules run on every request of every proxy, so they are written for cost (bench/obs-cost.mjs
// counts the instructions of each): the caller's traceparent is fetched whole (req.fhdr, no comma split),
// checked by one regex only when it is there, and cut into its ids with `bytes`; new ids are 64-bit
// integers of two `rand` (`rand` gives 32 random bits) put in hex by one converter chain, rather than a
// formatted string per 32 bits or `uuid`, whose formatting costs several times more; a new trace's id
// is 64 more random bits before the span's own (so a trace's first span id is its trace id's last 16
// digits, as 64-bit B3 tracers made it). Ids made here or checked here are lowercase hex, so the access
// log writes them without a converter.
import { formatString, word } from './config.js';

const TRACEPARENT = '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$';
const TRACE_ID = '^[0-9a-f]{32}$';
const SPAN_ID = '^[0-9a-f]{16}$';
/**
 * 64 random bits as 16 lowercase hex digits: a `rand` (32 bits) moved to the high half, with the 32 of
 * `txn.random` below. The shift is a multiplication, which HAProxy saturates on overflow: centred first,
 * the high half never overflows, and hex of the signed result is the same 64 bits.
 */
const RANDOM_HEX_64 = 'rand,sub(2147483648),mul(4294967296),or(txn.random),hex,lower';

/** The rules every HTTP frontend runs after its request variables: the span's ids, and traceparent. */
export function traceContextLines(): string[] {
  return [
    `http-request set-var(txn.trace_id) req.fhdr(traceparent),bytes(3,32) if { req.fhdr(traceparent) -m reg ${word(TRACEPARENT)} }`,
    'http-request set-var(txn.parent_span_id) req.fhdr(traceparent),bytes(36,16) if { var(txn.trace_id) -m found }',
    `http-request set-var(txn.trace_id) req.fhdr(x-b3-traceid) if !{ var(txn.trace_id) -m found } { req.fhdr(x-b3-traceid) -m reg ${word(TRACE_ID)} }`,
    `http-request set-var(txn.parent_span_id) req.fhdr(x-b3-spanid) if !{ var(txn.parent_span_id) -m found } { var(txn.trace_id) -m found } { req.fhdr(x-b3-spanid) -m reg ${word(SPAN_ID)} }`,
    'http-request set-var(txn.random) rand',
    `http-request set-var(txn.span_id) ${RANDOM_HEX_64}`,
    // A request without a trace starts one: 64 new random bits before the span's 64.
    'http-request set-var(txn.random) rand unless { var(txn.trace_id) -m found }',
    `http-request set-var(txn.trace_id) ${RANDOM_HEX_64},concat(,txn.span_id,) unless { var(txn.trace_id) -m found }`,
    `http-request set-header traceparent ${formatString('00-%[var(txn.trace_id)]-%[var(txn.span_id)]-01')}`,
  ];
}

/**
 * The B3 headers naming this proxy's span, for a receiver that reads no traceparent of the mesh's: the
 * rules a receiving sidecar runs before the app, and a sending proxy's backends with servers outside the
 * mesh. They follow traceContextLines.
 */
export function b3HeaderLines(): string[] {
  return [
    'http-request set-header x-b3-spanid %[var(txn.span_id)]',
    // What the caller sent already as it goes on is left alone: a header rule costs several times its
    // test, and an app that passes its trace on sends these right.
    'http-request set-header x-b3-traceid %[var(txn.trace_id)] unless { req.fhdr(x-b3-traceid),strcmp(txn.trace_id) eq 0 }',
    // Removing and adding costs less than a test of whether the caller sent one.
    'http-request del-header x-b3-parentspanid',
    'http-request add-header x-b3-parentspanid %[var(txn.parent_span_id)] if { var(txn.parent_span_id) -m found }',
    'http-request set-header x-b3-sampled 1 unless { req.fhdr(x-b3-sampled) -m str 1 }',
    // The single-header B3 form goes on renewed where the caller used it (as Envoy, which never adds it).
    `http-request set-header b3 ${formatString('%[var(txn.trace_id)]-%[var(txn.span_id)]-1')} if { req.fhdr(b3) -m found }`,
  ];
}

/** The access log's fields of a span, with the samples they print: hex ids, never escaped. */
export function traceLogFields(): [name: string, sample: string][] {
  return [['trace_id', 'var(txn.trace_id)'], ['span_id', 'var(txn.span_id)'], ['parent_span_id', 'var(txn.parent_span_id)']];
}
