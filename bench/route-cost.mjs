#!/usr/bin/env node
// Micro-benchmark of the outbound routing mechanisms: HAProxy CPU time per request of one proxy
// (one thread) in front of a fixed answer (another HAProxy returning 1 KiB), for variants of the
// route deadline and of the weighted pick, measured in the same run and interleaved, so that
// noise from other work on the machine falls on every variant alike.
//
//   npm run build && node bench/route-cost.mjs [--requests N] [--rounds N] [--compare <lua file>] [--instructions]
//
// On a busy machine CPU time per request moves by several µs from one run to the next, as much as a
// variant costs: --instructions counts instead the instructions each proxy runs per request (user
// space, callgrind, once per variant), which no other work on the machine changes.
//
// Prints, per variant, the median over the rounds of the proxy's CPU µs per request, and its
// difference to the plain backend. The floor variants are what any Lua filter costs: the deadline
// can come no closer to the plain backend while it is a Lua filter.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './harness.mjs';
import { callgrindInstructions, callgrindWrapper, cpuSeconds, freePort, startFixedAnswer, startHaproxy, stopHaproxies, waitPort } from './lib-proxy.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const REQUESTS = Number(flag('--requests')) || 20_000;
const ROUNDS = Number(flag('--rounds')) || 3;
const INSTRUCTIONS = args.includes('--instructions');
const { renderLuaFile } = await import(pathToFileURL(path.join(root, 'dist/src/lib/runtime/haproxy/lua.js')).href);
const { weightedPickLines } = await import(pathToFileURL(path.join(root, 'dist/src/lib/runtime/haproxy/compiler.js')).href);
const { default: autocannon } = await import('autocannon');

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-route-cost-'));
const appPort = await startFixedAnswer(dir);

// An earlier deadline filter, given with --compare <file> under the filter names old_deadline and
// old_deadline_retried (e.g. the ROUTE_DEADLINE_LUA text of an earlier commit, renamed).
const compare = flag('--compare') ? await fs.readFile(flag('--compare'), 'utf8') : '';

// The weighted pick as a Lua action (smooth weighted round robin per request), as compiled before the
// native pick: the baseline the native rules are measured against.
const LUA_PICK = String.raw`
local lua_pick = { r = { backends = { "b1", "b2" }, weights = { 80, 20 }, current = { 0, 0 } } }
core.register_action("lua_pick", { "http-req" }, function(txn)
  local r = lua_pick[txn:get_var("txn.route")]
  if r == nil then return end
  local total, best = 0, nil
  for i, w in ipairs(r.weights) do
    if w > 0 then
      r.current[i] = r.current[i] + w
      total = total + w
      if best == nil or r.current[i] > r.current[best] then best = i end
    end
  end
  if best == nil then return end
  r.current[best] = r.current[best] - total
  txn:set_var("txn.backend", r.backends[best])
end, 0)
`;

// What any Lua filter costs in HAProxy 2.6, the floor the route deadline is measured against: attaching
// one (HAProxy makes its Lua contexts and calls `new`, which gets no transaction, so it cannot decide
// from the request), and one callback on the response headers (a transaction object is made for it),
// with the request's call hidden as mesh_deadline hides it.
const LUA_FLOOR = String.raw`
local floor_attach = { id = "floor attach", flags = filter.FLT_CFG_FL_HTX, new = function() return {} end }
core.register_filter("floor_attach", floor_attach, function(declared) return declared end)
local floor_headers = { id = "floor headers", flags = filter.FLT_CFG_FL_HTX }
floor_headers.http_headers = function() return filter.CONTINUE end
local floor_instance = { __index = function(self, key)
  if key == "http_headers" then
    rawset(self, key, floor_headers.http_headers)
    return nil
  end
  return floor_headers[key]
end }
floor_headers.new = function() return setmetatable({}, floor_instance) end
core.register_filter("floor_headers", floor_headers, function(declared) return declared end)
`;

