#!/usr/bin/env node
// Micro-benchmark of what metrics and tracing cost a sidecar per request: HAProxy CPU time per
// request of one proxy (one thread) in front of a fixed answer (another HAProxy returning 1 KiB), for
// variants of the access-log line (its fields, JSON against a positional line, its converters, where
// it is written) and of the trace-context rules, measured in the same run and interleaved, so that
// noise from other work on the machine falls on every variant alike.
//
//   npm run build && node bench/obs-cost.mjs [--requests N] [--rounds N] [--only REGEX] [--instructions]
//
// On a busy machine CPU time per request moves by several µs from one second to the next, more than
// most parts cost: --instructions counts instead the instructions each proxy runs per request (in user
// space: valgrind's callgrind, once per variant), which no other work on the machine changes. The
// kernel's part (the log's write) is not in that count; the CPU figures hold it.
//
// Prints, per variant, the median over the rounds of the proxy's CPU µs per request, and the median of
// its differences to the proxy without access log and trace context measured just before it.
import dgram from 'node:dgram';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './harness.mjs';
import { callgrindInstructions, callgrindWrapper, cpuSeconds, freePort, startFixedAnswer, startHaproxy, stopHaproxies, waitPort } from './lib-proxy.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const REQUESTS = Number(flag('--requests')) || 2_000;
const ROUNDS = Number(flag('--rounds')) || 15;
const ONLY = flag('--only');
const INSTRUCTIONS = args.includes('--instructions');
const lib = (p) => import(pathToFileURL(path.join(root, 'dist/src/lib/runtime/haproxy', p)).href);
const { formatString } = await lib('config.js');
const tracing = await lib('tracing.js');
const accessLog = await lib('access-log.js');
const { default: autocannon } = await import('autocannon');

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-obs-cost-'));
const appPort = await startFixedAnswer(dir);

// A syslog receiver on loopback UDP, for the datagram transport (the agent could listen so).
const syslog = dgram.createSocket('udp4');
let datagrams = 0;
syslog.on('message', () => { datagrams += 1; });
await new Promise((resolve) => syslog.bind(0, '127.0.0.1', resolve));
const syslogPort = syslog.address().port;

// What every HTTP frontend of a sidecar sets first, whether it logs or not (compiler.ts), and what
// routing sets on the outbound (a receiving sidecar routes nothing, and knows its peer's identity).
const REQUEST_VARIABLES = [
  'http-request set-var(txn.host) req.hdr(host),field(1,:),lower',
  'http-request set-header x-request-id %[uuid(4)] unless { req.hdr(x-request-id) -m found }',
];
const OUTBOUND_ROUTING = ['http-request set-var(txn.route) str(vs:default:reviews:0)'];
const INBOUND_PEER = ['http-request set-var(sess.peer) str(spiffe://cluster.local/ns/default/sa/bookinfo-productpage)'];
/**
 * The rules that exist only for the access log (compiler.ts: telemetryOnlyRule), now and in the
 * layouts before m3 (the path in a variable, the destination in two): a line is measured with its own.
 */
const RID = 'http-request set-var(txn.rid) req.hdr(x-request-id)';
const PATH = 'http-request set-var(txn.path) path';
const PEER_OUT = 'http-request set-header x-meshctl-peer productpage-0';
const PEER_IN = 'http-request set-var(txn.peer) str(productpage-0)';
const LOG_INPUTS = {
  now: { outbound: [RID, 'http-request set-var(txn.dest) str("reviews.default.svc.cluster.local\\tv1")', PEER_OUT], inbound: [RID, PEER_IN] },
  past: { outbound: [PATH, RID, 'http-request set-var(txn.dest_host) str(reviews.default.svc.cluster.local)', 'http-request set-var(txn.dest_subset) str(v1)', PEER_OUT], inbound: [PATH, RID, PEER_IN] },
};
/** A variant with the log's inputs of its layout before its own rules. */
const withInputs = (layout, v) => ({ ...v, frontend: [...LOG_INPUTS[layout][v.inbound ? 'inbound' : 'outbound'], ...(v.frontend ?? [])] });
const now = (v) => withInputs('now', v);
const past = (v) => withInputs('past', v);

