#!/usr/bin/env node
// Micro-benchmark of what metrics and tracing cost a sidecar per request: HAProxy CPU time per
// request of one proxy (one thread) in front of a fixed answer (another HAProxy returning 1 KiB), for
// variants of the access-log line (its fields, JSON against a positional line, its converters, where
// it is written) and of the trace-context rules, measured in the same run and interleaved, so that
// noise from other work on the machine falls on every variant alike.
//
//   npm run build && node bench/obs-cost.mjs [--requests N] [--rounds N] [--only SUBSTRING]
//
// Prints, per variant, the median over the rounds of the proxy's CPU µs per request, and its
// difference to the proxy without access log and trace context.
import dgram from 'node:dgram';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './harness.mjs';
import { cpuSeconds, freePort, startFixedAnswer, startHaproxy, stopHaproxies, waitPort } from './lib-proxy.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const REQUESTS = Number(flag('--requests')) || 20_000;
const ROUNDS = Number(flag('--rounds')) || 3;
const ONLY = flag('--only');
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

// What every HTTP frontend of a sidecar sets before its routing, whether it logs or not (compiler.ts).
const REQUEST_VARIABLES = [
  'http-request set-var(txn.host) req.hdr(host),field(1,:),lower',
  'http-request set-var(txn.path) path',
  'http-request set-header x-request-id %[uuid(4)] unless { req.hdr(x-request-id) -m found }',
  'http-request set-var(txn.rid) req.hdr(x-request-id)',
  'http-request set-var(txn.route) str(reviews)',
  'http-request set-var(txn.dest_host) str(reviews)',
  'http-request set-var(txn.dest_subset) str(v1)',
];

const PROXY = 'productpage-0';
const IDENTITY = 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage';

/**
 * The JSON line meshctl's sidecars wrote until the positional line replaced it, field by field;
 * `escape` false drops the JSON converters, `fields` keeps only the first N members.
 */
function jsonLine({ escape = true, fields = Infinity } = {}) {
  const escaped = (v) => (escape ? `%[${v},json(utf8s)]` : `%[${v}]`);
  const plain = (v) => `%[${v}]`;
  const members = [
    '"start_ms":%Ts%ms', '"handshake_ms":%Th', '"idle_ms":%Ti',
    `"request_id":"${escaped('var(txn.rid)')}"`, `"proxy":"${PROXY}"`, '"direction":"outbound"', `"source":"${IDENTITY}"`,
    '"method":"%HM"', `"host":"${escaped('var(txn.host)')}"`, `"path":"${escaped('var(txn.path)')}"`, `"route":"${plain('var(txn.route)')}"`,
    `"destination_host":"${plain('var(txn.dest_host)')}"`, `"destination_subset":"${plain('var(txn.dest_subset)')}"`,
    '"backend":"%b"', '"server":"%s"', '"status":%ST', '"duration_ms":%Ta', '"upstream_ms":%Tr', '"retries":"%rc"', '"bytes":%B', '"request_bytes":%U',
    `"peer":"${escaped('var(txn.peer)')}"`,
    '"trace_id":"%[var(txn.trace_id)]"', '"span_id":"%[var(txn.span_id)]"', '"parent_span_id":"%[var(txn.parent_span_id)]"',
    '"termination":"%ts"', `"response_flags":"${plain('var(txn.response_flags)')}"`,
  ];
  return `{${members.slice(0, fields).join(',')}}`;
}

const logTo = {
  stdout: ['log stdout format raw local0 info'],
  ring: ['log ring@accesslog format raw local0 info'],
  udp: [`log 127.0.0.1:${syslogPort} format raw local0 info`],
};
const RING = ['ring accesslog', '  format raw', '  maxlen 4096', '  size 1048576'];

const positional = accessLog.accessLogFormat?.({ proxy: PROXY, direction: 'outbound', source: { literal: IDENTITY } });
const withLog = (format, transport = 'stdout') => ({ log: format, transport });
const TRACE = tracing.traceContextLines();
const TRACEPARENT = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'x-request-id': '7c9e6679-7425-40de-944b-e07cc1b7e4f1' };

const RAND_HEX = '%[rand,bytes(4),hex,lower]';
/** Pieces of the trace-context rules, to see what each costs. */
const traceParse = TRACE.slice(0, 4);
const traceIds = [
  `http-request set-var-fmt(txn.trace_id) ${formatString(RAND_HEX.repeat(4))} unless { var(txn.trace_id) -m found }`,
  `http-request set-var-fmt(txn.span_id) ${formatString(RAND_HEX.repeat(2))}`,
];
const traceHeaders = TRACE.filter((l) => l.includes('-header '));
const uuidIds = [
  `http-request set-var-fmt(txn.trace_id) ${formatString('%[uuid(4),regsub(-,,g)]')} unless { var(txn.trace_id) -m found }`,
  `http-request set-var-fmt(txn.span_id) ${formatString(RAND_HEX.repeat(2))}`,
];

