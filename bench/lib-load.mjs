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

/** A keep-alive HTTP/1.1 connection carrying one request at a time, with a minimal response parser. */
class Conn {
  constructor(onAnswer, onFail) {
    this.busy = false;
    this.dead = false;
    this.ready = false;
    this.buf = Buffer.alloc(0);
    this.onAnswer = onAnswer;
    this.onFail = onFail;
    this.pending = null;
    this.socket = net.connect(opts.port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      this.ready = true;
      if (this.queued) {
        const q = this.queued;
        this.queued = null;
        this.write(q);
      }
    });
    this.socket.on('data', (d) => this.data(d));
    const fail = (why) => {
      if (this.dead) return;
      this.dead = true;
      const p = this.pending ?? this.queued;
      this.pending = null;
      this.queued = null;
      if (p) this.onFail(this, p, why);
      else this.onFail(this, null, why);
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
    req.sentNs = process.hrtime.bigint();
    this.pending = req;
    this.socket.write(REQUEST);
  }

  data(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (!this.pending) return;
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString('latin1');
      const status = Number(head.slice(9, 12));
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      let total;
      if (m) total = end + 4 + Number(m[1]);
      else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        const z = this.buf.indexOf('\r\n0\r\n\r\n', end);
        if (z < 0) return;
        total = z + 7;
      } else total = end + 4;
      if (this.buf.length < total) return;
      this.buf = this.buf.subarray(total);
      const req = this.pending;
      this.pending = null;
      this.busy = false;
      const close = /\r\nconnection:\s*close/i.test(head);
      if (close) {
        this.dead = true;
        this.socket.destroy();
      }
      this.onAnswer(this, req, status, process.hrtime.bigint());
      if (close) return;
    }
  }

  close() {
    this.dead = true;
    this.socket.destroy();
  }
}

const REQUEST = Buffer.from(`GET ${urlPath} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: meshctl-bench\r\nAccept: */*\r\n\r\n`, 'latin1');

function rate() {
  const rps = opts.rps ?? 1000;
  const count = opts.count ?? 1000;
  const warmup = opts.warmup ?? 0;
  const maxConnections = opts.maxConnections ?? 64;
  const timeoutMs = opts.timeoutMs ?? Math.ceil((count / rps) * 1000) + 10_000;
  const intervalNs = BigInt(Math.round(1e9 / rps));
  const latencies = [];
  const lags = [];
  const result = { mode: 'rate', rps, count, warmup, sent: 0, ok: 0, non2xx: 0, errors: 0, errorKinds: {}, connections: 0, waitedForConnection: 0 };
  const conns = [];
  let answered = 0;
  let next = 0;
  const backlog = [];

  return new Promise((resolve) => {
    let done = false;
    const finish = (timedOut) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      for (const c of conns) c.close();
      latencies.sort((a, b) => a - b);
      lags.sort((a, b) => a - b);
      const q = (x) => percentile(latencies, x) / 1000;
      Object.assign(result, {
        timedOut,
        seconds: Number(lastNs - startNs) / 1e9,
        achievedRps: result.sent / (Number(lastSentNs - startNs) / 1e9 || 1),
        measured: latencies.length,
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: latencies.length ? latencies[latencies.length - 1] / 1000 : NaN,
        mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length / 1000 : NaN,
        sendLagP99: percentile(lags, 0.99) / 1000,
      });
      resolve(result);
    };
    const guard = setTimeout(() => finish(true), timeoutMs);

    const settle = () => {
      answered++;
      if (answered === count) finish(false);
    };
    const onAnswer = (conn, req, status, atNs) => {
      if (status >= 200 && status < 300) result.ok++;
      else result.non2xx++;
      if (req.index >= warmup) latencies.push(Number(atNs - req.sentNs) / 1000);
      lastNs = atNs;
      settle();
      if (backlog.length && !conn.dead) dispatch(conn, backlog.shift());
    };
    const onFail = (conn, req, why) => {
      const i = conns.indexOf(conn);
      if (i >= 0) conns.splice(i, 1);
      if (req) {
        result.errors++;
        result.errorKinds[why] = (result.errorKinds[why] ?? 0) + 1;
        settle();
      }
    };
    const dispatch = (conn, req) => {
      conn.send(req);
      if (req.index >= warmup) lags.push(Number(req.sentNs ?? process.hrtime.bigint()) / 1000 - Number(req.dueNs) / 1000);
      lastSentNs = process.hrtime.bigint();
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
    const startNs = process.hrtime.bigint() + 50_000_000n;
    let lastNs = startNs;
    let lastSentNs = startNs;
    const tick = () => {
      if (done) return;
      const now = process.hrtime.bigint();
      while (next < count && startNs + BigInt(next) * intervalNs <= now) {
        sendOne({ index: next, dueNs: startNs + BigInt(next) * intervalNs });
        next++;
      }
      if (next < count) {
        const waitMs = Number(startNs + BigInt(next) * intervalNs - process.hrtime.bigint()) / 1e6;
        setTimeout(tick, Math.max(0, Math.floor(waitMs)));
      }
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