const PROXY = 'productpage-0';
const IDENTITY = 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage';

/**
 * The JSON line meshctl's sidecars wrote before the positional line, field by field; `escape` false
 * drops the JSON converters, `fields` keeps only the first N members.
 */
function jsonLine({ escape = true, fields = Infinity, direction = 'outbound' } = {}) {
  const escaped = (v) => (escape ? `%[${v},json(utf8s)]` : `%[${v}]`);
  const plain = (v) => `%[${v}]`;
  const inbound = direction === 'inbound';
  const members = [
    '"start_ms":%Ts%ms', '"handshake_ms":%Th', '"idle_ms":%Ti',
    `"request_id":"${escaped('var(txn.rid)')}"`, `"proxy":"${PROXY}"`, `"direction":"${direction}"`, `"source":"${inbound ? plain('var(sess.peer)') : IDENTITY}"`,
    '"method":"%HM"', `"host":"${escaped('var(txn.host)')}"`, `"path":"${escaped('var(txn.path)')}"`, `"route":"${plain('var(txn.route)')}"`,
    `"destination_host":"${inbound ? escaped('var(txn.host)') : plain('var(txn.dest_host)')}"`, `"destination_subset":"${plain('var(txn.dest_subset)')}"`,
    '"backend":"%b"', '"server":"%s"', '"status":%ST', '"duration_ms":%Ta', '"upstream_ms":%Tr', '"retries":"%rc"', '"bytes":%B', '"request_bytes":%U',
    `"peer":"${escaped('var(txn.peer)')}"`,
    '"trace_id":"%[var(txn.trace_id)]"', '"span_id":"%[var(txn.span_id)]"', '"parent_span_id":"%[var(txn.parent_span_id)]"',
    '"termination":"%ts"', `"response_flags":"${plain('var(txn.response_flags)')}"`,
  ];
  return `{${members.slice(0, fields).join(',')}}`;
}

/** The trace-context rules before their header rules were made conditional (tracing.ts has the current ones). */
const TRACE_BEFORE = [
  'http-request set-var(txn.trace_id) req.hdr(traceparent),field(2,-) if { req.hdr(traceparent) -m reg \'^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$\' }',
  'http-request set-var(txn.parent_span_id) req.hdr(traceparent),field(3,-) if { var(txn.trace_id) -m found }',
  'http-request set-var(txn.trace_id) req.hdr(x-b3-traceid) if !{ var(txn.trace_id) -m found } { req.hdr(x-b3-traceid) -m reg \'^[0-9a-f]{32}$\' }',
  'http-request set-var(txn.parent_span_id) req.hdr(x-b3-spanid) if !{ var(txn.parent_span_id) -m found } { var(txn.trace_id) -m found } { req.hdr(x-b3-spanid) -m reg \'^[0-9a-f]{16}$\' }',
  'http-request set-var-fmt(txn.trace_id) "%[rand,bytes(4),hex,lower]%[rand,bytes(4),hex,lower]%[rand,bytes(4),hex,lower]%[rand,bytes(4),hex,lower]" unless { var(txn.trace_id) -m found }',
  'http-request set-var-fmt(txn.span_id) "%[rand,bytes(4),hex,lower]%[rand,bytes(4),hex,lower]"',
  'http-request set-header traceparent "00-%[var(txn.trace_id)]-%[var(txn.span_id)]-01"',
  'http-request set-header x-b3-traceid %[var(txn.trace_id)]',
  'http-request set-header x-b3-spanid %[var(txn.span_id)]',
  'http-request set-header x-b3-parentspanid %[var(txn.parent_span_id)] if { var(txn.parent_span_id) -m found }',
  'http-request del-header x-b3-parentspanid unless { var(txn.parent_span_id) -m found }',
  'http-request set-header x-b3-sampled 1',
  'http-request set-header b3 "%[var(txn.trace_id)]-%[var(txn.span_id)]-1"',
];
/**
 * The trace-context rules of the m1 layout's sidecars: those before, with the headers a caller sent
 * right left alone (ids of 32 bits per formatted rand, traceparent cut by `field`).
 */
