// The Lua program every meshctl proxy loads: the caller's SPIFFE ID from its verified client
// certificate, the weighted choice between a route's destinations, fault-injection delays, and
// the served revision, and traffic mirroring (fire-and-forget copies of requests).
//
// Weighted routes: a route with several destinations sets `txn.route` to its id; native rules then
// take the route's next number from a counter (a stick table of the listener, exact under several
// threads) and look the destination backend up in the pick map at that number modulo the route's
// cycle. The cycle is the destinations in smooth weighted round-robin order (the sequence nginx
// uses) over the weights divided by their greatest common divisor, so any `sum(weights)` requests in
// a row split exactly, without bursts; this Lua program writes the cycle into the map when it starts
// and whenever the weights change. Weights and the revision live in the proxy's shared Lua state, so
// the runtime API changes them without a reload:
//
//   mesh weights <route-id> <w1>,<w2>,...   set a route's destination weights (in destination order)
//   mesh revision <n>                       set the revision the proxy reports
//   mesh show                               `revision <n>` then `route <id> <backend>=<weight> ...`
//
// The initial values come from the data block that the compiler appends (see `renderLuaData`).

import { ROUTE_DEADLINE_LUA } from './retries.js';
/** Mirrored copies in flight at once per proxy; copies beyond it are dropped (and counted). */
export const MIRROR_MAX_ACTIVE = 64;
/** The largest request body a copy carries; a larger body is not copied (the request goes on). */
export const MIRROR_MAX_BODY_BYTES = 8192;
/** How long a mirrored route waits for the rest of a request's body before copying it (skipped when late). */
export const MIRROR_WAIT_MS = 50;
/** Per read or write of a copy, and for reading its answer. */
export const MIRROR_TIMEOUT_S = 10;

