#!/usr/bin/env node
// Load generators of the data-plane benchmark, run as their own process (so that the benchmark can
// pin them to a CPU). Every load is bounded in count and in time, and goes to 127.0.0.1 only.
//
//   node bench/lib-load.mjs '<json options>'
//
// mode "saturate": autocannon, closed loop, `connections` keep-alive connections to `port` for
//   `durationS` seconds (at most `maxRequests`), or exactly `amount` requests. Reports requests/s of
//   2xx answers.
// mode "rate": an open-loop generator sending `count` requests at a fixed `rps` to each of `targets`
//   (the first `warmup` of each left out of the figures), one target at a time in blocks of
//   `blockMs` that take turns (A for a block, then B, then A…), so that the targets meet the same
//   stretches of the machine's noise without sharing a moment. With `blockMs` at one interval the
//   targets take turns request by request: together they get `rps`, each its share. `latencies`: the
//   figures carry every latency. A request is written at its scheduled time on an idle
//   keep-alive connection of its target, or on a new one (at most `maxConnections`), never waiting
//   for an earlier answer, so a slow answer cannot hold back the requests after it. A connection
//   left idle for IDLE_LIMIT_MS is closed by the generator instead of being used again, as a
//   well-behaved client does: a server closing a keep-alive connection at its idle timeout while a
//   request is being written on it would otherwise fail that request, a race of the client's making
//   and not the server's. Latency runs
//   from the write of the request to the last byte of its answer, with sub-microsecond resolution
//   (autocannon's histogram resolves whole ms); timings go to preallocated arrays, so the generator
//   makes little garbage and seldom pauses for its own collector.
// Prints one JSON line with the result, including the generator's own CPU time.
import net from 'node:net';
import { percentile } from './harness.mjs';

const opts = JSON.parse(process.argv[2] ?? '{}');
const validPort = (p) => Number.isInteger(p) && p > 0 && p < 65536;
if (opts.mode === 'saturate' ? !validPort(opts.port) : !(opts.targets?.length && opts.targets.every((t) => validPort(t.port)))) {
  process.stderr.write('usage: lib-load.mjs \'{"mode":"saturate","port":N,...}\' | \'{"mode":"rate","targets":[{"name":"a","port":N}],...}\'\n');
  process.exit(2);
}

// The benchmark closes this pipe when it ends: never outlive it.
process.stdin.on('end', () => process.exit(3));
process.stdin.on('error', () => process.exit(3));
process.stdin.resume();


async function saturate() {
  const { default: autocannon } = await import('autocannon');
  const options = {
    url: `http://127.0.0.1:${opts.port}${opts.path ?? '/'}`,
    headers: { host: opts.host ?? '127.0.0.1' },
    connections: opts.connections ?? 32,
    pipelining: 1,
    timeout: 10,
    renderProgressBar: false,
    renderLatencyTable: false,
    renderResultsTable: false,
  };
  if (opts.amount) options.amount = opts.amount;
  else {
    options.duration = opts.durationS ?? 5;
    options.maxOverallRequests = opts.maxRequests ?? 500_000;
  }
  const started = performance.now();
  const r = await autocannon(options);
  const seconds = (performance.now() - started) / 1000;
  const ok = r['2xx'];
  const errorKinds = {};
  for (const [code, { count }] of Object.entries(r.statusCodeStats ?? {})) if (!code.startsWith('2') && count) errorKinds[`HTTP ${code}`] = count;
  if (r.timeouts) errorKinds.timeout = r.timeouts;
  if (r.errors - r.timeouts > 0) errorKinds['connection error'] = r.errors - r.timeouts;
  return { mode: 'saturate', requests: r.requests.total, ok, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, errorKinds, seconds, rps: ok / seconds };
}