const TRACE_M1 = [
  ...TRACE_BEFORE.slice(0, 8),
  'http-request set-header x-b3-traceid %[var(txn.trace_id)] unless { req.hdr(x-b3-traceid),strcmp(txn.trace_id) eq 0 }',
  TRACE_BEFORE[9],
  'http-request del-header x-b3-parentspanid if !{ var(txn.parent_span_id) -m found } { req.hdr(x-b3-parentspanid) -m found }',
  'http-request set-header x-b3-sampled 1 unless { req.hdr(x-b3-sampled) -m str 1 }',
  'http-request set-header b3 "%[var(txn.trace_id)]-%[var(txn.span_id)]-1" if { req.hdr(b3) -m found }',
];
const TRACE = tracing.traceContextLines();
/**
 * A receiving sidecar's: the same, then B3 headers for its app (a sending one writes those only toward
 * servers outside the mesh; in the m2 layout every proxy ran these).
 */
const TRACE_INBOUND = [...TRACE, ...tracing.b3HeaderLines()];
/** Where the rules of TRACE making ids begin and end, and where its header rules begin. */
const TRACE_IDS = TRACE.findIndex((l) => l.includes(' rand'));
const TRACE_HEADERS = TRACE.findIndex((l) => / (set|add|del)-header /.test(l));

const logTo = {
  stdout: ['log stdout format raw local0 info'],
  ring: ['log ring@accesslog format raw local0 info'],
  udp: [`log 127.0.0.1:${syslogPort} format raw local0 info`],
};
const RING = ['ring accesslog', '  format raw', '  maxlen 4096', '  size 1048576'];

const outboundLine = accessLog.accessLogFormat({ proxy: PROXY, direction: 'outbound', source: { literal: IDENTITY } });
const inboundLine = accessLog.accessLogFormat({ proxy: 'reviews-v1-0', direction: 'inbound', source: { sample: 'var(sess.peer)' } });
/** The m2 layout: the path percent-encoded from a variable, the destination's host and subset from two. */
const m2Line = (line) => line.replace(/^m3\t/, 'm2\t').replace('%HPO', '%[var(txn.path),url_enc]').replace('%[var(txn.dest)]', '%[var(txn.dest_host)]\t%[var(txn.dest_subset)]');
/** The m1 layout: the m2 line with JSON's escapes on client text instead of `url_enc`. */
const m1Line = (line) => m2Line(line).replaceAll(',url_enc]', ',json(utf8s)]');
const withLog = (format, transport = 'stdout') => ({ log: format, transport });
/** What a receiving sidecar is sent by the sending one, before and now (b3 only where the app used it). */
const FROM_SIDECAR = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'x-b3-traceid': '4bf92f3577b34da6a3ce929d0e0e4736', 'x-b3-spanid': '00f067aa0ba902b7', 'x-b3-sampled': '1', 'x-request-id': '7c9e6679-7425-40de-944b-e07cc1b7e4f1' };
const FROM_SIDECAR_BEFORE = { ...FROM_SIDECAR, b3: '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1' };
/** What a sending sidecar sends now, for a request its app sent without trace headers: traceparent alone. */
const FROM_SIDECAR_NOW = { traceparent: FROM_SIDECAR.traceparent, 'x-request-id': FROM_SIDECAR['x-request-id'] };
const inbound = (v) => ({ ...v, inbound: true });

const RAND_HEX = '%[rand,bytes(4),hex,lower]';
const traceIds = [
  `http-request set-var-fmt(txn.trace_id) ${formatString(RAND_HEX.repeat(4))} unless { var(txn.trace_id) -m found }`,
  `http-request set-var-fmt(txn.span_id) ${formatString(RAND_HEX.repeat(2))}`,
];
const FIXED_IDS = ['http-request set-var(txn.trace_id) str(4bf92f3577b34da6a3ce929d0e0e4736)', 'http-request set-var(txn.span_id) str(00f067aa0ba902b7)'];

