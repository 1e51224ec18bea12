// Istio's retry and timeout semantics on a route's destination backends (VirtualService
// http[].retries and http[].timeout), compiled to HAProxy 2.6.
//
// - Retries are made once, by the caller's proxy (the outbound listener or an ingress gateway). The
//   inbound hop never retries (`retries 0`), and when the app resets a request, the inbound hop closes
//   the connection without an answer, so that the caller's proxy sees the reset as Envoy's does and
//   retries it only when the policy retries resets (`reset`, `5xx`, `gateway-error`). A POST that
//   reached the app is replayed only when the policy says so.
// - Envoy's conditions map to HAProxy's L7 retry events: connect-failure → conn-failure; reset →
//   empty-response and response-timeout; 5xx → those, junk-response and 500–504; gateway-error →
//   502–504 and the events; retriable-status-codes → the statuses HAProxy can name. Anything beyond
//   conn-failure makes HAProxy keep a copy of the request (up to tune.bufsize) to replay it; it does not
//   wait for the body.
// - perTryTimeout is each attempt's `timeout server` (the wait for the response headers), retried on
//   when the policy retries timeouts. The route `timeout` bounds the whole response, across retries,
//   with the Lua filter `mesh_deadline` (below): no retry starts after the deadline (504 instead), and
//   a body still coming at the deadline is cut there. It costs about 12 µs of CPU per request (Lua
//   callbacks), so only routes with a timeout carry it.
import type { HttpRoute } from '../../policy/mesh-model.js';
import { word } from './config.js';
import { wholeMs } from './route-state.js';
import { HAPROXY_RETRIABLE_STATUS_CODES, istioRetryPolicy, type RetryPolicy } from '../../policy/retry-conditions.js';

/** HAProxy `retry-on` keywords for an Envoy retry policy (empty: nothing to retry on). */
export function retryOnKeywords(policy: RetryPolicy): string[] {
  const out = new Set<string>();
  const events = (...k: string[]) => k.forEach((x) => out.add(x));
  const statuses = (...codes: number[]) => codes.filter((c) => HAPROXY_RETRIABLE_STATUS_CODES.includes(c)).forEach((c) => out.add(String(c)));
  for (const c of policy.conditions) {
    if (c === '5xx') {
      events('conn-failure', 'empty-response', 'junk-response', 'response-timeout');
      statuses(500, 501, 502, 503, 504);
    } else if (c === 'gateway-error') {
      events('conn-failure', 'empty-response', 'response-timeout');
      statuses(502, 503, 504);
    } else if (c === 'reset') events('conn-failure', 'empty-response', 'response-timeout');
    else if (c === 'connect-failure' || c === 'reset-before-request') events('conn-failure');
    else if (c === 'retriable-status-codes') statuses(...policy.statusCodes);
  }
  // HAProxy evaluates events before statuses; the order only matters to a reader.
  return [...out].sort((a, b) => Number(/^\d/.test(a)) - Number(/^\d/.test(b)));
}

export interface RouteResilience {
  /** Lines for each destination backend of the route. */
  backendLines: string[];
  policy: RetryPolicy;
  /** The route's deadline (ms), null without a timeout: a runtime value, looked up in the deadline map. */
  deadlineMs: number | null;
  /** Each attempt's timeout (ms), null for HAProxy's default: a runtime value, looked up in the attempt map. */
  attemptMs: number | null;
}

/**
 * The retry and timeout lines of a route's destination backends. `route` null: a host without a
 * VirtualService (Istio's default retry policy, no timeout). The timeouts' values are not in the
 * lines but in the proxy's route maps (`maps`, route-state.ts), so that a new value needs no reload.
 */