/** Idle time after which the generator closes a connection itself: well inside every keep-alive timeout it meets (the sidecars' 30 s, the bench app's 65 s). */
const IDLE_LIMIT_MS = 10_000;
const CRLF2 = Buffer.from('\r\n\r\n');
const LAST_CHUNK = Buffer.from('\r\n0\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;
const CHUNKED = /\r\ntransfer-encoding:\s*chunked/i;
const CLOSE = /\r\nconnection:\s*close/i;

/**
 * A keep-alive HTTP/1.1 connection of one stream, carrying one request at a time (a request is its
 * index in the stream), with a minimal response parser. Times are performance.now() values (ms).
 */
class Conn {
  constructor(stream) {
    this.stream = stream;
    this.busy = false;
    this.idleSince = performance.now();
    this.dead = false;
    this.ready = false;
    this.buf = null;
    this.pending = -1;
    this.queued = -1;
    this.socket = net.connect(stream.port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      this.ready = true;
      if (this.queued >= 0) {
        const q = this.queued;
        this.queued = -1;
        this.write(q);
      }
    });
    this.socket.on('data', (d) => this.data(d));
    const fail = (why) => {
      if (this.dead) return;
      this.dead = true;
      const p = this.pending >= 0 ? this.pending : this.queued;
      this.pending = -1;
      this.queued = -1;
      this.stream.failed(this, p, why);
    };
    this.socket.on('error', (e) => fail(e.code ?? e.message));
    this.socket.on('close', () => fail('connection closed'));
  }

  send(req) {
    this.busy = true;
    if (!this.ready) this.queued = req;
    else this.write(req);
  }

  write(req) {
    this.stream.sentAt[req] = performance.now();
    this.pending = req;
    this.socket.write(this.stream.request);
  }

  data(chunk) {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.pending >= 0 && this.buf) {
      const buf = this.buf;
      const end = buf.indexOf(CRLF2);
      if (end < 0) return;
      const head = buf.toString('latin1', 0, end);
      const status = Number(head.slice(9, 12));
      const m = CONTENT_LENGTH.exec(head);
      let total;
      if (m) total = end + 4 + Number(m[1]);
      else if (CHUNKED.test(head)) {
        const z = buf.indexOf(LAST_CHUNK, end);
        if (z < 0) return;
        total = z + 7;
      } else total = end + 4;
      if (buf.length < total) return;
      const at = performance.now();
      this.buf = buf.length > total ? buf.subarray(total) : null;
      const req = this.pending;
      this.pending = -1;
      this.busy = false;
      this.idleSince = at;
      const close = CLOSE.test(head);
      if (close) {
        this.dead = true;
        this.socket.destroy();
      }
      this.stream.answered(this, req, status, at);
      if (close) return;
    }
  }

  close() {
    this.dead = true;
    this.socket.destroy();
  }
}

/** One target's requests: its schedule, connections and figures. */
class Stream {
  constructor(target, { count, warmup, maxConnections, dueAt, intervalMs, onSettled }) {
    this.name = target.name ?? String(target.port);
    this.port = target.port;
    this.request = Buffer.from(`GET ${target.path ?? '/'} HTTP/1.1\r\nHost: ${target.host ?? '127.0.0.1'}\r\nUser-Agent: meshctl-bench\r\nAccept: */*\r\n\r\n`, 'latin1');
    this.count = count;
    this.warmup = warmup;
    this.maxConnections = maxConnections;
    this.dueAt = dueAt;
    this.intervalMs = intervalMs;
    this.onSettled = onSettled;
    this.sentAt = new Float64Array(count);
    this.latencies = new Float64Array(count);
    this.lags = new Float64Array(count);
    this.measured = 0;
    this.lagged = 0;
    this.next = 0;
    this.backlog = [];
    this.conns = [];
    this.firstSent = NaN;
    this.lastSent = NaN;
    this.r = { sent: 0, ok: 0, non2xx: 0, errors: 0, errorKinds: {}, connections: 0, waitedForConnection: 0 };
    // A few connections up front, as a client with a warm pool has.
    for (let i = 0; i < Math.min(4, maxConnections); i++) this.open();
  }

  open() {
    const c = new Conn(this);
    this.conns.push(c);
    this.r.connections++;
    return c;
  }

  dispatch(conn, req) {
    conn.send(req);
    const now = performance.now();
    if (Number.isNaN(this.firstSent)) this.firstSent = now;
    this.lastSent = now;
    if (req >= this.warmup) this.lags[this.lagged++] = now - this.dueAt(req);
  }

  sendDue(now) {
    while (this.next < this.count && this.dueAt(this.next) <= now) {
      const req = this.next++;
      this.r.sent++;
      let conn = this.idleConn(now);
      if (!conn && this.conns.length < this.maxConnections) conn = this.open();
      if (conn) this.dispatch(conn, req);
      else {
        this.r.waitedForConnection++;
        this.backlog.push(req);
      }
    }
  }