const variants = {
  'no access log, no trace context': {},
  // Where the cost was and is, as a whole: a request the outbound starts a trace for, and the same
  // request at the receiving sidecar with what the sending one added.
  'outbound, before: JSON line + trace context': past({ ...withLog(jsonLine()), frontend: TRACE_BEFORE }),
  'outbound, m1: positional line (json escapes) + trace context': past({ ...withLog(m1Line(outboundLine)), frontend: TRACE_M1 }),
  'outbound, m2: positional line + trace context': past({ ...withLog(m2Line(outboundLine)), frontend: TRACE }),
  'outbound, now (m3): positional line + trace context': now({ ...withLog(outboundLine), frontend: TRACE }),
  'inbound, before: JSON line + trace context': past(inbound({ ...withLog(jsonLine({ direction: 'inbound' })), frontend: TRACE_BEFORE, headers: FROM_SIDECAR_BEFORE })),
  'inbound, m1: positional line (json escapes) + trace context': past(inbound({ ...withLog(m1Line(inboundLine)), frontend: TRACE_M1, headers: FROM_SIDECAR })),
  'inbound, m2: positional line + trace context': past(inbound({ ...withLog(m2Line(inboundLine)), frontend: TRACE_INBOUND, headers: FROM_SIDECAR_NOW })),
  'inbound, now (m3): positional line + trace context': now(inbound({ ...withLog(inboundLine), frontend: TRACE_INBOUND, headers: FROM_SIDECAR_NOW })),
  'outbound, m1: positional line only': past(withLog(m1Line(outboundLine))),
  'outbound, m2: positional line only': past(withLog(m2Line(outboundLine))),
  'outbound, now (m3): positional line only': now(withLog(outboundLine)),
  'inbound, m1: positional line only': past(inbound({ ...withLog(m1Line(inboundLine)), headers: FROM_SIDECAR })),
  'inbound, m2: positional line only': past(inbound({ ...withLog(m2Line(inboundLine)), headers: FROM_SIDECAR })),
  'inbound, now (m3): positional line only': now(inbound({ ...withLog(inboundLine), headers: FROM_SIDECAR })),
  'outbound, m1: trace context only': { frontend: TRACE_M1 },
  'outbound, now: trace context only': { frontend: TRACE },
  'inbound, m1: trace context only': inbound({ frontend: TRACE_M1, headers: FROM_SIDECAR }),
  'inbound, now: trace context only': inbound({ frontend: TRACE_INBOUND, headers: FROM_SIDECAR_NOW }),
  // The parts.
  'trace: parsing a caller\'s traceparent, m1 (regex, field)': { frontend: TRACE_M1.slice(0, 4), headers: FROM_SIDECAR },
  'trace: parsing a caller\'s traceparent, now (fhdr, regex, bytes)': { frontend: TRACE.slice(0, TRACE_IDS), headers: FROM_SIDECAR },
  'trace: new ids (4 + 2 rand)': { frontend: traceIds },
  'trace: new ids now (2 × 64 bits)': { frontend: TRACE.slice(TRACE_IDS, TRACE_HEADERS) },
  'trace: a span id now (64 bits)': { frontend: TRACE.slice(TRACE_IDS, TRACE_IDS + 2) },
  'trace: a span id (2 rand)': { frontend: [traceIds[1]] },
  'trace: a span id from one uuid (set-var, regsub, bytes)': { frontend: ['http-request set-var(txn.span_id) uuid(4),regsub(-,,g),bytes(16,16)'] },
  'trace: a trace id from one uuid (set-var, regsub)': { frontend: ['http-request set-var(txn.trace_id) uuid(4),regsub(-,,g)'] },
  'trace: the 7 header rules before (fixed ids)': { frontend: [...FIXED_IDS, ...TRACE_BEFORE.slice(6)] },
  'trace: the header rules of m1 (fixed ids), a request without trace': { frontend: [...FIXED_IDS, ...TRACE_M1.slice(6)] },
  'trace: a receiving sidecar\'s header rules now (fixed ids), a request without trace': { frontend: [...FIXED_IDS, ...TRACE_INBOUND.slice(TRACE_HEADERS)] },
  'hdr: a set-header of a variable': { frontend: [...FIXED_IDS, 'http-request set-header x-b3-spanid %[var(txn.span_id)]'] },
  'hdr: a set-header of a fixed text': { frontend: [...FIXED_IDS, 'http-request set-header x-b3-sampled 1'] },
  'hdr: an add-header of a variable': { frontend: [...FIXED_IDS, 'http-request add-header x-b3-spanid %[var(txn.span_id)]'] },
  'hdr: a del-header of an absent header': { frontend: [...FIXED_IDS, 'http-request del-header x-b3-parentspanid'] },
  'hdr: a rule whose test fails (req.hdr -m found)': { frontend: [...FIXED_IDS, 'http-request set-header b3 x if { req.hdr(b3) -m found }'] },
  'log: a fixed text only': withLog('x'),
  'log: the method (%HM)': withLog('%HM'),
  'log: start and phases (%Ts%ms %Th %Ti)': withLog('%Ts%ms %Th %Ti'),
  'log: status, durations, bytes, retries (%ST %Ta %Tr %B %U %rc)': withLog('%ST %Ta %Tr %B %U %rc'),
  'log: backend, server, termination (%b %s %ts)': withLog('%b %s %ts'),
  'log: 10 unset variables': withLog(Array.from({ length: 10 }, (_, i) => `%[var(txn.unset${i})]`).join(' ')),
  'log: 3 set variables': now(withLog('%[var(txn.route)] %[var(txn.dest)] %[var(txn.rid)]')),
  'log: 3 set variables, json-escaped': { ...withLog('%[var(txn.rid),json(utf8s)] %[var(txn.host),json(utf8s)] %[var(txn.path),json(utf8s)]'), frontend: [RID, PATH] },
  'log: 3 set variables, url_enc': { ...withLog('%[var(txn.rid),url_enc] %[var(txn.host),url_enc] %[var(txn.path),url_enc]'), frontend: [RID, PATH] },
  'log: the path from a variable, url_enc, against HAProxy\'s own (%HPO)': { ...withLog('%[var(txn.path),url_enc] %HPO'), frontend: [PATH] },
  'JSON line (27 fields, 5 json converters) to stdout': past(withLog(jsonLine())),
  'JSON line without its json converters': past(withLog(jsonLine({ escape: false }))),
  'JSON line, its first 14 fields': past(withLog(jsonLine({ fields: 14 }))),
  'JSON line to a ring buffer': past(withLog(jsonLine(), 'ring')),
  'JSON line to syslog over loopback UDP': past(withLog(jsonLine(), 'udp')),
  'no access log, no trace context (again: the noise)': {},
};