export function routeResilience(route: HttpRoute | null, maps: { deadlineMs: string; attemptMs: string }): RouteResilience {
  const policy = istioRetryPolicy(route?.retries ?? null);
  const keywords = policy.retries > 0 ? retryOnKeywords(policy) : [];
  const lines: string[] = [];
  if (keywords.length) lines.push(`retries ${policy.retries}`, `retry-on ${keywords.join(' ')}`);
  else lines.push('retries 0', 'retry-on none');
  const timeoutMs = route?.timeoutMs && route.timeoutMs > 0 ? wholeMs(route.timeoutMs) : null;
  const perTry = policy.retries > 0 && policy.perTryTimeoutMs ? wholeMs(policy.perTryTimeoutMs) : null;
  const attemptMs = perTry && timeoutMs ? Math.min(perTry, timeoutMs) : perTry ?? timeoutMs;
  if (attemptMs) lines.push(`http-request set-timeout server var(txn.route),map_str_int(${word(maps.attemptMs)})`);
  if (timeoutMs) {
    // Attempts that may still be under way at the deadline need their late headers watched too.
    const outlives = perTry !== null && perTry * (policy.retries + 1) > timeoutMs;
    lines.push(`http-request set-var(txn.deadline_ms) var(txn.route),map_str_int(${word(maps.deadlineMs)})`);
    lines.push(`filter lua.${outlives ? 'mesh_deadline_retried' : 'mesh_deadline'}`);
  }
  return { backendLines: lines, policy, deadlineMs: timeoutMs, attemptMs };
}

/**
 * The inbound hop's lines (backend inbound_app): no retry of its own, and an app that resets a
 * request becomes a reset for the caller's proxy, not a 502 it could not tell from the app's own.
 */
export const INBOUND_APP_RESILIENCE_LINES = ['retries 0', 'retry-on none', 'errorfile 502 /dev/null'];

/**
 * Answers the caller's proxy gives itself, as Envoy words them; an upstream reset is a 503 there
 * (HAProxy's own 502 for it becomes one, marked by the header the after-response rule looks for).
 */
export const ROUTE_BACKEND_ERROR_LINES = [
  'http-error status 502 content-type text/plain string "upstream connect error or disconnect/reset before headers. reset reason: connection termination" hdr x-meshctl-upstream-reset 1',
  'http-error status 503 content-type text/plain string "upstream connect error or disconnect/reset before headers. reset reason: connection failure"',
  'http-error status 504 content-type text/plain string "upstream request timeout"',
  'http-after-response set-status 503 if { res.hdr(x-meshctl-upstream-reset) -m found }',
  'http-after-response del-header x-meshctl-upstream-reset if { status 503 }',
];

/**
 * The route deadline, a Lua filter on the destination backends of a route with a `timeout`. It starts
 * counting when the request enters the backend; each attempt's wait for headers is bounded by its
 * server timeout. A response whose headers come after the deadline is replaced by 504. A response
 * complete at its headers is done; otherwise the filter sees every piece of the body and is woken at
 * the deadline itself, where it ends the transaction: the caller gets a truncated response, as from
 * Envoy. With retries that may outlive the deadline (`mesh_deadline_retried`), a retry that would
 * start after the deadline is answered 504 instead.
 *
 * Cost (bench/route-cost.mjs, HAProxy 2.6): about 12 µs of CPU per request, 18 µs for
 * mesh_deadline_retried. Attaching a Lua filter to a request costs about 3.5 µs (HAProxy makes two Lua
 * contexts for it) and each callback that runs about 4.5 µs (a transaction object is made for it).
 * HAProxy calls every callback of the class for the request and then for the response; the
 * instance hides the request's from it, which turns those calls into a table lookup (this took
 * 3.5 µs off mesh_deadline and 5.5 µs off mesh_deadline_retried). So only routes with a timeout carry
 * it, and it has no callback per attempt (except where retries may outlive the deadline) and none on
 * a body that is complete at its headers. No native HAProxy 2.6 mechanism bounds a body that keeps
 * coming (`set-timeout` knows only `server` and `tunnel`, inactivity timers that restart at each piece;
 * `wait-for-body` holds the body back, and ends early on a full buffer).
 *
 * Why every request of such a route pays for it, even one whose response is complete at its headers:
 * a `filter` line takes no condition, so the filter is attached when the request enters the backend,
 * before anything of the response is known, and `new` is called without the transaction, so it cannot
 * decline on the request's merits either. Knowing whether the body is complete takes one callback on
 * the response headers. That attach and that one callback are what any Lua filter costs (route-cost's
 * floor variants): they add about 52k instructions to a request (callgrind, the demo's outbound
 * sidecar), and this filter 67k, its own work being to read the limit and the clock.
 *
 * Limit (HAProxy 2.6): while an attempt waits for its headers, only HAProxy's response analysis may
 * hold it, because that analysis makes the L7 retries. Holding it from the filter to answer at the
 * deadline was tried: the 504 then reaches the caller one `timeout server` after the deadline (HAProxy
 * waits that long on the attempt's connection), no earlier than letting the attempt time out. So with
 * perTryTimeout × attempts above the timeout, an attempt under way at the deadline runs to its own end.
 */
