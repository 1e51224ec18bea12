#!/usr/bin/env node
// The Gateway API conformance echo backend for the local mesh: it answers as the suite's echo server
// does (a JSON description of the request it received, naming its pod and namespace), with its
// /status, /retry, /health and /ws routes. Node only, no dependencies.
//
// Settings (environment): POD_NAME, NAMESPACE (else POD_NAMESPACE), HTTP_PORT (else PORT, else 3000), H2C_PORT (an HTTP/2
// cleartext listener when set), SERVICE_NAME, INGRESS_NAME, ECHO_EXIT_WITH_STDIN=1 (exit when stdin closes).
import http from 'node:http';
import http2 from 'node:http2';
import crypto from 'node:crypto';

const podName = process.env.POD_NAME ?? '';
const namespace = process.env.NAMESPACE ?? process.env.POD_NAMESPACE ?? '';
const httpPort = process.env.HTTP_PORT ?? process.env.PORT ?? '3000';

/** Go's canonical header name: each dash-separated word capitalised, the rest lower case. */
function canonicalHeaderName(name) {
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash, c) => dash + c.toUpperCase());
}

/** A Go duration (`300ms`, `1s`, `1m30s`) in milliseconds; null when unreadable. */
function goDurationMs(text) {
  if (typeof text !== 'string' || !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return null;
  const unit = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, value, , u] of text.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(value) * unit[u];
  return total;
}

/** Request headers as the echo reports them: every line kept, in order, Host left out. */
function headersOf(rawHeaders) {
  const out = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.startsWith(':') || name.toLowerCase() === 'host') continue;
    const key = canonicalHeaderName(name);
    (out[key] ??= []).push(rawHeaders[i + 1]);
  }
  return out;
}

/** Response headers the caller asked for in X-Echo-Set-Header (`Name:Value` items, comma separated). */
function requestedResponseHeaders(value) {
  const out = new Map();
  for (const item of String(value ?? '').split(',')) {
    const trimmed = item.trim();
    const colon = trimmed.indexOf(':');
    if (colon <= 0) continue;
    const name = trimmed.slice(0, colon).trim();
    const v = trimmed.slice(colon + 1).trim();
    if (!name) continue;
    out.set(name, out.has(name) ? `${out.get(name)},${v}` : v);
  }
  return out;
}

const retryCounters = new Map();

function reply(res, status, headers, body) {
  res.writeHead(status, headers);
  res.end(body);
}

function echo(req, res, proto, sleepMs) {
  const extra = requestedResponseHeaders(req.headers['x-echo-set-header']);
  const body = JSON.stringify({
    path: req.url,
    host: req.headers.host ?? req.headers[':authority'] ?? '',
    method: req.method,
    proto,
    headers: headersOf(req.rawHeaders),
    namespace,
    ingress: process.env.INGRESS_NAME ?? '',
    service: process.env.SERVICE_NAME ?? '',
    pod: podName,
    httpPort,
  }, null, ' ');
  const send = () => {
    if (res.destroyed) return;
    const headers = [['Content-Type', 'application/json'], ['X-Content-Type-Options', 'nosniff']];
    for (const [name, value] of extra) headers.push([name, value]);
    res.writeHead(200, headers.flat());
    res.end(body);
  };
  if (sleepMs > 0) setTimeout(send, sleepMs);
  else send();
}

function retry(req, res, url, proto) {
  const uuid = url.searchParams.get('uuid');
  if (!uuid) return reply(res, 400, { 'Content-Type': 'text/plain' }, 'uuid is required');
  const succeedAfter = Number.parseInt(url.searchParams.get('succeedAfter') ?? '', 10);
  if (!Number.isInteger(succeedAfter)) return reply(res, 400, { 'Content-Type': 'text/plain' }, 'succeedAfter is required');
  const count = retryCounters.get(uuid) ?? 0;
  if (count >= succeedAfter) return echo(req, res, proto, 0);
  retryCounters.set(uuid, count + 1);
  const fail = () => {
    const code = Number.parseInt(url.searchParams.get('responseCode') ?? '', 10);
    if (Number.isInteger(code)) return reply(res, code, {}, '');
    // No code asked for: the connection is reset, as by a crashing backend.
    req.socket.resetAndDestroy();
  };
  const delay = goDurationMs(url.searchParams.get('delayRetry') ?? '');
  if (delay) setTimeout(fail, delay);
  else fail();
}