const proxies = [];
for (const [name, v] of Object.entries(variants)) {
  if (ONLY && !new RegExp(ONLY).test(name) && !name.startsWith('no access log')) continue;
  const port = await freePort();
  const vdir = path.join(dir, String(proxies.length));
  await fs.mkdir(vdir);
  const cfg = [
    'global', '  nbthread 1', ...(v.log ? logTo[v.transport].map((l) => `  ${l}`) : []),
    ...(v.transport === 'ring' ? RING : []),
    'defaults', '  mode http', '  timeout connect 2s', '  timeout client 30s', '  timeout server 30s', ...(v.log ? ['  log global'] : []),
    'frontend outbound', `  bind 127.0.0.1:${port}`,
    ...(v.log ? [`  log-format ${formatString(v.log)}`] : []),
    ...[...REQUEST_VARIABLES, ...(v.inbound ? INBOUND_PEER : OUTBOUND_ROUTING), ...(v.frontend ?? [])].map((l) => `  ${l}`),
    '  default_backend b1',
    'backend b1', '  timeout server 300', `  server app 127.0.0.1:${appPort}`, '',
  ].join('\n');
  await fs.writeFile(path.join(vdir, 'haproxy.cfg'), cfg);
  const logFile = path.join(vdir, 'access.log');
  const callgrindOut = path.join(vdir, 'callgrind.out');
  const child = startHaproxy(path.join(vdir, 'haproxy.cfg'), logFile, INSTRUCTIONS ? callgrindWrapper(callgrindOut) : []);
  await waitPort(port, INSTRUCTIONS ? 60_000 : 5000);
  proxies.push({ name, port, pid: child.pid, headers: v.headers ?? {}, logFile, callgrindOut, perRequestUs: [] });
}

