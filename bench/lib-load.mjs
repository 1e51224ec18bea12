#!/usr/bin/env node
// Load generators of the data-plane benchmark, run as their own process (so that the benchmark can
// pin them to a CPU). Every load is bounded in count and in time, and goes to 127.0.0.1 only.
//
//   node bench/lib-load.mjs '<json options>'
//
// mode "saturate": autocannon, closed loop, `connections` keep-alive connections for `durationS`
//   seconds (at most `maxRequests`), or exactly `amount` requests. Prints requests/s of 2xx answers.
// mode "rate": an open-loop generator at a fixed `rps` for `count` requests (the first `warmup` left
//   out of the figures). A request is written at its scheduled time on an idle keep-alive connection,
//   or on a new one (at most `maxConnections`), never waiting for an earlier answer, so a slow
//   answer cannot hold back the requests after it. Latency runs from the write of the request to
//   the last byte of its answer, in microseconds (autocannon's histogram only resolves whole ms).
// Prints one JSON line with the result.
import net from 'node:net';

const opts = JSON.parse(process.argv[2] ?? '{}');
if (!Number.isInteger(opts.port) || opts.port <= 0) {
  process.stderr.write('usage: lib-load.mjs \'{"mode":"saturate"|"rate","port":N,...}\'\n');
  process.exit(2);
}
const host = opts.host ?? '127.0.0.1';
const urlPath = opts.path ?? '/';

// The benchmark closes this pipe when it ends: never outlive it.
process.stdin.on('end', () => process.exit(3));
process.stdin.on('error', () => process.exit(3));
process.stdin.resume();

function percentile(sorted, q) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

async function saturate() {
  const { default: autocannon } = await import('autocannon');
  const options = {
    url: `http://127.0.0.1:${opts.port}${urlPath}`,
    headers: { host },
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
  const started = process.hrtime.bigint();
  const r = await autocannon(options);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const ok = r['2xx'];
  return {
    mode: 'saturate',
    requests: r.requests.total,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    seconds,
    rps: ok / seconds,
  };
}

/**
 * A keep-alive HTTP/1.1 connection carrying one request at a time (a request is its index in the
 * run), with a minimal response parser. Times are performance.now() values (ms, sub-µs precision).
 */
class Conn {
  constructor(onAnswer, onFail) {
    this.busy = false;
    this.dead = false;
    this.ready = false;
    this.buf = null;
    this.onAnswer = onAnswer;
    this.onFail = onFail;
    this.pending = -1;
    this.queued = -1;
    this.socket = net.connect(opts.port, '127.0.0.1');
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
      this.onFail(this, p, why);
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
    sentAt[req] = performance.now();
    this.pending = req;
    this.socket.write(REQUEST);
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
      const close = CLOSE.test(head);
      if (close) {
        this.dead = true;
        this.socket.destroy();
      }
      this.onAnswer(this, req, status, at);
      if (close) return;
    }
  }

  close() {
    this.dead = true;
    this.socket.destroy();
  }
}

const REQUEST = Buffer.from(`GET ${urlPath} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: meshctl-bench\r\nAccept: */*\r\n\r\n`, 'latin1');
const CRLF2 = Buffer.from('\r\n\r\n');
const LAST_CHUNK = Buffer.from('\r\n0\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;
const CHUNKED = /\r\ntransfer-encoding:\s*chunked/i;
const CLOSE = /\r\nconnection:\s*close/i;
// Per request (by index): when it was written. Preallocated: nothing per request for the collector.
let sentAt = new Float64Array(0);

function rate() {
  const rps = opts.rps ?? 1000;
  const count = opts.count ?? 1000;
  const warmup = opts.warmup ?? 0;
  const maxConnections = opts.maxConnections ?? 64;
  const timeoutMs = opts.timeoutMs ?? Math.ceil((count / rps) * 1000) + 10_000;
  const intervalMs = 1000 / rps;
  sentAt = new Float64Array(count);
  const latencies = new Float64Array(count);
  const lags = new Float64Array(count);
  let measured = 0;
  let lagged = 0;
  const result = { mode: 'rate', rps, count, warmup, sent: 0, ok: 0, non2xx: 0, errors: 0, errorKinds: {}, connections: 0, waitedForConnection: 0 };
  const conns = [];
  let answered = 0;
  let next = 0;
  const backlog = [];
  const startMs = performance.now() + 50;
  const dueAt = (i) => startMs + i * intervalMs;
  let lastMs = startMs;
  let lastSentMs = startMs;

  return new Promise((resolve) => {
    let done = false;
    const finish = (timedOut) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      for (const c of conns) c.close();
      const lat = latencies.subarray(0, measured).sort();
      const lag = lags.subarray(0, lagged).sort();
      const q = (x) => percentile(lat, x);
      Object.assign(result, {
        timedOut,
        seconds: (lastMs - startMs) / 1000,
        achievedRps: result.sent / ((lastSentMs - startMs) / 1000 || 1),
        measured,
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: measured ? lat[measured - 1] : NaN,
        mean: measured ? lat.reduce((a, b) => a + b, 0) / measured : NaN,
        sendLagP99: percentile(lag, 0.99),
      });
      resolve(result);
    };
    const guard = setTimeout(() => finish(true), timeoutMs);

    const settle = () => {
      answered++;
      if (answered === count) finish(false);
    };
    const dispatch = (conn, req) => {
      conn.send(req);
      lastSentMs = performance.now();
      if (req >= warmup) lags[lagged++] = lastSentMs - dueAt(req);
    };
    const onAnswer = (conn, req, status, at) => {
      if (status >= 200 && status < 300) result.ok++;
      else result.non2xx++;
      if (req >= warmup) latencies[measured++] = at - sentAt[req];
      lastMs = at;
      settle();
      if (backlog.length && !conn.dead) dispatch(conn, backlog.shift());
    };
    const onFail = (conn, req, why) => {
      const i = conns.indexOf(conn);
      if (i >= 0) conns.splice(i, 1);
      if (req >= 0) {
        result.errors++;
        result.errorKinds[why] = (result.errorKinds[why] ?? 0) + 1;
        settle();
      }
    };
    const sendOne = (req) => {
      result.sent++;
      let conn = conns.find((c) => !c.busy && !c.dead);
      if (!conn && conns.length < maxConnections) {
        conn = new Conn(onAnswer, onFail);
        conns.push(conn);
        result.connections++;
      }
      if (conn) dispatch(conn, req);
      else {
        result.waitedForConnection++;
        backlog.push(req);
      }
    };
    // A few connections up front, as a client with a warm pool has.
    for (let i = 0; i < Math.min(4, maxConnections); i++) {
      conns.push(new Conn(onAnswer, onFail));
      result.connections++;
    }
    const tick = () => {
      if (done) return;
      const now = performance.now();
      while (next < count && dueAt(next) <= now) sendOne(next++);
      if (next < count) setTimeout(tick, Math.max(0, Math.floor(dueAt(next) - performance.now())));
    };
    setTimeout(tick, 50);
  });
}

const out = opts.mode === 'saturate' ? await saturate() : await rate();
// The generator's own CPU time (user + system), so that the benchmark can tell what the client cost.
const used = process.cpuUsage();
out.cpuSeconds = (used.user + used.system) / 1e6;
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