// A mesh of HOSTS services without VirtualServices, the request for the middle one: one rule per
// host and per route (as compiled before) against one lookup in a host map and a backend map.
const HOSTS = 100;
const hostNames = (i) => [`svc-${i}`, `svc-${i}.default`, `svc-${i}.default.svc`, `svc-${i}.default.svc.cluster.local`];
const hostRules = [
  'http-request set-var(txn.host) req.hdr(host),field(1,:),lower',
  'acl has_route var(txn.route) -m found',
  ...Array.from({ length: HOSTS }, (_, i) => `acl host_${i} var(txn.host) -m str ${hostNames(i).join(' ')}`),
  ...Array.from({ length: HOSTS }, (_, i) => `http-request set-var(txn.route) str(host:svc-${i}) if !has_route host_${i}`),
  ...Array.from({ length: HOSTS }, (_, i) => `http-request set-var(txn.backend) str(b${1 + (i % 2)}) if { var(txn.route) -m str host:svc-${i} }`),
];
const hostMaps = [
  'http-request set-var(txn.host) req.hdr(host),field(1,:),lower',
  'acl has_route var(txn.route) -m found',
  'http-request set-var(txn.route) var(txn.host),map_str(HOSTMAP) unless has_route',
  'http-request set-var(txn.backend) var(txn.route),map_str(BACKENDMAP)',
];

const variants = {
  plain: { backend: ['timeout server 300'] },
  'deadline (mesh_deadline)': { backend: ['http-request set-var(txn.deadline_ms) int(300)', 'filter lua.mesh_deadline', 'timeout server 300'] },
  ...(compare.includes('"old_deadline"') ? { 'deadline (old_deadline from --compare)': { backend: ['http-request set-var(txn.deadline_ms) int(300)', 'filter lua.old_deadline', 'timeout server 300'] } } : {}),
  ...(compare.includes('"old_deadline_retried"') ? { 'deadline (old_deadline_retried from --compare)': { backend: ['http-request set-var(txn.deadline_ms) int(300)', 'filter lua.old_deadline_retried', 'timeout server 300'] } } : {}),
  ...(compare.includes('"probe_new"') ? { 'probe: a Lua filter with no callback': { backend: ['filter lua.probe_new'] }, 'probe: a Lua filter with an empty http_headers': { backend: ['filter lua.probe_headers'] } } : {}),
  'floor: a Lua filter attached, no callback': { backend: ['filter lua.floor_attach', 'timeout server 300'] },
  'floor: a Lua filter, one empty response callback': { backend: ['filter lua.floor_headers', 'timeout server 300'] },
  'deadline (mesh_deadline_retried)': { backend: ['http-request set-var(txn.deadline_ms) int(300)', 'filter lua.mesh_deadline_retried', 'timeout server 300'] },
  'plain (again: the noise between two identical proxies)': { backend: ['timeout server 300'] },
  [`routing: ${HOSTS} hosts, one rule per host and route`]: { frontend: hostRules, weighted: true, host: `svc-${HOSTS / 2}` },
  [`routing: ${HOSTS} hosts, a host map and a backend map`]: { frontend: hostMaps, weighted: true, host: `svc-${HOSTS / 2}` },
  'pick (Lua action, as before)': { frontend: ['http-request set-var(txn.route) str(r)', 'http-request lua.lua_pick'], weighted: true },
  'pick (native: stick counter and pick map, as compiled)': { frontend: ['http-request set-var(txn.route) str(r)', ...weightedPickLines(['r'], 'PICKDIR')], weighted: true },
  'pick (native rand against a map threshold)': { frontend: ['http-request set-var(txn.route) str(r)', 'http-request set-var(txn.draw) rand(100)', 'http-request set-var(txn.cut) var(txn.route),map_str_int(MAP)', 'http-request set-var(txn.backend) str(b1) if { var(txn.draw),sub(txn.cut) lt 0 }', 'http-request set-var(txn.backend) str(b2) unless { var(txn.backend) -m found }'], weighted: true },
};