  /** An idle connection to write on, closing those idle for longer than IDLE_LIMIT_MS on the way. */
  idleConn(now) {
    for (let i = 0; i < this.conns.length; i++) {
      const c = this.conns[i];
      if (c.busy || c.dead) continue;
      if (now - c.idleSince < IDLE_LIMIT_MS) return c;
      c.close();
      this.conns.splice(i--, 1);
    }
    return undefined;
  }

  answered(conn, req, status, at) {
    if (status >= 200 && status < 300) this.r.ok++;
    else {
      this.r.non2xx++;
      // A failure's kind, beside connection errors': which status was answered.
      this.r.errorKinds[`HTTP ${status}`] = (this.r.errorKinds[`HTTP ${status}`] ?? 0) + 1;
    }
    if (req >= this.warmup) this.latencies[this.measured++] = at - this.sentAt[req];
    this.onSettled();
    if (this.backlog.length && !conn.dead) this.dispatch(conn, this.backlog.shift());
  }

  failed(conn, req, why) {
    const i = this.conns.indexOf(conn);
    if (i >= 0) this.conns.splice(i, 1);
    if (req >= 0) {
      this.r.errors++;
      this.r.errorKinds[why] = (this.r.errorKinds[why] ?? 0) + 1;
      this.onSettled();
    }
  }

  figures() {
    for (const c of this.conns) c.close();
    const lat = this.latencies.subarray(0, this.measured).sort();
    const lag = this.lags.subarray(0, this.lagged).sort();
    const q = (x) => percentile(lat, x);
    return {
      ...this.r,
      // Requests per second of the time this target was sending (its blocks only).
      achievedRps: this.r.sent > 1 ? ((this.r.sent - 1) * 1000) / (this.lastSent - this.firstSent) * ((this.dueAt(this.r.sent - 1) - this.dueAt(0)) / ((this.r.sent - 1) * this.intervalMs)) : NaN,
      measured: this.measured,
      p50: q(0.5),
      p90: q(0.9),
      p99: q(0.99),
      p999: q(0.999),
      max: this.measured ? lat[this.measured - 1] : NaN,
      mean: this.measured ? lat.reduce((a, b) => a + b, 0) / this.measured : NaN,
      sendLagP99: percentile(lag, 0.99),
      // Every latency (ms, to the µs), when asked: a benchmark pools them over its runs.
      ...(opts.latencies ? { latencies: Array.from(lat, (x) => Math.round(x * 1000) / 1000) } : {}),
    };
  }
}

function rate() {
  const rps = opts.rps ?? 1000;
  const count = opts.count ?? 1000;
  const warmup = opts.warmup ?? 0;
  const maxConnections = opts.maxConnections ?? 64;
  // The targets take turns: the schedule of all of them lasts count × targets intervals.
  const timeoutMs = opts.timeoutMs ?? Math.ceil(((count * opts.targets.length) / rps) * 1000) + 10_000;
  const intervalMs = 1000 / rps;
  const startMs = performance.now() + 50;
  const n = opts.targets.length;
  let settled = 0;

  return new Promise((resolve) => {
    let done = false;
    const finish = (timedOut) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      const targets = Object.fromEntries(streams.map((s) => [s.name, s.figures()]));
      resolve({ mode: 'rate', rps, count, warmup, timedOut, seconds: (performance.now() - startMs) / 1000, targets });
    };
    const guard = setTimeout(() => finish(true), timeoutMs);
    const onSettled = () => {
      settled++;
      if (settled === count * n) finish(false);
    };
    // Request j of target k is request g of the whole run, which is due at startMs + g × interval.
    const perBlock = Math.max(1, Math.round((rps * (opts.blockMs ?? 1000)) / 1000));
    const streams = opts.targets.map((t, k) => new Stream(t, {
      count, warmup, maxConnections, intervalMs, onSettled,
      dueAt: (j) => startMs + (Math.floor(j / perBlock) * perBlock * n + k * perBlock + (j % perBlock)) * intervalMs,
    }));
    const tick = () => {
      if (done) return;
      const now = performance.now();
      for (const s of streams) s.sendDue(now);
      const next = Math.min(...streams.map((s) => (s.next < count ? s.dueAt(s.next) : Infinity)));
      if (next !== Infinity) setTimeout(tick, Math.max(0, Math.floor(next - performance.now())));
    };
    setTimeout(tick, 50);
  });
}

const out = opts.mode === 'saturate' ? await saturate() : await rate();
const used = process.cpuUsage();
out.cpuSeconds = (used.user + used.system) / 1e6;
// A pipe takes a large result in parts: exit once all of it is written.
process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