/** WebSocket (RFC 6455) echo: every data frame goes back unchanged, unmasked. */
function websocket(req, socket) {
  const key = req.headers['sec-websocket-key'];
  if (!key) return socket.destroy();
  const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (buffered.length < 2) return;
      const opcode = buffered[0] & 0x0f;
      const masked = (buffered[1] & 0x80) !== 0;
      let length = buffered[1] & 0x7f;
      let offset = 2;
      if (length === 126) { if (buffered.length < 4) return; length = buffered.readUInt16BE(2); offset = 4; }
      else if (length === 127) { if (buffered.length < 10) return; length = Number(buffered.readBigUInt64BE(2)); offset = 10; }
      const maskAt = offset;
      if (masked) offset += 4;
      if (buffered.length < offset + length) return;
      const payload = Buffer.from(buffered.subarray(offset, offset + length));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buffered[maskAt + (i % 4)];
      buffered = buffered.subarray(offset + length);
      if (opcode === 0x8) { socket.end(Buffer.from([0x88, 0])); return; }
      const answerOpcode = opcode === 0x9 ? 0xa : opcode;
      const header = length < 126 ? Buffer.from([0x80 | answerOpcode, length])
        : length < 65536 ? Buffer.from([0x80 | answerOpcode, 126, length >> 8, length & 0xff])
          : (() => { const h = Buffer.alloc(10); h[0] = 0x80 | answerOpcode; h[1] = 127; h.writeBigUInt64BE(BigInt(length), 2); return h; })();
      socket.write(Buffer.concat([header, payload]));
    }
  });
  socket.on('error', () => socket.destroy());
}

function handle(req, res, proto) {
  const target = req.url ?? '/';
  console.log(`Echoing back request made to ${target} to client (${req.socket.remoteAddress}:${req.socket.remotePort})`);
  // The suite's server routes on the path with `//` collapsed.
  const url = new URL(target.replace(/\/\/+/g, '/'), 'http://echo');
  if (url.pathname === '/health') return reply(res, 200, { 'Content-Type': 'text/plain' }, 'OK');
  if (url.pathname === '/status' || url.pathname === '/retry') return reply(res, 301, { Location: `${url.pathname}/` }, '');
  if (url.pathname.startsWith('/status/')) {
    const m = /^\/status\/(\d\d\d)$/.exec(target);
    if (!m) return reply(res, 400, { 'Content-Type': 'text/plain' }, 'bad status');
    return reply(res, Number(m[1]), {}, '');
  }
  if (url.pathname.startsWith('/retry/')) return retry(req, res, url, proto);
  const delay = url.searchParams.has('delay') ? goDurationMs(url.searchParams.get('delay')) : 0;
  echo(req, res, proto, delay ?? 0);
}

const server = http.createServer((req, res) => handle(req, res, `HTTP/${req.httpVersion}`));
server.on('upgrade', (req, socket) => {
  if (String(req.headers.upgrade).toLowerCase() === 'websocket') {
    console.log(`Echoing back request made to ${req.url} to client (${req.socket.remoteAddress}:${req.socket.remotePort})`);
    websocket(req, socket);
  } else socket.destroy();
});
server.keepAliveTimeout = 65_000;
server.listen(Number(httpPort), '127.0.0.1');

if (process.env.H2C_PORT) {
  const h2c = http2.createServer((req, res) => handle(req, res, 'HTTP/2.0'));
  h2c.listen(Number(process.env.H2C_PORT), '127.0.0.1');
}

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
// Started by a harness that gives it a pipe for stdin: when the harness goes away, so does the echo.
if (process.env.ECHO_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