const proxies = [];
for (const [name, v] of Object.entries(variants)) {
  const port = await freePort();
  const vdir = path.join(dir, String(proxies.length));
  await fs.mkdir(vdir);
  const lua = renderLuaFile(1, v.weighted ? [{ id: 'r', backends: ['b1', 'b2'], weights: [80, 20] }] : [], path.join(vdir, 'route-pick.map')) + LUA_PICK + LUA_FLOOR + compare;
  await fs.writeFile(path.join(vdir, 'route-pick.map'), '');
  await fs.writeFile(path.join(vdir, 'mesh.lua'), lua);
  await fs.writeFile(path.join(vdir, 'cut.map'), 'r 80\n');
  await fs.writeFile(path.join(vdir, 'host.map'), Array.from({ length: HOSTS }, (_, i) => hostNames(i).map((h) => `${h} host:svc-${i}\n`).join('')).join(''));
  await fs.writeFile(path.join(vdir, 'backend.map'), Array.from({ length: HOSTS }, (_, i) => `host:svc-${i} b${1 + (i % 2)}\n`).join(''));
  const be = (n) => [`backend ${n}`, ...(v.backend ?? []), `  server app 127.0.0.1:${appPort}`].map((l, i) => (i && !l.startsWith('  ') ? `  ${l}` : l)).join('\n');
  const cfg = [
    'global', '  nbthread 1', `  lua-load ${path.join(vdir, 'mesh.lua')}`,
    'defaults', '  mode http', '  timeout connect 2s', '  timeout client 30s', '  timeout server 30s',
    'frontend outbound', `  bind 127.0.0.1:${port}`,
    ...(v.frontend ?? []).map((l) => `  ${l.replaceAll('PICKDIR', vdir).replace('HOSTMAP', path.join(vdir, 'host.map')).replace('BACKENDMAP', path.join(vdir, 'backend.map')).replace('MAP', path.join(vdir, 'cut.map'))}`),
    v.weighted ? '  use_backend %[var(txn.backend)]' : '  default_backend b1',
    be('b1'), be('b2'), '',
  ].join('\n');
  await fs.writeFile(path.join(vdir, 'haproxy.cfg'), cfg);
  const callgrindOut = path.join(vdir, 'callgrind.out');
  const child = startHaproxy(path.join(vdir, 'haproxy.cfg'), undefined, INSTRUCTIONS ? callgrindWrapper(callgrindOut) : []);
  await waitPort(port, INSTRUCTIONS ? 60_000 : 5000);
  proxies.push({ name, port, pid: child.pid, host: v.host, callgrindOut, perRequestUs: [] });
}

const run = (p, amount) => new Promise((resolve, reject) => {
  autocannon({ url: `http://127.0.0.1:${p.port}/`, connections: 8, amount, headers: p.host ? { host: p.host } : {} }, (err, result) => (err ? reject(err) : resolve(result)));
});

if (INSTRUCTIONS) {
  const count = Number(flag('--requests')) || 2000;
  console.log(`HAProxy instructions per request (user space, callgrind, ${count} requests after 200, 8 keep-alive connections, 1 KiB answers)`);
  let base = null;
  for (const p of proxies) {
    await run(p, 200);
    const n = (await callgrindInstructions(p.pid, p.callgrindOut, async () => {
      const r = await run(p, count);
      if (r['2xx'] !== count) throw new Error(`${p.name}: ${r['2xx']} of ${count} answered 2xx`);
    })) / count;
    base ??= n;
    console.log(`  ${p.name.padEnd(58)} ${Math.round(n).toString().padStart(7)}  (${n - base >= 0 ? '+' : ''}${Math.round(n - base)})`);
  }
  stopHaproxies();
  await fs.rm(dir, { recursive: true, force: true });
  process.exit(0);
}

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
  console.log(`  ${p.name.padEnd(58)} ${m.toFixed(1).padStart(6)} µs  (${m - base >= 0 ? '+' : ''}${(m - base).toFixed(1)} µs)`);
}
stopHaproxies();
await fs.rm(dir, { recursive: true, force: true });
