#!/usr/bin/env node
// Where Istio's standard metrics are cheapest to make: the CPU each request costs when the agent makes
// them from the access-log lines the sidecars write anyway, against the CPU a sidecar spends when it
// counts them itself (a Lua action per request, the least HAProxy can run per request for labelled
// counters), both measured in this run.
//
// 1. agent: N access-log lines as the sidecars write them (both reports of a hop), parsed and counted
//    by the agent's code (dist/); CPU time per line, off the request's path.
// 2. sidecar: one HAProxy (nbthread 1) answering N requests on keep-alive connections itself, with and
//    without a Lua action that reads the request's labels and increments a counter per label set;
//    the proxy's CPU time per request (from /proc), the difference being on the request's path.
// 3. tracing: the same HAProxy with the trace-context rules every sidecar runs (tracing.ts), against
//    the plain one.
//
//   npm run build && node bench/metrics.mjs [--requests N]
//
// Exit code: 0 measured, 2 the benchmark could not run.
import { spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist', 'src');
const args = process.argv.slice(2);
const REQUESTS = Number(args.includes('--requests') ? args[args.indexOf('--requests') + 1] : 0) || 20_000;
const RUNS = 3;

const { parseAccessLog } = await import(pathToFileURL(path.join(dist, 'lib/runtime/haproxy/access-log.js')).href);
const { IstioMetrics } = await import(pathToFileURL(path.join(dist, 'lib/runtime/istio-metrics.js')).href);
const { traceContextLines } = await import(pathToFileURL(path.join(dist, 'lib/runtime/haproxy/tracing.js')).href);

function logLines(n) {
  const lines = [];
  for (let i = 0; i < n; i++) {
    const version = i % 2 ? 'v1' : 'v2';
    const common = { time: '2026-01-01T00:00:00Z', start_ms: 1_700_000_000_000 + i, request_id: `id-${i}`, method: 'GET', host: 'reviews', path: '/reviews/1', status: i % 50 ? 200 : 503, duration_ms: 3 + (i % 40), upstream_ms: 2, retries: '0', bytes: 1200, request_bytes: 180, termination: '--' };
    lines.push(JSON.stringify({ ...common, proxy: 'productpage-v1-0', direction: 'outbound', source: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', route: 'reviews.0', destination_host: 'reviews.default.svc.cluster.local', destination_subset: version, backend: 'reviews.0:0', server: `reviews-${version}-0`, peer: '-' }));
    lines.push(JSON.stringify({ ...common, proxy: `reviews-${version}-0`, direction: 'inbound', source: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', route: '-', destination_host: 'reviews', destination_subset: '-', backend: 'inbound_app', server: 'app', peer: 'productpage-v1-0' }));
  }
  return `${lines.join('\n')}\n`;
}

function agentCost() {
  const peer = (name, workload, app, version, sa) => [name, { name, namespace: 'default', workload, labels: { app, version }, principal: `spiffe://cluster.local/ns/default/sa/${sa}` }];
  const peers = new Map([peer('productpage-v1-0', 'productpage-v1', 'productpage', 'v1', 'bookinfo-productpage'), peer('reviews-v1-0', 'reviews-v1', 'reviews', 'v1', 'bookinfo-reviews'), peer('reviews-v2-0', 'reviews-v2', 'reviews', 'v2', 'bookinfo-reviews')]);
  const text = logLines(REQUESTS);
  const perLine = [];
  for (let run = 0; run < RUNS + 1; run++) {
    const metrics = new IstioMetrics();
    const before = process.cpuUsage();
    const { entries } = parseAccessLog(text);
    for (const e of entries) metrics.record(e, peers);
    metrics.render();
    const used = process.cpuUsage(before);
    if (run > 0) perLine.push((used.user + used.system) / entries.length);
  }
  return median(perLine);
}

const LUA = `
local counts = {}
core.register_action('istio_count', { 'http-req' }, function(txn)
  local key = table.concat({ txn.sf:req_hdr('host') or '', txn.sf:path() or '', txn.sf:method() or '', txn.f:src() or '' }, '|')
  counts[key] = (counts[key] or 0) + 1
end)
`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / 100;
}

async function sendRequests(port, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let sent = 0;
  const deadline = Date.now() + 120_000;
  const worker = async () => {
    while (sent < n && Date.now() < deadline) {
      sent++;
      await new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/reviews/1', headers: { host: 'reviews' }, agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  agent.destroy();
}

async function sidecarCost(bin, variant) {
  const withLua = variant === 'lua';
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-metrics-'));
  const port = await freePort();
  await fs.writeFile(path.join(dir, 'count.lua'), LUA);
  await fs.writeFile(path.join(dir, 'haproxy.cfg'), [
    'global',
    '  nbthread 1',
    ...(withLua ? [`  lua-load ${path.join(dir, 'count.lua')}`] : []),
    'defaults',
    '  mode http',
    '  timeout client 30s',
    '  timeout connect 2s',
    '  timeout server 30s',
    'frontend f',
    `  bind 127.0.0.1:${port}`,
    ...(withLua ? ['  http-request lua.istio_count'] : []),
    ...(variant === 'tracing' ? traceContextLines().map((l) => `  ${l}`) : []),
    '  http-request return status 200 content-type text/plain string ok',
    '',
  ].join('\n'));
  const child = spawn(bin, ['-db', '-f', path.join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
  try {
    const up = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
      });
      if (ok) break;
      if (Date.now() > up) throw new Error('HAProxy did not listen');
      await new Promise((r) => setTimeout(r, 50));
    }
    await sendRequests(port, 1000);
    const before = cpuMicros(child.pid);
    await sendRequests(port, REQUESTS);
    return (cpuMicros(child.pid) - before) / REQUESTS;
  } finally {
    child.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
  }
}

try {
  const agentPerRequest = agentCost() * 2;
  const bin = process.env.HAPROXY_BIN ?? '/usr/sbin/haproxy';
  const plain = [];
  const lua = [];
  const tracing = [];
  for (let run = 0; run < RUNS; run++) {
    plain.push(await sidecarCost(bin, 'plain'));
    lua.push(await sidecarCost(bin, 'lua'));
    tracing.push(await sidecarCost(bin, 'tracing'));
  }
  const sidecarAdded = median(lua.map((l, i) => l - plain[i]));
  const fmt = (us) => `${us.toFixed(2)} µs`;
  console.log(`${REQUESTS} requests, medians of ${RUNS} runs`);
  console.log(`agent (from the access logs, off the request path): ${fmt(agentPerRequest)} CPU per request (two report lines: source and destination)`);
  console.log(`sidecar: HAProxy ${fmt(median(plain))} CPU per request plain, ${fmt(median(lua))} with a Lua counter: ${fmt(sidecarAdded)} added per request per proxy, on the request path (twice per hop)`);
  console.log(`tracing: the trace-context rules (traceparent/B3 read, ids made, headers set) add ${fmt(median(tracing.map((t, i) => t - plain[i])))} CPU per request per proxy`);
} catch (err) {
  console.error(`bench/metrics could not run: ${err.message}`);
  process.exit(2);
}