export const MESH_LUA_LIBRARY = String.raw`-- meshctl proxy library (generated; do not edit)
local mesh = { revision = 0, routes = {}, order = {}, slots = {}, pick_map = nil }

local function read_len(s, i)
  local b = s:byte(i)
  if b == nil then return nil, nil end
  if b < 0x80 then return b, i + 1 end
  local n, len = b - 0x80, 0
  if n > 4 then return nil, nil end
  for k = 1, n do
    local c = s:byte(i + k)
    if c == nil then return nil, nil end
    len = len * 256 + c
  end
  return len, i + 1 + n
end

-- tag, first content byte, last content byte, next element
local function tlv(s, i)
  local tag = s:byte(i)
  if tag == nil then return nil end
  local len, v = read_len(s, i + 1)
  if len == nil or v + len - 1 > #s then return nil end
  return tag, v, v + len - 1, v + len
end

local SAN_OID = "\x55\x1d\x11"

-- The first spiffe:// URI in the subjectAltName extension of a DER certificate.
local function spiffe_id_of(der)
  local t, v = tlv(der, 1)
  if t ~= 0x30 then return nil end
  local t2, tv, te = tlv(der, v)
  if t2 ~= 0x30 then return nil end
  local i = tv
  while i <= te do
    local tag, cv, _, nx = tlv(der, i)
    if tag == nil then return nil end
    if tag == 0xa3 then
      local et, ev, ee = tlv(der, cv)
      if et ~= 0x30 then return nil end
      local j = ev
      while j <= ee do
        local xt, xv, _, xn = tlv(der, j)
        if xt ~= 0x30 then return nil end
        local ot, ov, oe, on = tlv(der, xv)
        if ot == 0x06 and der:sub(ov, oe) == SAN_OID then
          local k = on
          if der:byte(k) == 0x01 then
            local _, _, _, bn = tlv(der, k)
            k = bn
          end
          local st, sv = tlv(der, k)
          if st ~= 0x04 then return nil end
          local gt, gv, ge = tlv(der, sv)
          if gt ~= 0x30 then return nil end
          local g = gv
          while g <= ge do
            local nt, nv, ne, gn = tlv(der, g)
            if nt == nil then return nil end
            if nt == 0x86 then
              local uri = der:sub(nv, ne)
              if uri:sub(1, 9) == "spiffe://" then return uri end
            end
            g = gn
          end
          return nil
        end
        j = xn
      end
      return nil
    end
    i = nx
  end
  return nil
end

core.register_fetches("mesh_peer_spiffe_id", function(txn)
  local der = txn.f:ssl_c_der()
  if der == nil or der == "" then return nil end
  return spiffe_id_of(der)
end)

core.register_fetches("mesh_revision", function(txn)
  return tostring(mesh.revision)
end)

-- A cycle longer than this is scaled down to it (weights whose reduced sum exceeds it, as 999/1000:
-- exact only to 1/PICK_MAX_SLOTS then); every destination with a weight keeps a place in it.
local PICK_MAX_SLOTS = 1000

local function gcd(a, b)
  while b ~= 0 do a, b = b, a % b end
  return a
end

-- Destination indexes in smooth weighted round-robin order, one cycle.
local function pick_cycle(weights)
  local g, total, reduced = 0, 0, {}
  for _, w in ipairs(weights) do if w > 0 then g = gcd(w, g) end end
  if g == 0 then return {} end
  for i, w in ipairs(weights) do
    reduced[i] = w // g
    total = total + reduced[i]
  end
  if total > PICK_MAX_SLOTS then
    local scaled = 0
    for i, w in ipairs(reduced) do
      reduced[i] = w > 0 and math.max(1, (w * PICK_MAX_SLOTS + total // 2) // total) or 0
      scaled = scaled + reduced[i]
    end
    total = scaled
  end
  local current, cycle = {}, {}
  for i = 1, #reduced do current[i] = 0 end
  for s = 1, total do
    local best = nil
    for i, w in ipairs(reduced) do
      if w > 0 then
        current[i] = current[i] + w
        if best == nil or current[i] > current[best] then best = i end
      end
    end
    current[best] = current[best] - total
    cycle[s] = best
  end
  return cycle
end

-- Writes a route's cycle into the pick map: its places first, then its length, then drops places
-- beyond a shorter cycle, so a request never looks up a place that is not there yet.
local function publish_route(id)
  local r = mesh.routes[id]
  if mesh.pick_map == nil or r == nil then return end
  local cycle = pick_cycle(r.weights)
  for s, i in ipairs(cycle) do core.set_map(mesh.pick_map, id .. "/" .. (s - 1), r.backends[i]) end
  core.set_map(mesh.pick_map, id .. "/total", tostring(#cycle))
  for s = #cycle, (mesh.slots[id] or 0) - 1 do core.del_map(mesh.pick_map, id .. "/" .. s) end
  mesh.slots[id] = #cycle
end

local function set_route(id, backends, weights)
  if mesh.routes[id] == nil then table.insert(mesh.order, id) end
  mesh.routes[id] = { backends = backends, weights = weights }
end

-- Fault injection: holds the request for the given milliseconds (the task yields, nothing blocks);
-- "route": the route's delay from the fault map, read into txn.fault_delay_ms by the rules before.
core.register_action("mesh_delay", { "http-req" }, function(txn, ms)
  local n = tonumber(ms)
  if n == nil then n = tonumber(txn:get_var("txn.fault_delay_ms")) end
  if n ~= nil and n > 0 then core.msleep(math.floor(n)) end
end, 1)

-- Traffic mirroring. For a route with a mirror, each destination backend ends with
--   http-request lua.mesh_mirror <socket> <mirror backend> <route id> [if <drawn>]
-- The action copies the request as it goes upstream (method, path, headers, a complete body of at
-- most MIRROR_MAX_BODY bytes) and hands the copy to a task, which writes it with the Host suffixed
-- "-shadow" to this proxy's internal mirror listener and reads the answer away. The request itself
-- goes on at once: it never waits for, nor fails because of, its copy. A body announced by
-- Content-Length that is not all in yet is waited for, MIRROR_WAIT_MS at most, by sleeping (the
-- proxy keeps reading it meanwhile; "http-request wait-for-body" is not used because in 2.6 it
-- answers 408 when its time runs out). A chunked body is never copied: an action cannot tell
-- whether it is complete. Copies beyond MIRROR_MAX_ACTIVE at once are dropped, copies of bodies too
-- large, late or chunked are skipped; all are counted (mesh mirrors).
local MIRROR_MAX_ACTIVE = ${MIRROR_MAX_ACTIVE}
local MIRROR_MAX_BODY = ${MIRROR_MAX_BODY_BYTES}
local MIRROR_WAIT_MS = ${MIRROR_WAIT_MS}
local MIRROR_TIMEOUT_S = ${MIRROR_TIMEOUT_S}
local MIRROR_MAX_ANSWER = 1048576
local mirror = { active = 0, sent = 0, failed = 0, dropped = 0, skipped = 0 }

local HOP_BY_HOP = {
  ["host"] = true, ["connection"] = true, ["keep-alive"] = true, ["proxy-connection"] = true,
  ["transfer-encoding"] = true, ["te"] = true, ["trailer"] = true, ["upgrade"] = true,
  ["content-length"] = true, ["expect"] = true, ["x-meshctl-mirror"] = true, ["x-meshctl-route"] = true,
}

-- "reviews" -> "reviews-shadow", "reviews:9080" -> "reviews-shadow:9080"
local function shadow_host(host)
  local name, port = string.match(host, "^(.-)(:%d+)$")
  if name == nil then return host .. "-shadow" end
  return name .. "-shadow" .. port
end

local function now_ms()
  local t = core.now()
  return t.sec * 1000 + t.usec // 1000
end

local function mirror_send(socket, request)
  local s = core.tcp()
  s:settimeout(MIRROR_TIMEOUT_S)
  local ok = s:connect(socket)
  if ok == nil then
    mirror.failed = mirror.failed + 1
    return
  end
  if s:send(request) == nil then
    mirror.failed = mirror.failed + 1
    s:close()
    return
  end
  local status = s:receive("*l")
  if status == nil then
    mirror.failed = mirror.failed + 1
    s:close()
    return
  end
  mirror.sent = mirror.sent + 1
  -- Read the answer away (the listener closes after it), within a size and time bound.
  local deadline, read = now_ms() + MIRROR_TIMEOUT_S * 1000, 0
  while read < MIRROR_MAX_ANSWER and now_ms() < deadline do
    local data, _, partial = s:receive(16384)
    local got = data or partial
    if got ~= nil then read = read + #got end
    if data == nil then break end
  end
  s:close()
end

core.register_action("mesh_mirror", { "http-req" }, function(txn, socket, backend, route)
  if mirror.active >= MIRROR_MAX_ACTIVE then
    mirror.dropped = mirror.dropped + 1
    return
  end
  local f = txn.f
  local cl = tonumber(f:req_hdr("content-length") or "0")
  if f:req_hdr("transfer-encoding") ~= nil or cl == nil or cl > MIRROR_MAX_BODY then
    mirror.skipped = mirror.skipped + 1
    return
  end
  local len = f:req_body_len() or 0
  if len < cl then
    local deadline = now_ms() + MIRROR_WAIT_MS
    repeat
      core.msleep(1)
      len = f:req_body_len() or 0
    until len >= cl or now_ms() >= deadline
  end
  if len ~= cl then
    mirror.skipped = mirror.skipped + 1
    return
  end
  if mirror.active >= MIRROR_MAX_ACTIVE then
    -- Others took the last places while this one waited for its body.
    mirror.dropped = mirror.dropped + 1
    return
  end
  local body = ""
  if len > 0 then body = f:req_body() or "" end
  local headers = txn.http:req_get_headers()
  local out = {
    f:method() .. " " .. (f:pathq() or "/") .. " HTTP/1.1",
    "host: " .. shadow_host(f:req_hdr("host") or ""),
    "x-meshctl-mirror: " .. backend,
    "x-meshctl-route: " .. route,
  }
  for name, values in pairs(headers) do
    if not HOP_BY_HOP[name] then
      local i = 0
      while values[i] ~= nil do
        out[#out + 1] = name .. ": " .. values[i]
        i = i + 1
      end
    end
  end
  out[#out + 1] = "content-length: " .. #body
  out[#out + 1] = "connection: close"
  local request = table.concat(out, "\r\n") .. "\r\n\r\n" .. body
  mirror.active = mirror.active + 1
  core.register_task(function()
    local ok = pcall(mirror_send, socket, request)
    if not ok then mirror.failed = mirror.failed + 1 end
    mirror.active = mirror.active - 1
  end)
end, 3)

core.register_cli({ "mesh", "mirrors" }, "mesh mirrors : mirrored copies in flight, sent, failed, dropped (over the limit) and skipped (body)", function(applet)
  applet:send(string.format("mirrors active %d limit %d sent %d failed %d dropped %d skipped %d\n",
    mirror.active, MIRROR_MAX_ACTIVE, mirror.sent, mirror.failed, mirror.dropped, mirror.skipped))
end)

core.register_cli({ "mesh", "weights" }, "mesh weights <route> <w1>,<w2>,... : set a route's destination weights", function(applet, _, _, id, list)
  local r = id and mesh.routes[id]
  if r == nil then
    applet:send("error: unknown route " .. tostring(id) .. "\n")
    return
  end
  local weights = {}
  for w in string.gmatch(list or "", "[^,]+") do
    local n = tonumber(w)
    if n == nil or n < 0 or n ~= math.floor(n) then
      applet:send("error: weight " .. w .. " is not a non-negative integer\n")
      return
    end
    table.insert(weights, n)
  end
  if #weights ~= #r.backends then
    applet:send("error: route " .. id .. " has " .. #r.backends .. " destinations, got " .. #weights .. " weights\n")
    return
  end
  set_route(id, r.backends, weights)
  publish_route(id)
  applet:send("ok\n")
end)

core.register_cli({ "mesh", "revision" }, "mesh revision <n> : set the revision this proxy reports", function(applet, _, _, n)
  local v = tonumber(n or "")
  if v == nil then
    applet:send("error: revision must be a number\n")
    return
  end
  mesh.revision = v
  applet:send("ok\n")
end)

core.register_cli({ "mesh", "show" }, "mesh show : show the revision and every weighted route", function(applet)
  local out = { "revision " .. tostring(mesh.revision) }
  for _, id in ipairs(mesh.order) do
    local r = mesh.routes[id]
    local parts = { "route", id }
    for i, b in ipairs(r.backends) do table.insert(parts, b .. "=" .. tostring(r.weights[i])) end
    table.insert(out, table.concat(parts, " "))
  end
  applet:send(table.concat(out, "\n") .. "\n")
end)

function mesh_init(data)
  mesh.revision = data.revision
  mesh.pick_map = data.pick_map
  for _, r in ipairs(data.routes) do set_route(r[1], r[2], r[3]) end
  -- The maps are loaded once the configuration is read: the cycles go in then. A configuration
  -- check (haproxy -c) reads a copy of the map under another name, so a failure here is not fatal.
  core.register_init(function()
    for _, id in ipairs(mesh.order) do pcall(publish_route, id) end
  end)
end
` + ROUTE_DEADLINE_LUA;

export interface LuaRouteData {
  id: string;
  backends: string[];
  weights: number[];
}

function luaString(s: string): string {
  return `"${s.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n')}"`;
}

/** The data block appended to the library: the revision, every weighted route, and the pick map they are written to. */
export function renderLuaData(revision: number, routes: LuaRouteData[], pickMap: string): string {
  const rows = routes.map((r) => `  { ${luaString(r.id)}, { ${r.backends.map(luaString).join(', ')} }, { ${r.weights.join(', ')} } },`);
  return `mesh_init({ revision = ${revision}, pick_map = ${luaString(pickMap)}, routes = {\n${rows.join('\n')}\n} })\n`;
}

/** The whole Lua file of a proxy. */
export function renderLuaFile(revision: number, routes: LuaRouteData[], pickMap: string): string {
  return `${MESH_LUA_LIBRARY}\n${renderLuaData(revision, routes, pickMap)}`;
}
