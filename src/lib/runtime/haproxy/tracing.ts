// Trace context at every hop, as Envoy's tracer keeps it: a proxy takes the caller's W3C traceparent
// (or B3 headers), starts a trace when there is none, opens a span of its own whose parent is the
// caller's span, and sends the request on with its span as the parent of the next (traceparent, the
// x-b3-* headers, and single-header b3 where the caller used it; tracestate passes untouched). The span's ids go to the access
// log, from which the spans are built: a sending proxy's line is the client span, a receiving
// sidecar's line the server span.
//
// These rules run on every request of every proxy, so they are written for cost: the caller's ids are
// checked by a regex only when its header is there, and new ids come from `rand` (32 random bits
// each, in hex) rather than `uuid`, whose formatting costs several times more. Ids made here or
// checked here are lowercase hex, so the access log writes them without a JSON converter.
import { formatString, word } from './config.js';

const TRACEPARENT = '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$';
const TRACE_ID = '^[0-9a-f]{32}$';
const SPAN_ID = '^[0-9a-f]{16}$';
/** Eight random lowercase hex digits: `rand` is 32 random bits, cast to 8 bytes of which the last 4 hold them. */
const RANDOM_HEX_32 = '%[rand,bytes(4),hex,lower]';

/** The rules every HTTP frontend runs after its request variables. */
export function traceContextLines(): string[] {
  return [
    `http-request set-var(txn.trace_id) req.hdr(traceparent),field(2,-) if { req.hdr(traceparent) -m reg ${word(TRACEPARENT)} }`,
    'http-request set-var(txn.parent_span_id) req.hdr(traceparent),field(3,-) if { var(txn.trace_id) -m found }',
    `http-request set-var(txn.trace_id) req.hdr(x-b3-traceid) if !{ var(txn.trace_id) -m found } { req.hdr(x-b3-traceid) -m reg ${word(TRACE_ID)} }`,
    `http-request set-var(txn.parent_span_id) req.hdr(x-b3-spanid) if !{ var(txn.parent_span_id) -m found } { var(txn.trace_id) -m found } { req.hdr(x-b3-spanid) -m reg ${word(SPAN_ID)} }`,
    // A request without a trace starts one: 128 random bits.
    `http-request set-var-fmt(txn.trace_id) ${formatString(RANDOM_HEX_32.repeat(4))} unless { var(txn.trace_id) -m found }`,
    `http-request set-var-fmt(txn.span_id) ${formatString(RANDOM_HEX_32.repeat(2))}`,
    `http-request set-header traceparent ${formatString('00-%[var(txn.trace_id)]-%[var(txn.span_id)]-01')}`,
    'http-request set-header x-b3-spanid %[var(txn.span_id)]',
    // What the caller sent already as it goes on is left alone: a header rule costs several times its
    // test, and a request from another sidecar of the mesh carries these right.
    'http-request set-header x-b3-traceid %[var(txn.trace_id)] unless { req.hdr(x-b3-traceid),strcmp(txn.trace_id) eq 0 }',
    'http-request set-header x-b3-parentspanid %[var(txn.parent_span_id)] if { var(txn.parent_span_id) -m found }',
    'http-request del-header x-b3-parentspanid if !{ var(txn.parent_span_id) -m found } { req.hdr(x-b3-parentspanid) -m found }',
    'http-request set-header x-b3-sampled 1 unless { req.hdr(x-b3-sampled) -m str 1 }',
    // The single-header B3 form goes on renewed where the caller used it (as Envoy, which never adds it).
    `http-request set-header b3 ${formatString('%[var(txn.trace_id)]-%[var(txn.span_id)]-1')} if { req.hdr(b3) -m found }`,
  ];
}

/** The access log's fields of a span, with the samples they print: hex ids, never escaped. */
export function traceLogFields(): [name: string, sample: string][] {
  return [['trace_id', 'var(txn.trace_id)'], ['span_id', 'var(txn.span_id)'], ['parent_span_id', 'var(txn.parent_span_id)']];
}