const run = (p, amount) => new Promise((resolve, reject) => {
  autocannon({ url: `http://127.0.0.1:${p.port}/reviews/1?user=a%20b`, connections: 8, amount, headers: { host: 'reviews', ...p.headers } }, (err, result) => (err ? reject(err) : resolve(result)));
});

/** Instructions a proxy ran under callgrind per request, over `count` requests after a warm-up. */
async function instructionsPerRequest(p, count) {
  await run(p, 200);
  let r;
  const total = await callgrindInstructions(p.pid, p.callgrindOut, async () => { r = await run(p, count); });
  if (r['2xx'] !== count) throw new Error(`${p.name}: ${r['2xx']} of ${count} answered 2xx`);
  return total / count;
}

if (INSTRUCTIONS) {
  console.log(`HAProxy instructions per request (user space, callgrind, ${REQUESTS} requests after 200, 8 keep-alive connections, 1 KiB answers)`);
  let base = null;
  for (const p of proxies) {
    const n = await instructionsPerRequest(p, REQUESTS);
    base ??= n;
    console.log(`  ${p.name.padEnd(62)} ${Math.round(n).toString().padStart(7)}  (${n - base >= 0 ? '+' : ''}${Math.round(n - base)})`);
  }
  stopHaproxies();
  syslog.close();
  await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
  process.exit(0);
}

/** The proxy's CPU µs per request over one block of REQUESTS requests. */
async function block(p) {
  const before = cpuSeconds(p.pid);
  const r = await run(p, REQUESTS);
  if (r['2xx'] !== REQUESTS) throw new Error(`${p.name}: ${r['2xx']} of ${REQUESTS} answered 2xx`);
  return ((cpuSeconds(p.pid) - before) * 1e6) / REQUESTS;
}

// Each variant's block follows a block of the baseline, and counts as its difference to it: the other
// work on a busy machine changes over seconds, so the pairs compare what ran in the same few seconds.
const [baseline, ...others] = proxies;
for (const p of proxies) await run(p, 2000);
for (let round = 0; round < ROUNDS; round++) {
  for (const p of others) {
    const base = await block(baseline);
    baseline.perRequestUs.push(base);
    const us = await block(p);
    p.perRequestUs.push(us);
    p.addedUs ??= [];
    p.addedUs.push(us - base);
  }
}
console.log(`HAProxy CPU per request (median of ${ROUNDS} rounds × ${REQUESTS} requests, 8 keep-alive connections, 1 KiB answers); added: the median of the differences to the baseline's block just before`);
for (const p of proxies) {
  const m = median(p.perRequestUs);
  const added = p.addedUs ? median(p.addedUs) : 0;
  const size = await fs.stat(p.logFile).then((s) => s.size, () => 0);
  const lines = size ? (await fs.readFile(p.logFile, 'utf8')).split('\n').filter(Boolean) : [];
  const bytes = lines.length ? ` ${Math.round(size / lines.length)} B/line` : '';
  console.log(`  ${p.name.padEnd(62)} ${m.toFixed(1).padStart(6)} µs  (${added >= 0 ? '+' : ''}${added.toFixed(1)} µs)${bytes}`);
}
if (datagrams) console.log(`  (${datagrams} datagrams received by the syslog listener)`);
syslog.close();
stopHaproxies();
await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