export const ROUTE_DEADLINE_LUA = String.raw`
-- Route deadline (VirtualService http[].timeout): filter lua.mesh_deadline, or
-- lua.mesh_deadline_retried when retries may outlive the deadline. The limit is the route's entry
-- in the deadline map, set by the backend's rules before any attempt (txn.deadline_ms), so a new
-- value needs no reload.
local function mesh_now_ms()
  local now = core.now()
  return now.sec * 1000 + now.usec // 1000
end

local function mesh_deadline_expired(txn, answered)
  txn:set_var("txn.response_flags", "UT")
  if answered then
    txn:done()
  else
    local reply = txn:reply({ status = 504, body = "upstream request timeout" })
    reply:add_header("content-type", "text/plain")
    txn:done(reply)
  end
  return filter.ERROR
end

local function mesh_deadline_limit(txn)
  return tonumber(txn:get_var("txn.deadline_ms"))
end

-- Response headers after the deadline are answered 504; a body still coming is watched. The
-- instance hides this callback from the request (below), so the message is the response's.
local function mesh_deadline_headers(self, txn, msg)
  local limit = mesh_deadline_limit(txn)
  if limit == nil then return filter.CONTINUE end
  if mesh_now_ms() - self.start >= limit then return mesh_deadline_expired(txn, false) end
  if not msg:eom() then
    self.limit = limit
    filter.register_data_filter(self, txn.res)
  end
  return filter.CONTINUE
end

local function mesh_deadline_payload(self, txn, msg)
  local left = self.limit - (mesh_now_ms() - self.start)
  if left <= 0 then return mesh_deadline_expired(txn, true) end
  filter.wake_time(left)
  return msg:forward(msg:input())
end

-- Called at the start of each attempt's response analysis: no retry starts after the deadline.
local function mesh_deadline_attempt(self, txn, chn)
  if chn:is_resp() then
    local limit = mesh_deadline_limit(txn)
    if limit ~= nil and mesh_now_ms() - self.start >= limit then return mesh_deadline_expired(txn, false) end
  end
  return filter.CONTINUE
end

-- HAProxy calls a filter callback for the request and then for the response, looking it up on the
-- instance each time; a lookup that finds no function costs no Lua call (no transaction object is
-- made). The deadline has no use for the request's calls, so an instance hides each callback from
-- its first lookup, which is the request's, and keeps it as its own field then: the later lookups
-- find it without calling __index again.
local function mesh_deadline_class(name, retried)
  local class = { id = "mesh " .. name, flags = filter.FLT_CFG_FL_HTX }
  class.http_headers = mesh_deadline_headers
  class.http_payload = mesh_deadline_payload
  if retried then class.start_analyze = mesh_deadline_attempt end
  local instance = {
    __index = function(self, key)
      if key == "http_headers" or key == "start_analyze" then
        rawset(self, key, class[key])
        return nil
      end
      return class[key]
    end,
  }
  class.new = function() return setmetatable({ start = mesh_now_ms() }, instance) end
  core.register_filter(name, class, function(declared) return declared end)
end

mesh_deadline_class("mesh_deadline", false)
mesh_deadline_class("mesh_deadline_retried", true)
`;