const variants = {
  'no access log, no trace context': {},
  'trace context (a request without one)': { frontend: TRACE },
  'trace context (a request with traceparent)': { frontend: TRACE, headers: TRACEPARENT },
  'trace: parsing the caller\'s traceparent only': { frontend: traceParse, headers: TRACEPARENT },
  'trace: new ids only (4 + 2 rand)': { frontend: traceIds },
  'trace: new trace id from one uuid, span id from 2 rand': { frontend: uuidIds },
  'trace: span id only, 2 rand (set-var-fmt)': { frontend: [traceIds[1]] },
  'trace: span id only, one uuid (set-var, regsub, bytes)': { frontend: ['http-request set-var(txn.span_id) uuid(4),regsub(-,,g),bytes(16,16)'] },
  'trace: trace id only, one uuid (set-var, regsub)': { frontend: ['http-request set-var(txn.trace_id) uuid(4),regsub(-,,g)'] },
  'trace: the 7 header rules only (fixed ids)': { frontend: ['http-request set-var(txn.trace_id) str(4bf92f3577b34da6a3ce929d0e0e4736)', 'http-request set-var(txn.span_id) str(00f067aa0ba902b7)', ...traceHeaders] },
  'JSON line (27 fields, 5 json converters) to stdout': withLog(jsonLine()),
  'JSON line without its json converters': withLog(jsonLine({ escape: false })),
  'JSON line, its first 14 fields': withLog(jsonLine({ fields: 14 })),
  'JSON line to a ring buffer': withLog(jsonLine(), 'ring'),
  'JSON line to syslog over loopback UDP': withLog(jsonLine(), 'udp'),
  'JSON line + trace context (as before)': { ...withLog(jsonLine()), frontend: TRACE },
  'no access log, no trace context (again: the noise)': {},
  ...(positional ? {
    'positional line (as now)': withLog(positional),
    'positional line + trace context (as now)': { ...withLog(positional), frontend: TRACE },
    'positional line + trace context, with traceparent (as now)': { ...withLog(positional), frontend: TRACE, headers: TRACEPARENT },
  } : {}),
};

const proxies = [];
for (const [name, v] of Object.entries(variants)) {
  if (ONLY && !name.includes(ONLY) && !name.startsWith('no access log')) continue;
  const port = await freePort();
  const vdir = path.join(dir, String(proxies.length));
  await fs.mkdir(vdir);
  const cfg = [
    'global', '  nbthread 1', ...(v.log ? logTo[v.transport].map((l) => `  ${l}`) : []),
    ...(v.transport === 'ring' ? RING : []),
    'defaults', '  mode http', '  timeout connect 2s', '  timeout client 30s', '  timeout server 30s', ...(v.log ? ['  log global'] : []),
    'frontend outbound', `  bind 127.0.0.1:${port}`,
    ...(v.log ? [`  log-format ${formatString(v.log)}`] : []),
    ...[...REQUEST_VARIABLES, ...(v.frontend ?? [])].map((l) => `  ${l}`),
    '  default_backend b1',
    'backend b1', '  timeout server 300', `  server app 127.0.0.1:${appPort}`, '',
  ].join('\n');
  await fs.writeFile(path.join(vdir, 'haproxy.cfg'), cfg);
  const logFile = path.join(vdir, 'access.log');
  const child = startHaproxy(path.join(vdir, 'haproxy.cfg'), logFile);
  await waitPort(port);
  proxies.push({ name, port, pid: child.pid, headers: v.headers ?? {}, logFile, perRequestUs: [] });
}

const run = (p, amount) => new Promise((resolve, reject) => {
  autocannon({ url: `http://127.0.0.1:${p.port}/reviews/1?user=a%20b`, connections: 8, amount, headers: { host: 'reviews', ...p.headers } }, (err, result) => (err ? reject(err) : resolve(result)));
});

for (const p of proxies) await run(p, 2000);
for (let round = 0; round < ROUNDS; round++) {
  for (const p of proxies) {
    const before = cpuSeconds(p.pid);
    const r = await run(p, REQUESTS);
    const ok = r['2xx'];
    if (ok !== REQUESTS) throw new Error(`${p.name}: ${ok} of ${REQUESTS} answered 2xx`);
    p.perRequestUs.push(((cpuSeconds(p.pid) - before) * 1e6) / REQUESTS);
  }
}
const base = median(proxies[0].perRequestUs);
console.log(`HAProxy CPU per request (median of ${ROUNDS} rounds × ${REQUESTS} requests, 8 keep-alive connections, 1 KiB answers)`);
for (const p of proxies) {
  const m = median(p.perRequestUs);
  const size = await fs.stat(p.logFile).then((s) => s.size, () => 0);
  const lines = size ? (await fs.readFile(p.logFile, 'utf8')).split('\n').filter(Boolean) : [];
  const bytes = lines.length ? ` ${Math.round(size / lines.length)} B/line` : '';
  console.log(`  ${p.name.padEnd(62)} ${m.toFixed(1).padStart(6)} µs  (${m - base >= 0 ? '+' : ''}${(m - base).toFixed(1)} µs)${bytes}`);
}
if (datagrams) console.log(`  (${datagrams} datagrams received by the syslog listener)`);
syslog.close();
stopHaproxies();
await fs.rm(dir, { recursive: true, force: true });
