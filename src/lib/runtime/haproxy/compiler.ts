// The compiler: mesh model + pods → one HAProxy configuration per sidecar and per ingress gateway.
//
// Shape of every compiled proxy (names are stable across compiles so that a diff can tell a weight
// change from a structural one):
//   frontend admin     /ready, /revision, /metrics (Prometheus); every answer carries x-mesh-revision
//   frontend inbound   (sidecars) mTLS listener → backend inbound_app (the app on loopback)
//   frontend outbound  (sidecars) the app's calls; ingress:<port> (gateways) the users' calls
//   backend <route>:<n>  one per route destination (host + subset), servers = the destination's pods
//                        (their inbound listeners, over mTLS with this proxy's own certificate)
// A route with one destination names its backend directly. A route with several destinations is a
// weighted route: native rules choose the backend from the route's pick cycle, which the proxy's Lua
// program writes from the weights it keeps (see runtime/haproxy/lua.ts), so they change through the runtime API alone
// and read back with `mesh show`. Neither weights nor the revision appear in the configuration text.
import { b3HeaderLines, traceContextLines } from './tracing.js';
import { accessLogFormat, DESTINATION_VAR, destinationValue, errorLogFormat, type LogSource } from './access-log.js';
import { createHash } from 'node:crypto';
import {
  destinationRuleFor, meshVirtualServices, mtlsModeOf, podsOfService, serviceFor, virtualServicesOfGateway,
  type HeaderOperations, type HttpMatch, type HttpRoute, type LoadBalancerPolicy, type MeshModel,
  type MtlsMode, type RouteDestination, type RouteMirror, type StringMatch, type TrafficPolicy, type VirtualServiceSpec,
} from '../../policy/mesh-model.js';
import type { CompiledMesh, CompiledMirror, CompiledProxy, CompiledRoute, CompiledServer, MeshGatewayProxy, MeshPod, ProxyPaths } from './types.js';
import { DEFAULT_TRUST_DOMAIN, spiffeId } from '../../policy/spiffe.js';
import { hostKey, hostMatches, requestHostNames } from '../../policy/hosts.js';
import { selectorMatches } from '../../policy/selectors.js';
import { formatString, line, literalFormat, regexLiteral, renderConfig, word, type HaproxySection } from './config.js';
import { MESH_LUA_LIBRARY, renderLuaFile, type LuaRouteData } from './lua.js';
import { authorizationFor } from '../../policy/authorization.js';
import { authorizationLines, type CompiledAuthorization } from './authz.js';
import { INBOUND_APP_RESILIENCE_LINES, ROUTE_BACKEND_ERROR_LINES, routeResilience } from './retries.js';
import { faultRuntime, mapSafeValue, pickMapFile, routeMapFile, routeRuntimeState } from './route-state.js';
import { faultRules, setResponseFlag } from './response-flags.js';
import { gatewayApiAnswersItself, gatewayApiBackendLines, gatewayApiFrontendRules } from './gateway-api-filters.js';
import { destinationClientTls } from '../../policy/peer-authentication.js';
import { inboundTlsBind, meshPeerPort, serverTlsKeywords, tlsGlobalLines } from './mtls.js';
import { inboundRateLimits, type InboundRateLimits } from './rate-limit.js';
import { SHAPE_LINE_PREFIX } from './binary.js';
import { egressScopeFor, type EgressScope } from '../../policy/sidecar-scope.js';
import { inProxyDirectory, markSharedBuild, rememberCompile, reusableSidecar, SHARED_BUILD_PATHS, sidecarFingerprints, takesSharedBuilds, type CompiledSidecarEntry, type SharedRouteBuilds } from './incremental.js';

export interface CompileOptions {
  /** The revision every compiled proxy will report once it serves this configuration. */
  revision: number;
  trustDomain?: string;
  /** Worker threads per proxy (1 keeps a sidecar small; gateways may want more). */
  threads?: number;
  gatewayThreads?: number;
}

export class CompileError extends Error {
  override name = 'CompileError';
}

const UNIX_PATH_MAX = 107;

/**
 * Compiles every pod's sidecar and every gateway proxy. A proxy whose configuration comes out the same
 * as in `previous` (the mesh compiled before) is that previous compiled proxy, revision included: it
 * serves this revision already, so nothing needs to reach it. A sidecar whose inputs are those it was
 * compiled from in `previous` is not compiled again (incremental.ts): the cost of a compile follows the
 * sidecars a change concerns, not the size of the mesh.
 */
export function compileMesh(model: MeshModel, input: { pods: MeshPod[]; gateways?: MeshGatewayProxy[] }, options: CompileOptions, previous?: CompiledMesh | null): CompiledMesh {
  const notes = [...model.notes];
  const before = new Map([...(previous?.sidecars ?? []), ...(previous?.gateways ?? [])].map((p) => [`${p.kind}:${p.namespace}/${p.name}`, p]));
  const settle = (compiled: CompiledProxy, self: { ports: Record<string, number> | { admin: number } }): CompiledProxy => {
    const last = before.get(`${compiled.kind}:${compiled.namespace}/${compiled.name}`);
    // The shape line follows from the rest of the text: compared without it, an unchanged proxy costs no shape.
    const lastText = last ? withoutShapeLine(last.config) : null;
    if (last && lastText === compiled.config && sameConfiguration({ ...last, config: lastText }, compiled)) return last;
    // A change of routes or weights alone keeps the text, hence the shape, of the last configuration.
    const shapeInputs = `${compiled.paths.dir}\0${compiled.identity}\0${compiled.name}\0${JSON.stringify(self.ports)}`;
    const sameShape = last && lastText === compiled.config && shapeInputsOf.get(last) === shapeInputs;
    const settled = { ...compiled, config: sameShape ? last.config : withShapeLine(compiled, self) };
    shapeInputsOf.set(settled, shapeInputs);
    return settled;
  };
  const fingerprints = sidecarFingerprints(model, input.pods, options);
  const compiledFrom = new Map<string, CompiledSidecarEntry>();
  const shared: SharedBuilds = { routes: new Map(), hostGroups: new Map(), hostRoutes: new WeakMap() };
  const sidecars = input.pods.map((pod) => {
    const fingerprint = fingerprints.get(pod.name)!;
    let entry = reusableSidecar(previous, pod.name, fingerprint);
    if (!entry) {
      const own: string[] = [];
      entry = { fingerprint, proxy: settle(compileSidecar(model, pod, input.pods, options, own, shared), pod), notes: own, compiled: true };
    }
    compiledFrom.set(pod.name, entry);
    notes.push(...entry.notes);
    return entry.proxy;
  });
  const gateways = (input.gateways ?? []).map((gw) => settle(compileGateway(model, gw, input.pods, options, notes), gw));
  const mesh: CompiledMesh = { revision: options.revision, sidecars, gateways, notes: [...new Set(notes)] };
  rememberCompile(mesh, compiledFrom);
  return mesh;
}

/** What a proxy's shape line was made from besides its configuration text (withShapeLine). */
const shapeInputsOf = new WeakMap<CompiledProxy, string>();

/** The JSON of a compiled route, made once per route: sidecars share their routes' builds, and an unchanged route is compared with every compile that follows. */
const routeJson = new WeakMap<CompiledRoute, string>();
function routeJsonOf(route: CompiledRoute): string {
  let json = routeJson.get(route);
  if (json === undefined) routeJson.set(route, (json = JSON.stringify(route)));
  return json;
}

function sameRoutes(a: CompiledRoute[], b: CompiledRoute[]): boolean {
  return a.length === b.length && a.every((route, i) => route === b[i] || routeJsonOf(route) === routeJsonOf(b[i]!));
}

/** Same configuration text, Lua library, routes and weights: whatever the revision, the proxy would serve the same. */
export function sameConfiguration(a: CompiledProxy, b: CompiledProxy): boolean {
  return a.structureHash === b.structureHash && a.config === b.config && a.identity === b.identity && a.mtlsMode === b.mtlsMode && sameRoutes(a.routes, b.routes);
}

/**
 * Puts the configuration's shape under its first line: a hash of its text with the proxy's own parts set
 * aside (its directory, identity, listening ports, the app port, its name outside server lines, comments).
 * Proxies of one shape differ only in values HAProxy accepts alike, so `haproxy -c` checks one of them
 * (runtime/haproxy/binary.ts reads the line).
 */
function withoutShapeLine(config: string): string {
  const first = config.indexOf('\n');
  if (first < 0) return config;
  const second = config.indexOf('\n', first + 1);
  const line = config.slice(first + 1, second < 0 ? undefined : second);
  return line.startsWith(SHAPE_LINE_PREFIX) ? config.slice(0, first) + (second < 0 ? '' : config.slice(second)) : config;
}

/** A server line; its group is set for the pod's own app (`server app`). */
const SERVER_LINE = /^\s*server (app )?/;

function withShapeLine(compiled: CompiledProxy, self: { ports: Record<string, number> | { admin: number } }): string {
  // The name stands alone, or after a log-format's `\t` (the access-log line is tab-separated).
  const ownName = new RegExp(`(?<=^|[^A-Za-z0-9_.-]|\\\\t)${compiled.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_.-])`, 'g');
  const ownPorts = new Set(Object.values(self.ports).map(String));
  const normalized = compiled.config
    .split(compiled.paths.dir).join('<dir>')
    .split(compiled.identity).join('<identity>')
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .map((l) => {
      // A server line keeps its name; one to another proxy keeps its port too (most of the text: one per
      // upstream endpoint), so it is taken as it is.
      const server = SERVER_LINE.exec(l);
      if (server && !server[1]) return l;
      // Most other lines hold neither a loopback address nor the proxy's name: a plain search skips their regexes.
      const text = l.includes('127.0.0.1:') ? l.replace(/127\.0\.0\.1:(\d+)/g, (whole, port: string) => (ownPorts.has(port) ? '127.0.0.1:<port>' : whole)) : l;
      return server || !text.includes(compiled.name) ? text : text.replace(ownName, '<self>');
    })
    .join('\n');
  const shape = createHash('sha256').update(normalized).digest('hex').slice(0, 24);
  const first = compiled.config.indexOf('\n');
  const header = first < 0 ? compiled.config : compiled.config.slice(0, first);
  return `${header}\n${SHAPE_LINE_PREFIX}${shape}${first < 0 ? '' : compiled.config.slice(first)}`;
}

// ---------------------------------------------------------------- shared pieces

interface Context {
  model: MeshModel;
  pods: MeshPod[];
  self: { name: string; namespace: string; paths: ProxyPaths };
  options: CompileOptions;
  notes: string[];
  /** What the sidecars of one mesh compile share (routeBuildOf, hostGroupsOf, hostRouteOf). */
  shared?: SharedBuilds;
}

function checkSocketPaths(paths: ProxyPaths): void {
  for (const p of [paths.runtimeSocket, paths.inboundTlsSocket, paths.inboundPlainSocket, paths.mirrorSocket]) {
    if (Buffer.byteLength(p) > UNIX_PATH_MAX) throw new CompileError(`The socket path ${p} is longer than ${UNIX_PATH_MAX} bytes; use a shorter mesh home.`);
  }
}

function globalSection(name: string, kind: string, paths: ProxyPaths, threads: number): HaproxySection {
  return {
    kind: 'global',
    name: '',
    lines: [
      // A reload's successor fetches the listening sockets through it (process.ts).
      line('stats socket', paths.runtimeSocket) + ' mode 600 level admin expose-fd listeners',
      'stats timeout 1m',
      line('lua-load', paths.lua),
      `nbthread ${threads}`,
      // The process a reload replaced finishes its requests, but not forever.
      'hard-stop-after 30s',
      line('node', name),
      line('description', `meshctl ${kind} ${name}`),
      // An access-log line is never cut (a reader drops a cut line, and its request would go uncounted):
      // HAProxy's 1,024-byte default is raised to its maximum, above any request's escaped text. The
      // copy of the request line the path is logged from keeps 8 KiB (a longer path is logged cut).
      'log stdout len 65535 format raw local0 info',
      'tune.http.logurilen 8192',
      ...tlsGlobalLines(paths),
    ],
  };
}

function defaultsSection(): HaproxySection {
  return {
    kind: 'defaults',
    name: '',
    lines: [
      'mode http',
      'log global',
      // On a reload, idle keep-alive connections get a last response with `Connection: close`
      // instead of being cut, so clients never write into a closing socket.
      'option idle-close-on-response',
      'option redispatch 1',
      // Retries are made by route backends alone, per their policy (retries.ts).
      'retries 0',
      'retry-on none',
      'timeout connect 2s',
      'timeout client 30s',
      'timeout server 60s',
      'timeout http-request 10s',
      'timeout http-keep-alive 30s',
      'timeout client-fin 5s',
    ],
  };
}

/** A frontend's access-log line (access-log.ts), and the line of a connection that made no request. */
function logLines(proxy: string, direction: string, source: LogSource = { sample: 'var(txn.source)' }, authorization = false): string[] {
  return ['log-format ' + formatString(accessLogFormat({ proxy, direction, source, authorization })), 'error-log-format ' + formatString(errorLogFormat({ proxy, direction }))];
}

/** The request id as the log writes it, read once the id is on the request (the log's alone). */
const REQUEST_ID_COPY = 'http-request set-var(txn.rid) req.hdr(x-request-id)';

/**
 * Request variables every HTTP frontend sets first (log fields and routing keys), and the trace
 * context; `toApp`: the frontend hands requests to an app, which gets B3 headers too (tracing.ts).
 */
function requestVariables(toApp = false): string[] {
  return [
    'http-request set-var(txn.host) req.hdr(host),field(1,:),lower',
    // Only the first proxy on a request's path makes its id.
    'http-request set-header x-request-id %[uuid(4)] unless { req.hdr(x-request-id) -m found }',
    REQUEST_ID_COPY,
    ...traceContextLines(),
    ...(toApp ? b3HeaderLines() : []),
  ];
}

/** Names the destination a backend serves, for the access log (access-log.ts: DESTINATION_VAR). */
function destinationLine(host: string, subset: string | undefined): string {
  return `http-request set-var(${DESTINATION_VAR}) str(${word(destinationValue(host, subset))})`;
}

/**
 * Which proxy sent a request, told to the proxy that receives it (as Istio's metadata exchange does),
 * so that the receiver's metrics name the calling workload. Set by the sending proxy over whatever the
 * app sent; believed only from a peer whose certificate was verified, and never passed to the app.
 */
const PEER_HEADER = 'x-meshctl-peer';
function peerMetadataOut(proxyName: string): string {
  return `http-request set-header ${PEER_HEADER} ${word(proxyName)}`;
}
function peerMetadataIn(): string[] {
  return [`http-request set-var(txn.peer) req.hdr(${PEER_HEADER}) if { var(sess.peer) -m found }`, `http-request del-header ${PEER_HEADER}`];
}

/**
 * Whether a rule of a sidecar's exists only to feed the access log (and so Istio's metrics and the
 * spans): the request id's copy, the destination's name, and the peer header that tells a receiving
 * sidecar which proxy called. The trace-context rules are tracing.ts's.
 */
export function telemetryOnlyRule(rule: string): boolean {
  return rule === REQUEST_ID_COPY || rule.startsWith(`http-request set-var(${DESTINATION_VAR}) `) || rule.includes(` ${PEER_HEADER}`) || rule.startsWith('http-request set-var(txn.peer) ');
}

function adminFrontend(port: number, appBackend: string | null): HaproxySection {
  return {
    kind: 'frontend',
    name: 'admin',
    comment: 'Health, revision and Prometheus metrics for the control plane.',
    lines: [
      `bind 127.0.0.1:${port}`,
      'no log',
      'http-request use-service prometheus-exporter if { path /metrics }',
      'http-request return status 200 content-type text/plain lf-string ' + formatString('%[lua.mesh_revision]\n') + ' if { path /revision }',
      ...(appBackend ? [`http-request return status 503 content-type text/plain string ${word('app not ready\n')} if { path /ready } { nbsrv(${appBackend}) eq 0 }`] : []),
      `http-request return status 200 content-type text/plain string ${word('ready\n')} if { path /ready }`,
      `http-request return status 404 content-type text/plain string ${word('not found\n')}`,
      'http-after-response set-header x-mesh-revision %[lua.mesh_revision]',
    ],
  };
}

// ---------------------------------------------------------------- matches

function headerFetchName(name: string, ctx: Context, where: string): string | null {
  if (/^[A-Za-z0-9_-]+$/.test(name)) return name.toLowerCase();
  ctx.notes.push(`${where}: header ${JSON.stringify(name)} is not a valid header name and was not matched.`);
  return null;
}

function regexAnchored(re: string): string {
  // Istio regexes must match the whole value.
  return `^(?:${re})$`;
}

function matchCondition(fetch: string, m: StringMatch, ignoreCase = false): string {
  const i = ignoreCase ? ' -i' : '';
  if ('exact' in m) return `{ ${fetch} -m str${i} ${word(m.exact)} }`;
  if ('prefix' in m) return m.prefix === '' ? `{ ${fetch} -m found }` : `{ ${fetch} -m beg${i} ${word(m.prefix)} }`;
  return `{ ${fetch} -m reg${i} ${word(regexAnchored(m.regex))} }`;
}

function matchConditions(m: HttpMatch, ctx: Context, where: string): string[] | null {
  const out: string[] = [];
  if (m.uri) out.push(matchCondition('path', m.uri, m.ignoreUriCase));
  if (m.method) out.push(matchCondition('method', m.method));
  if (m.authority) out.push(matchCondition('req.hdr(host)', m.authority));
  for (const [name, sm] of Object.entries(m.headers)) {
    const h = headerFetchName(name, ctx, where);
    if (h === null) return null;
    out.push(matchCondition(`req.fhdr(${h})`, sm));
  }
  for (const [name, sm] of Object.entries(m.withoutHeaders)) {
    const h = headerFetchName(name, ctx, where);
    if (h === null) return null;
    out.push('!' + matchCondition(`req.fhdr(${h})`, sm));
  }
  for (const [name, sm] of Object.entries(m.queryParams)) {
    if (!/^[A-Za-z0-9_.~-]+$/.test(name)) {
      ctx.notes.push(`${where}: query parameter ${JSON.stringify(name)} cannot be matched by the local mesh.`);
      return null;
    }
    out.push(matchCondition(`url_param(${name})`, sm));
  }
  return out;
}

// ---------------------------------------------------------------- destinations

function lbDirective(policy: LoadBalancerPolicy): string {
  switch (policy) {
    case 'ROUND_ROBIN':
    case 'PASSTHROUGH':
      return 'balance roundrobin';
    case 'RANDOM':
      return 'balance random(1)';
    case 'LEAST_REQUEST':
      return 'balance leastconn';
  }
}

interface ResolvedDestination {
  host: string;
  subset: string;
  weight: number;
  loadBalancer: LoadBalancerPolicy;
  servers: CompiledServer[];
}

const NO_TRAFFIC_POLICY: TrafficPolicy = { consistentHash: null, connectionPool: null, outlierDetection: null };

/**
 * A destination backend's balancing and resilience lines, from its DestinationRule's trafficPolicy
 * (the subset's, else the rule's). A backend without these settings gets none of them: no added
 * per-request work on the plain path.
 */
function trafficPolicyLines(loadBalancer: LoadBalancerPolicy, policy: TrafficPolicy): string[] {
  const lines: string[] = [];
  const hash = policy.consistentHash;
  if (!hash) lines.push(lbDirective(loadBalancer));
  else if (hash.on === 'header') lines.push(`balance hdr(${hash.name})`, 'hash-type consistent');
  else if (hash.on === 'queryParameter') lines.push(`balance url_param ${word(hash.name)}`, 'hash-type consistent');
  else if (hash.on === 'sourceIp') lines.push('balance source', 'hash-type consistent');
  else {
    // As Envoy: hash on the cookie's value; without the cookie and with a ttl, make one up, hash on it,
    // and hand it to the caller so that its next requests reach the same pod.
    const cookieName = hash.name.replace(/[^A-Za-z0-9_!#$&'*+.^`|~-]/g, '');
    lines.push('balance hash var(txn.hash_cookie)', 'hash-type consistent', `http-request set-var(txn.hash_cookie) req.cook(${cookieName})`);
    if (hash.ttlMs !== null) {
      const maxAge = hash.ttlMs > 0 ? `; Max-Age=${Math.max(1, Math.round(hash.ttlMs / 1000))}` : '';
      lines.push(
        'http-request set-var(txn.hash_cookie_new) bool(true) unless { var(txn.hash_cookie) -m found }',
        'http-request set-var(txn.hash_cookie) uuid() unless { var(txn.hash_cookie) -m found }',
        `http-response add-header set-cookie ${formatString(`${cookieName}=%[var(txn.hash_cookie)]; Path=${hash.path.replace(/[;%\s]/g, '')}${maxAge}; HttpOnly`)} if { var(txn.hash_cookie_new) -m bool }`,
      );
    }
  }
  const pool = policy.connectionPool;
  if (pool?.connectTimeoutMs) lines.push(`timeout connect ${haproxyMs(pool.connectTimeoutMs)}`);
  if (pool?.maxPendingRequests) {
    // Envoy fails a request at once (503, flag UO) when the pending queue is full; HAProxy would queue
    // it without bound, so the overflow is answered here, before a server is chosen, with the header
    // Envoy sets on an overflow.
    lines.push(setResponseFlag('UO', `if { queue() ge ${pool.maxPendingRequests} }`));
    lines.push(`http-request return status 503 content-type text/plain string ${word('upstream connect error or disconnect/reset before headers. reset reason: overflow')} hdr x-envoy-overloaded true if { queue() ge ${pool.maxPendingRequests} }`);
  }
  return lines;
}

/** Per-server keywords for a connection pool and outlier ejection, shared by every server of the backend. */
function serverPolicyKeywords(policy: TrafficPolicy, serverCount: number): string {
  const out: string[] = [];
  const pool = policy.connectionPool;
  if (pool?.maxConnections) {
    // Envoy's limit is per destination; HAProxy's is per server: each pod gets its share (at least one).
    out.push(`maxconn ${Math.max(1, Math.floor(pool.maxConnections / Math.max(1, serverCount)))}`);
  }
  if (pool?.maxRequestsPerConnection) out.push(`max-reuse ${pool.maxRequestsPerConnection - 1}`);
  if (pool?.idleTimeoutMs) out.push(`pool-purge-delay ${haproxyMs(pool.idleTimeoutMs)}`);
  const od = policy.outlierDetection;
  if (od) {
    // Consecutive 5xx answers mark the pod down at once (Envoy's consecutive-error ejection does not
    // wait for the sweep). As Envoy, it returns at the first sweep (interval) after baseEjectionTime:
    // checked every interval, it must pass enough checks in a row to have sat out the ejection time.
    // The checks go over mTLS to an mTLS pod, so that the pod's log sees no aborted handshake.
    const rise = Math.ceil(od.baseEjectionTimeMs / od.intervalMs) + 1;
    out.push(`check inter ${haproxyMs(od.intervalMs)} rise ${rise} fall 3 observe layer7 error-limit ${od.consecutive5xxErrors} on-error mark-down`);
  }
  return out.length ? ` ${out.join(' ')}` : '';
}

function resolveDestination(dest: RouteDestination, ctx: Context, where: string): ResolvedDestination & { trafficPolicy: TrafficPolicy; tlsKeywords: Map<string, string> } {
  const { model, pods } = ctx;
  const service = serviceFor(model, dest.fqdn);
  const dr = destinationRuleFor(model, dest.fqdn, ctx.self.namespace);
  let loadBalancer: LoadBalancerPolicy = dr?.loadBalancer ?? 'LEAST_REQUEST';
  let trafficPolicy = dr?.trafficPolicy ?? NO_TRAFFIC_POLICY;
  if (!service) {
    ctx.notes.push(`${where}: host ${dest.host} is not a Service or ServiceEntry of the mesh; its requests get 503.`);
    return { host: dest.fqdn, subset: dest.subset, weight: dest.weight, loadBalancer, servers: [], trafficPolicy, tlsKeywords: new Map() };
  }
  let selected = podsOfService(service, pods);
  if (dest.subset) {
    const subset = dr?.subsets.find((s) => s.name === dest.subset);
    if (!subset) {
      ctx.notes.push(`${where}: subset ${dest.subset} of ${dest.host} is not defined by a DestinationRule; its requests get 503.`);
      selected = [];
    } else {
      selected = selected.filter((p) => selectorMatches(subset.labels, p.labels));
      loadBalancer = subset.loadBalancer ?? loadBalancer;
      trafficPolicy = subset.trafficPolicy;
    }
  }
  const clientTls = dr ? destinationClientTls(dr.resource.spec, dest.subset, dest.port ?? service.ports[0]?.port ?? null) : null;
  const tlsKeywords = new Map<string, string>();
  const tlsOf = (name: string, pod: string | null, acceptsMtls: boolean) => {
    const keywords = serverTlsKeywords(clientTls, { pod, acceptsMtls }, ctx.self.paths, `${where} → ${dest.host}`, ctx.notes);
    tlsKeywords.set(name, keywords);
    return keywords.startsWith(' ssl');
  };
  const servers: CompiledServer[] = selected
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((p) => {
      const acceptsMtls = mtlsModeOf(model, p) !== 'DISABLE';
      const tls = tlsOf(p.name, p.name, acceptsMtls);
      return { name: p.name, pod: p.name, address: '127.0.0.1', port: meshPeerPort(p.ports, acceptsMtls, tlsKeywords.get(p.name)!, ctx.self.paths), tls };
    });
  if (service.kind === 'ServiceEntry' && !service.selector) {
    service.endpoints.forEach((e, i) => {
      const port = e.port ?? dest.port ?? service.ports[0]?.port;
      if (!/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])$/.test(e.address) || !Number.isInteger(port)) {
        ctx.notes.push(`${where}: endpoint ${JSON.stringify(e.address)} of ServiceEntry ${service.namespace}/${service.name} is not an address and port; it was left out.`);
        return;
      }
      servers.push({ name: `endpoint-${i}`, pod: null, address: e.address, port: port as number, tls: tlsOf(`endpoint-${i}`, null, false) });
    });
  }
  return { host: dest.fqdn, subset: dest.subset, weight: dest.weight, loadBalancer, servers, trafficPolicy, tlsKeywords };
}

/**
 * A backend's header operations. The values are looked up in the proxy's header map under
 * `<backend>/<request|response>/<set|add>/<header>` (recorded in `values`), so that a new value needs
 * no reload; a value a map cannot hold stays literal in the configuration.
 */
function headerOperationLines(prefix: 'http-request' | 'http-response', ops: HeaderOperations, backend: string, file: string, values: Record<string, string>): string[] {
  const out: string[] = [];
  const direction = prefix === 'http-request' ? 'request' : 'response';
  const value = (op: 'set' | 'add', name: string, text: string): string => {
    const key = `${backend}/${direction}/${op}/${name.toLowerCase()}`;
    if (!mapSafeValue(text) || !/^[A-Za-z0-9_.:\/-]+$/.test(key) || key in values) return literalFormat(text);
    values[key] = text;
    return formatString(`%[str(${key}),map_str(${file})]`);
  };
  for (const [k, v] of Object.entries(ops.set)) out.push(`${prefix} set-header ${word(k)} ${value('set', k, v)}`);
  for (const [k, v] of Object.entries(ops.add)) out.push(`${prefix} add-header ${word(k)} ${value('add', k, v)}`);
  for (const k of ops.remove) out.push(`${prefix} del-header ${word(k)}`);
  return out;
}

interface RouteBuild {
  compiled: CompiledRoute;
  /** Backends of the route's mirrors (served by the proxy's internal mirror listener). */
  mirrorBackends: string[];
  /** Frontend rules for direct responses and redirects (evaluated once the route is chosen). */
  frontendRules: string[];
  backends: HaproxySection[];
}

/** The backends of one route (one per destination) and its direct-response or redirect rule. */
function buildRoute(
  id: string,
  route: HttpRoute | null,
  destinations: RouteDestination[],
  ctx: Context,
  meta: CompiledRoute['virtualService'],
  hosts: string[],
  where: string,
): RouteBuild {
  const frontendRules: string[] = [];
  const backends: HaproxySection[] = [];
  const isRoute = `{ var(txn.route) -m str ${word(id)} }`;
  let faultValues: Record<string, number> | null = null;
  if (route?.fault) {
    // As Envoy: the delay first, then the abort; each drawn independently per request. The shares
    // and the delay are looked up in the fault map (runtime values); only which faults exist and the
    // abort's status are in the configuration.
    const f = route.fault;
    const faults = faultRuntime(id, f, routeMapFile(ctx.self.paths.dir, 'faultValues'), isRoute);
    frontendRules.push(...faults.rules, ...faultRules(f, isRoute, faults.draw, 'route'));
    faultValues = faults.values;
  }
  if (route?.directResponse) {
    // HAProxy refuses an empty `string`: an empty body is no body.
    const body = route.directResponse.body ? ` content-type text/plain string ${word(route.directResponse.body)}` : '';
    frontendRules.push(`http-request return status ${route.directResponse.status}${body} if ${isRoute}`);
  } else if (route?.redirect) {
    const r = route.redirect;
    const esc = (t: string) => t.replace(/%/g, '%%');
    const location = `${r.authority ? `http://${esc(r.authority)}` : ''}${r.uri !== undefined ? esc(r.uri) : '%[pathq]'}`;
    frontendRules.push(`http-request redirect location ${word(location)} code ${r.code} if ${isRoute}`);
  }
  frontendRules.push(...gatewayApiFrontendRules(route, isRoute));
  const compiled: CompiledRoute = { id, virtualService: meta, hosts, weighted: destinations.length > 1, destinations: [], mirrors: [], ...(faultValues ? { faultValues } : {}) };
  if (route?.directResponse || route?.redirect || gatewayApiAnswersItself(route)) return { compiled, frontendRules, backends, mirrorBackends: [] };
  const mirror = mirrorPieces(id, route?.mirrors ?? [], route, ctx, where);
  compiled.mirrors = mirror.compiled;
  backends.push(...mirror.backends);

  const resilience = routeResilience(route, routeMaps(ctx));
  compiled.deadlineMs = resilience.deadlineMs;
  compiled.attemptMs = resilience.attemptMs;
  destinations.forEach((dest, n) => {
    const { trafficPolicy, tlsKeywords, ...resolved } = resolveDestination(dest, ctx, where);
    const backend = `${id}:${n}`;
    compiled.destinations.push({ backend, ...resolved });
    const lines: string[] = [
      // The destination is named before any rule of the pool's may answer, so that an overflow's line names it too.
      destinationLine(resolved.host, resolved.subset),
      ...trafficPolicyLines(resolved.loadBalancer, trafficPolicy),
      'no log',
    ];
    if (route?.rewrite?.uri !== undefined) {
      const newUri = route.rewrite.uri;
      const prefixes = route.match.map((m, j) => ({ j, m })).filter(({ m }) => m.uri && 'prefix' in m.uri);
      for (const { j, m } of prefixes) {
        const prefix = (m.uri as { prefix: string }).prefix;
        lines.push(`http-request replace-path ${word('^' + regexLiteral(prefix) + '(.*)$')} ${word(newUri.replace(/%/g, '%%').replace(/\\/g, '\\\\') + '\\1')} if { var(txn.match) -m int ${j} }`);
      }
      const cond = prefixes.length ? ` unless ${prefixes.map(({ j }) => `{ var(txn.match) -m int ${j} }`).join(' || ')}` : '';
      // Without a prefix match the rewrite replaces the whole path (keeping the query string).
      lines.push(`http-request set-path ${literalFormat(newUri)}${cond}`);
    }
    if (route?.rewrite?.authority) lines.push(`http-request set-header host ${literalFormat(route.rewrite.authority)}`);
    lines.push(...gatewayApiBackendLines(route, n));
    // Route-level operations come before the destination's, which win on a header both set.
    const headerMap = routeMapFile(ctx.self.paths.dir, 'headerValues');
    const values = (compiled.headerValues ??= {});
    if (route) lines.push(...headerOperationLines('http-request', route.headers.request, `${backend}:route`, headerMap, values));
    lines.push(...headerOperationLines('http-request', dest.headers.request, backend, headerMap, values));
    if (route) lines.push(...headerOperationLines('http-response', route.headers.response, `${backend}:route`, headerMap, values));
    lines.push(...headerOperationLines('http-response', dest.headers.response, backend, headerMap, values));
    // A server outside the mesh (a ServiceEntry's endpoint), here or among the route's mirrors, reads no
    // traceparent of the mesh's first: it gets B3 headers naming this proxy's span (tracing.ts).
    if ([resolved.servers, ...mirror.compiled.map((m) => m.servers)].some((servers) => servers.some((s) => s.pod === null))) lines.push(...b3HeaderLines());
    // The copy is taken last, so that it carries the request as it goes upstream.
    lines.push(...mirror.rules);
    lines.push(...resilience.backendLines, ...ROUTE_BACKEND_ERROR_LINES);
    lines.push(...serverLines(resolved.servers, trafficPolicy, tlsKeywords));
    backends.push({ kind: 'backend', name: backend, lines });
  });
  return { compiled, frontendRules, backends, mirrorBackends: mirror.compiled.map((m) => m.backend) };
}

/**
 * A route's build for this sidecar: made once per mesh compile for every sidecar of the namespace that
 * knows the route (it depends on the proxy only through its namespace and directory), with the
 * sidecar's directory put in; the notes it made are this sidecar's too.
 */
function routeBuildOf(id: string, route: HttpRoute | null, destinations: RouteDestination[], ctx: Context, meta: CompiledRoute['virtualService'], hosts: string[], where: string): RouteBuild {
  const shared = ctx.shared?.routes;
  if (!shared || !takesSharedBuilds(ctx.self.paths)) return buildRoute(id, route, destinations, ctx, meta, hosts, where);
  const key = [id, ctx.self.namespace, where, ...hosts].join('\n');
  let made = shared.get(key);
  if (!made) {
    const notes: string[] = [];
    made = { build: buildRoute(id, route, destinations, { ...ctx, self: { ...ctx.self, paths: SHARED_BUILD_PATHS }, notes }, meta, hosts, where), notes };
    markSharedBuild(made.build);
    shared.set(key, made);
  }
  ctx.notes.push(...made.notes);
  return inProxyDirectory(made.build, ctx.self.paths.dir);
}

/** What the sidecars of one mesh compile share. */
interface SharedBuilds {
  routes: SharedRouteBuilds<RouteBuild>;
  /** Host groups by Sidecar scope and namespace (all a sidecar's groups follow from). */
  hostGroups: Map<string, ReturnType<typeof sidecarHostGroups>>;
  /** A host's default route with the names it is called by, per build and namespace. */
  hostRoutes: WeakMap<CompiledRoute, Map<string, CompiledRoute>>;
}

/** The sidecar's host groups: the same for every sidecar of a namespace under the same Sidecar resource. */
function hostGroupsOf(ctx: Context, scope: EgressScope | null): ReturnType<typeof sidecarHostGroups> {
  const shared = ctx.shared?.hostGroups;
  if (!shared) return sidecarHostGroups(ctx, scope);
  const key = `${scope ? `${scope.sidecar}|${scope.mode}` : ''}\n${ctx.self.namespace}`;
  let groups = shared.get(key);
  if (!groups) shared.set(key, (groups = sidecarHostGroups(ctx, scope)));
  return groups;
}

/** A host's default route with the names the sidecar's app calls it by. */
function hostRouteOf(compiled: CompiledRoute, host: string, ctx: Context): CompiledRoute {
  const shared = ctx.shared?.hostRoutes;
  let byNamespace = shared?.get(compiled);
  let route = byNamespace?.get(ctx.self.namespace);
  if (!route) {
    route = { ...compiled, hostNames: requestHostNames(host, ctx.self.namespace) };
    if (shared) {
      if (!byNamespace) shared.set(compiled, (byNamespace = new Map()));
      byNamespace.set(ctx.self.namespace, route);
    }
  }
  return route;
}

/** The proxy's route maps (route-state.ts), which hold the route values the runtime API changes. */
function routeMaps(ctx: Context): { deadlineMs: string; attemptMs: string } {
  return { deadlineMs: routeMapFile(ctx.self.paths.dir, 'deadlineMs'), attemptMs: routeMapFile(ctx.self.paths.dir, 'attemptMs') };
}

/** HAProxy takes whole milliseconds: a sub-millisecond part rounds up, so `250us` is 1 ms, never 0 (no timeout, no delay). */
function haproxyMs(ms: number): number {
  return Math.ceil(ms);
}

function serverLines(servers: CompiledServer[], policy: TrafficPolicy, tlsKeywords: Map<string, string>): string[] {
  const keywords = serverPolicyKeywords(policy, servers.length);
  return servers.map((s) => `server ${s.name} ${s.address}:${s.port}${tlsKeywords.get(s.name) ?? ''}${keywords}`);
}

/**
 * A route's mirrors: one backend each (the mirror destination's pods, over mTLS like any other
 * backend, reached through the proxy's internal mirror listener), and the rules every destination
 * backend of the route ends with: draw which mirrors take this request, then hand a copy to the Lua
 * action `mesh_mirror`, which sends it in the background. Routes without a mirror get none of these
 * rules. A mirror at 0% is no mirror.
 */
function mirrorPieces(id: string, mirrors: RouteMirror[], route: HttpRoute | null, ctx: Context, where: string): { compiled: CompiledMirror[]; backends: HaproxySection[]; rules: string[] } {
  const compiled: CompiledMirror[] = [];
  const backends: HaproxySection[] = [];
  const actions: string[] = [];
  const draws: string[] = [];
  mirrors.forEach((m, n) => {
    if (!(m.percent > 0)) return;
    const backend = `${id}:mirror:${n}`;
    const { tlsKeywords, ...resolved } = resolveDestination({ host: m.host, fqdn: m.fqdn, subset: m.subset, port: m.port, weight: 0, headers: { request: { set: {}, add: {}, remove: [] }, response: { set: {}, add: {}, remove: [] } } }, ctx, `${where} mirror`);
    compiled.push({ backend, host: resolved.host, subset: resolved.subset, percent: m.percent, loadBalancer: resolved.loadBalancer, servers: resolved.servers });
    const lines = [
      lbDirective(resolved.loadBalancer),
      'no log',
      destinationLine(resolved.host, resolved.subset),
      // The copy waits for its answer as long as the route would (the route's deadline, a runtime value).
      ...(route?.timeoutMs ? [`http-request set-timeout server var(txn.route),map_str_int(${word(routeMaps(ctx).deadlineMs)})`] : []),
      ...serverLines(resolved.servers, NO_TRAFFIC_POLICY, tlsKeywords),
    ];
    backends.push({ kind: 'backend', name: backend, lines });
    let cond = '';
    if (m.percent < 100) {
      const v = `txn.mirror_${n}`;
      draws.push(`http-request set-var(${v}) bool(true) if { rand(1000000) lt ${Math.max(1, Math.round(m.percent * 10_000))} }`);
      cond = `{ var(${v}) -m bool }`;
    }
    actions.push(`http-request lua.mesh_mirror ${word(ctx.self.paths.mirrorSocket)} ${word(backend)} ${word(id)}${cond ? ` if ${cond}` : ''}`);
  });
  return { compiled, backends, rules: [...draws, ...actions] };
}

/**
 * The internal listener that sends mirrored copies: plaintext on a UNIX socket of mode 0600 in the
 * proxy's directory, fed by the Lua action `mesh_mirror`; it picks the mirror backend the copy names,
 * and logs each copy in the access log with `"direction":"mirror","mirror":true`.
 */
function mirrorListener(self: { name: string; paths: ProxyPaths }, identity: string, backends: string[]): HaproxySection[] {
  if (!backends.length) return [];
  return [{
    kind: 'frontend',
    name: 'mirror',
    comment: 'Mirrored copies of requests (fire-and-forget, from the Lua action mesh_mirror).',
    lines: [
      `bind unix@${self.paths.mirrorSocket} mode 600`,
      ...logLines(self.name, 'mirror'),
      'http-request set-var(txn.host) req.hdr(host),field(1,:),lower',
      REQUEST_ID_COPY,
      `http-request set-var(txn.source) str(${word(identity)})`,
      'http-request set-var(txn.route) req.hdr(x-meshctl-route)',
      'http-request set-var(txn.backend) req.hdr(x-meshctl-mirror)',
      'http-request del-header x-meshctl-route',
      'http-request del-header x-meshctl-mirror',
      `http-request return status 404 content-type text/plain string ${word('meshctl: no such mirror\n')} unless { var(txn.backend) -m str ${backends.map(word).join(' ')} }`,
      'use_backend %[var(txn.backend)]',
    ],
  }];
}

// ---------------------------------------------------------------- routing frontends

interface RoutingTable {
  /** Frontend lines after the request variables: host ACLs, route choice, responses, use_backend. */
  frontend: string[];
  /** Backends of mirrors (the internal mirror listener's choices). */
  mirrorBackends: string[];
  backends: HaproxySection[];
  routes: CompiledRoute[];
}

interface HostGroup {
  /** The ACL (or ACLs, all of which must match) that take a request into the group. */
  acl: string;
  /** ACL definition lines. */
  aclLines: string[];
  hosts: string[];
  vs: VirtualServiceSpec | null;
  /** The host whose default route applies when no VirtualService exists. */
  defaultHost: string | null;
}

function routeRules(groups: HostGroup[], ctx: Context): RoutingTable {
  const frontend: string[] = ['acl has_route var(txn.route) -m found'];
  const backends: HaproxySection[] = [];
  const routes: CompiledRoute[] = [];
  const direct: string[] = [];
  const weightedIds: string[] = [];
  const mirrorBackends: string[] = [];
  // Hosts without a VirtualService are found by one map lookup (host name → route id), not one rule
  // each; it sits where the first of them is, before any wildcard VirtualService, as Istio orders.
  const hostRouteMap = routeMapFile(ctx.self.paths.dir, 'hostRoutes');
  let hostLookup = false;
  for (const g of groups) if (!g.defaultHost) frontend.push(...g.aclLines);
  for (const g of groups) {
    if (g.defaultHost && !hostLookup) {
      frontend.push(`http-request set-var(txn.route) var(txn.host),map_str(${word(hostRouteMap)}) unless has_route`);
      hostLookup = true;
    }
    if (g.vs) {
      const vs = g.vs;
      const names = vs.http.map((r) => r.name);
      for (const route of vs.http) {
        // Named routes keep their id when routes are added before them (a shift addresses them by it).
        const named = route.name && /^[A-Za-z0-9_.-]+$/.test(route.name) && !/^\d+$/.test(route.name) && names.indexOf(route.name) === names.lastIndexOf(route.name);
        const id = `vs:${vs.namespace}:${vs.name}:${named ? route.name : route.index}`;
        const where = `VirtualService ${vs.namespace}/${vs.name} http[${route.index}]`;
        const matches = route.match.length ? route.match : [null];
        const needsMatchIndex = route.rewrite?.uri !== undefined && route.match.some((m) => m.uri && 'prefix' in m.uri);
        matches.forEach((m, j) => {
          const conds = m ? matchConditions(m, ctx, where) : [];
          if (conds === null) return;
          const cond = ['!has_route', g.acl, ...conds].join(' ');
          if (needsMatchIndex) frontend.push(`http-request set-var(txn.match) int(${j}) if ${cond}`);
          frontend.push(`http-request set-var(txn.route) str(${word(id)}) if ${cond}`);
        });
        const built = routeBuildOf(id, route, route.route, ctx, { namespace: vs.namespace, name: vs.name, index: route.index, routeName: route.name }, g.hosts, where);
        direct.push(...built.frontendRules);
        backends.push(...built.backends);
        mirrorBackends.push(...built.mirrorBackends);
        routes.push(built.compiled);
        if (built.compiled.destinations.length > 1) weightedIds.push(id);
      }
    } else if (g.defaultHost) {
      const id = `host:${g.defaultHost}`;
      const dest: RouteDestination = {
        host: g.defaultHost, fqdn: g.defaultHost, subset: '', port: null, weight: 100,
        headers: { request: { set: {}, add: {}, remove: [] }, response: { set: {}, add: {}, remove: [] } },
      };
      const built = routeBuildOf(id, null, [dest], ctx, null, g.hosts, `host ${g.defaultHost}`);
      backends.push(...built.backends);
      routes.push(hostRouteOf(built.compiled, g.defaultHost, ctx));
    }
  }
  frontend.push(setResponseFlag('NR', 'unless has_route'));
  frontend.push(`http-request return status 404 content-type text/plain lf-string ${formatString('meshctl: no route to host %[var(txn.host)]\n')} unless has_route`);
  frontend.push(...direct);
  // A route with one destination names its backend: one map lookup (route id → backend) for them all.
  if (routes.some((r) => r.destinations.length === 1)) frontend.push(`http-request set-var(txn.backend) var(txn.route),map_str(${word(routeMapFile(ctx.self.paths.dir, 'routeBackends'))})`);
  if (weightedIds.length) frontend.push(...weightedPickLines(weightedIds, ctx.self.paths.dir));
  frontend.push(`http-request return status 503 content-type text/plain lf-string ${formatString('meshctl: route %[var(txn.route)] has no destination with weight\n')} unless { var(txn.backend) -m found }`);
  frontend.push('use_backend %[var(txn.backend)]');
  return { frontend, backends, routes, mirrorBackends };
}

/**
 * The weighted choice, natively (lua.ts keeps the weights and writes each route's pick cycle into the
 * pick map): the route's counter in the listener's own stick table gives the request its number, and
 * the backend at that number modulo the cycle's length is the destination. A stick counter, not a
 * variable, so that requests on several threads never share a number. The table holds the weighted
 * routes alone, and its entries never expire. Only weighted routes have a cycle in the pick map, and
 * none has a backend yet (route-backend.map holds the routes with one destination): the cycle's
 * length, looked up once, tells the rules after it that the route is weighted, instead of matching
 * the route against every weighted id at each of them.
 */
export function weightedPickLines(weightedIds: string[], dir: string): string[] {
  const pickMap = word(pickMapFile(dir));
  const keyLength = Math.max(...weightedIds.map((id) => Buffer.byteLength(id))) + 1;
  const weighted = '{ var(txn.pick_cycle) -m found }';
  return [
    `stick-table type string len ${keyLength} size ${weightedIds.length} store gpc0`,
    `http-request set-var(txn.pick_cycle) var(txn.route),concat(/total),map_str(${pickMap}) unless { var(txn.backend) -m found }`,
    `http-request track-sc0 var(txn.route) if ${weighted}`,
    `http-request set-var(txn.pick_place) sc_inc_gpc0(0),mod(txn.pick_cycle) if ${weighted}`,
    `http-request set-var(txn.backend) var(txn.route),concat(/,txn.pick_place),map_str(${pickMap}) if ${weighted}`,
  ];
}

/** The names one host ACL matches: exact names, `*.suffix` wildcards as suffixes, or any name at all. */
interface HostPatterns {
  names: string[];
  suffixes: string[];
  any: boolean;
}

function hostAclLines(acl: string, patterns: HostPatterns): string[] {
  if (patterns.any) return [`acl ${acl} always_true`];
  const lines: string[] = [];
  if (patterns.names.length) lines.push(`acl ${acl} var(txn.host) -m str ${patterns.names.map(word).join(' ')}`);
  if (patterns.suffixes.length) lines.push(`acl ${acl} var(txn.host) -m end ${patterns.suffixes.map(word).join(' ')}`);
  return lines;
}

/**
 * Host groups for a sidecar's outbound listener: every mesh host its Sidecar's egress scope imports
 * (all of them without a Sidecar), by every name the pod may use; and the names of them all (the
 * registry a REGISTRY_ONLY sidecar keeps to). Hosts outside the scope leave no trace, not even in the
 * numbering of the ACLs, so that a change to one does not change this sidecar's configuration.
 */
function sidecarHostGroups(ctx: Context, scope: EgressScope | null): { groups: HostGroup[]; known: HostPatterns } {
  const { model } = ctx;
  const groups: HostGroup[] = [];
  const known: HostPatterns = { names: [], suffixes: [], any: false };
  // A consumer route applies to its own namespace's clients alone, and for them ahead of the Service's
  // own routes; a route for one port of a Service goes before the Service's routes for every port.
  const rank = (vs: VirtualServiceSpec) => (vs.consumerNamespace ? 0 : 2) + (vs.servicePort !== undefined ? 0 : 1);
  const vsList = meshVirtualServices(model)
    .filter((vs) => (!scope || scope.importsVirtualService(vs)) && (!vs.consumerNamespace || vs.consumerNamespace === ctx.self.namespace))
    .map((vs, i) => ({ vs, i })).sort((a, b) => rank(a.vs) - rank(b.vs) || a.i - b.i).map(({ vs }) => vs);
  // A host is claimed whole (`host`) or for one port (`host:port`), by the first route of that order.
  const claimed = new Set<string>();
  const hostsOfVs = (vs: VirtualServiceSpec) => vs.hosts.map((h) => hostKey(vs.namespace, h));
  let n = 0;
  const addGroup = (prefix: string, hosts: string[], vs: VirtualServiceSpec | null) => {
    const acl = `${prefix}_${n++}`;
    const wild = hosts.filter((h) => h.startsWith('*'));
    const names = hosts.filter((h) => !h.startsWith('*')).flatMap((h) => requestHostNames(h, ctx.self.namespace));
    const aclLines = hostAclLines(acl, { names, suffixes: [], any: false });
    for (const w of wild) aclLines.push(...hostAclLines(acl, { names: [], suffixes: [w.slice(1)], any: w === '*' }));
    known.names.push(...names);
    known.suffixes.push(...wild.filter((w) => w !== '*').map((w) => w.slice(1)));
    known.any ||= wild.includes('*');
    let condition = acl;
    if (vs?.servicePort !== undefined) {
      // The Service port a client called is the Host header's port; a Host naming none calls the
      // Service's default port (servicePortIsDefault).
      aclLines.push(`acl ${acl}_port req.hdr(host),field(2,:) -m str ${vs.servicePort}`);
      if (vs.servicePortIsDefault) aclLines.push(`acl ${acl}_port req.hdr(host) -m reg ^[^:]*$`);
      condition = `${acl} ${acl}_port`;
    }
    groups.push({ acl: condition, aclLines, hosts, vs, defaultHost: vs ? null : hosts[0]! });
  };
  for (const vs of vsList) {
    const claim = (h: string) => (vs.servicePort !== undefined ? `${h}:${vs.servicePort}` : h);
    const hosts = hostsOfVs(vs).filter((h) => !claimed.has(claim(h)));
    if (!hosts.length) continue;
    hosts.forEach((h) => claimed.add(claim(h)));
    addGroup('vs', hosts, vs);
  }
  for (const svc of model.services) {
    if (claimed.has(svc.host) || svc.host.startsWith('*')) continue;
    if (scope && !scope.importsService(svc.host, svc.namespace)) continue;
    claimed.add(svc.host);
    addGroup('host', [svc.host], null);
  }
  // Wildcard VirtualServices come last so that exact hosts win, as in Istio.
  return {
    groups: [...groups.filter((g) => !g.hosts.some((h) => h.startsWith('*'))), ...groups.filter((g) => g.hosts.some((h) => h.startsWith('*')))],
    known: { names: [...new Set(known.names)], suffixes: [...new Set(known.suffixes)], any: known.any },
  };
}

/**
 * outboundTrafficPolicy REGISTRY_ONLY: a host the sidecar does not know is answered 502 with the flag
 * NR, as Istio's `block_all` virtual host answers; before any route is chosen, so no route rule runs.
 */
function registryOnlyLines(scope: EgressScope | null, known: HostPatterns): string[] {
  if (scope?.mode !== 'REGISTRY_ONLY' || known.any) return [];
  const acl = hostAclLines('in_registry', known);
  return [
    ...(acl.length ? acl : ['acl in_registry always_false']),
    setResponseFlag('NR', 'unless in_registry'),
    `http-request return status 502 content-type text/plain lf-string ${formatString(`meshctl: host %[var(txn.host)] is not in the egress hosts of Sidecar ${scope.sidecar} (outboundTrafficPolicy REGISTRY_ONLY)\n`)} unless in_registry`,
  ];
}

// ---------------------------------------------------------------- sidecars

function inboundSections(pod: MeshPod, mode: MtlsMode, identity: string, authorization: CompiledAuthorization, rateLimits: InboundRateLimits): HaproxySection[] {
  const p = pod.paths;
  const tls = inboundTlsBind(p);
  // Other sidecars and gateways call the mTLS-only port straight (mtls.ts: meshPeerPort).
  const meshBind = pod.ports.mtls !== undefined ? [`bind 127.0.0.1:${pod.ports.mtls} ${tls}`] : [];
  const httpLines = (...binds: string[]): string[] => [
    ...binds,
    // The caller is the peer of the connection: its verified SPIFFE ID, read at log time.
    ...logLines(pod.name, 'inbound', { sample: 'var(sess.peer)' }, authorization.lines.length > 0),
    ...requestVariables(true),
    // The peer's identity comes from its verified certificate, read once per connection.
    'http-request set-var(sess.peer) lua.mesh_peer_spiffe_id if { ssl_c_used } !{ var(sess.peer) -m found }',
    // The peer certificate's hash, once per connection (every request on it has the same peer).
    'http-request set-var(sess.peer_hash) ssl_c_der,sha2(256),hex,lower if { var(sess.peer) -m found } !{ var(sess.peer_hash) -m found }',
    ...peerMetadataIn(),
    // set-header replaces what the caller sent; without a verified peer, nothing of it may pass.
    'http-request set-header x-forwarded-client-cert ' + formatString(`By=${identity};Hash=%[var(sess.peer_hash)];URI=%[var(sess.peer)]`) + ' if { var(sess.peer) -m found }',
    'http-request del-header x-forwarded-client-cert unless { var(sess.peer) -m found }',
    ...authorization.lines,
    // As Istio's filter chain: a request the authorization policy denies takes no rate-limit token.
    ...rateLimits.requestLines,
    'default_backend inbound_app',
  ];
  const app: HaproxySection = {
    kind: 'backend',
    name: 'inbound_app',
    // An app that is down (not started yet, at a pod's start) is checked every 25 ms, a refused connect
    // each on loopback: the pod is ready within 25 ms of its app listening.
    lines: ['no log', 'balance first', ...INBOUND_APP_RESILIENCE_LINES, `server app 127.0.0.1:${pod.ports.app} check inter 1s downinter 25ms fall 2 rise 1`],
  };
  if (mode === 'STRICT') {
    return [{ kind: 'frontend', name: 'inbound', comment: 'mTLS only (PeerAuthentication STRICT): plaintext never reaches HTTP.', lines: httpLines(`bind 127.0.0.1:${pod.ports.inbound} ${tls}`, ...meshBind) }, app];
  }
  if (mode === 'DISABLE') {
    return [{ kind: 'frontend', name: 'inbound', comment: 'PeerAuthentication DISABLE: plaintext only.', lines: httpLines(`bind 127.0.0.1:${pod.ports.inbound}`) }, app];
  }
  return [
    {
      kind: 'frontend',
      name: 'inbound',
      comment: 'PeerAuthentication PERMISSIVE, for callers outside the mesh: a TLS ClientHello goes to the mTLS half, anything else to the plaintext half.',
      lines: [
        `bind 127.0.0.1:${pod.ports.inbound}`,
        'mode tcp',
        'no log',
        'no option idle-close-on-response',
        'tcp-request inspect-delay 5s',
        'tcp-request content accept if { req.ssl_hello_type 1 }',
        'tcp-request content accept if { req.len gt 0 }',
        'use_backend inbound_split_tls if { req.ssl_hello_type 1 }',
        'default_backend inbound_split_plain',
      ],
    },
    { kind: 'backend', name: 'inbound_split_tls', lines: ['mode tcp', 'no log', `server tls unix@${p.inboundTlsSocket} send-proxy-v2`] },
    { kind: 'backend', name: 'inbound_split_plain', lines: ['mode tcp', 'no log', `server plain unix@${p.inboundPlainSocket} send-proxy-v2`] },
    { kind: 'frontend', name: 'inbound_mtls', comment: 'mTLS: mesh peers on their own port, and the mTLS half of the split.', lines: httpLines(...meshBind, `bind unix@${p.inboundTlsSocket} mode 600 accept-proxy ${tls}`) },
    { kind: 'frontend', name: 'inbound_plain', lines: httpLines(`bind unix@${p.inboundPlainSocket} mode 600 accept-proxy`) },
    app,
  ];
}

function finish(kind: 'sidecar' | 'gateway', self: { name: string; namespace: string; paths: ProxyPaths }, identity: string, mtlsMode: MtlsMode | null, sections: HaproxySection[], routes: CompiledRoute[], options: CompileOptions): CompiledProxy {
  const config = renderConfig({ header: [`meshctl ${kind} ${self.namespace}/${self.name} (generated by meshctl; edits are overwritten)`], sections });
  const luaRoutes: LuaRouteData[] = routes.filter((r) => r.weighted && r.destinations.length > 1).map((r) => ({ id: r.id, backends: r.destinations.map((d) => d.backend), weights: r.destinations.map((d) => d.weight) }));
  const shape = routes.map((r) => [r.id, r.weighted, r.destinations.map((d) => d.backend)]);
  const structureHash = createHash('sha256').update(config).update('\0').update(MESH_LUA_LIBRARY).update('\0').update(JSON.stringify(shape)).digest('hex');
  return {
    kind,
    name: self.name,
    namespace: self.namespace,
    revision: options.revision,
    identity,
    mtlsMode,
    config,
    lua: renderLuaFile(options.revision, luaRoutes, pickMapFile(self.paths.dir)),
    routes,
    structureHash,
    runtimeState: routeRuntimeState(routes),
    paths: self.paths,
  };
}

/** Compiles one pod's sidecar. `pods` are every pod of the mesh (the destinations). */
export function compileSidecar(model: MeshModel, pod: MeshPod, pods: MeshPod[], options: CompileOptions, notes: string[] = [], shared?: SharedBuilds): CompiledProxy {
  checkSocketPaths(pod.paths);
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const identity = spiffeId({ trustDomain, namespace: pod.namespace, serviceAccount: pod.serviceAccount });
  const ctx: Context = { model, pods, self: pod, options, notes, shared };
  const mode = mtlsModeOf(model, pod);
  const rateLimits = inboundRateLimits(model.rateLimits, pod);
  const scope = egressScopeFor(model.sidecars, model.rootNamespace, pod);
  const hostGroups = hostGroupsOf(ctx, scope);
  const table = routeRules(hostGroups.groups, ctx);
  const authz = authorizationLines(authorizationFor(model.authorizationPolicies, model.rootNamespace, pod), { destinationPort: model.workloads.find((w) => w.name === pod.workload && w.namespace === pod.namespace)?.port ?? null, remoteAddress: 'forwarded-for' });
  const sections: HaproxySection[] = [
    globalSection(pod.name, 'sidecar', pod.paths, options.threads ?? 1),
    defaultsSection(),
    adminFrontend(pod.ports.admin, 'inbound_app'),
    ...inboundSections(pod, mode, identity, authz, rateLimits),
    {
      kind: 'frontend',
      name: 'outbound',
      comment: "The app's outgoing calls (origin-form with a Host header, or absolute-form as to an HTTP proxy).",
      lines: [
        `bind 127.0.0.1:${pod.ports.outbound}`,
        ...logLines(pod.name, 'outbound', { literal: identity }),
        ...requestVariables(),
        peerMetadataOut(pod.name),
        // Absolute-form requests (HTTP_PROXY clients) go on in origin-form, as apps expect.
        'http-request set-uri %[pathq] if { url -m beg -i http:// }',
        ...registryOnlyLines(scope, hostGroups.known),
        ...table.frontend,
      ],
    },
    ...mirrorListener(pod, identity, table.mirrorBackends),
    ...table.backends,
    ...rateLimits.tables,
  ];
  if (authz.normalizesPath) sections[0]!.lines.push('expose-experimental-directives');
  return finish('sidecar', pod, identity, mode, sections, table.routes, options);
}

// ---------------------------------------------------------------- gateways

/** Compiles one ingress gateway proxy for the Gateway resource it is named after. */
export function compileGateway(model: MeshModel, gw: MeshGatewayProxy, pods: MeshPod[], options: CompileOptions, notes: string[] = []): CompiledProxy {
  checkSocketPaths(gw.paths);
  const spec = model.gateways.find((g) => g.name === gw.name && g.namespace === gw.namespace);
  if (!spec) throw new CompileError(`Gateway ${gw.namespace}/${gw.name} is not among the applied resources; apply it before starting its proxy.`);
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const identity = spiffeId({ trustDomain, namespace: gw.namespace, serviceAccount: gw.serviceAccount });
  const ctx: Context = { model, pods, self: gw, options, notes };
  const bound = virtualServicesOfGateway(model, spec);
  const sections: HaproxySection[] = [globalSection(gw.name, 'gateway', gw.paths, options.gatewayThreads ?? options.threads ?? 1), defaultsSection(), adminFrontend(gw.ports.admin, null)];
  const routes: CompiledRoute[] = [];
  const backends = new Map<string, HaproxySection>();
  const mirrorBackends = new Set<string>();
  const ports = [...new Set(spec.servers.map((s) => s.port))].filter((p) => Number.isInteger(p) && p > 0).sort((a, b) => a - b);
  for (const port of ports) {
    const serverHosts = spec.servers.filter((s) => s.port === port).flatMap((s) => s.hosts);
    const groups: HostGroup[] = [];
    bound.forEach((vs, n) => {
      if (vs.gatewayPort !== undefined && vs.gatewayPort !== port) return;
      const hosts = vs.hosts.map((h) => h.toLowerCase()).filter((h) => serverHosts.some((p) => hostMatches(p, h)));
      if (!hosts.length) return;
      const acl = `vs_${n}`;
      const aclLines = hosts.map((h) => (h === '*' ? `acl ${acl} always_true` : h.startsWith('*.') ? `acl ${acl} var(txn.host) -m end ${word(h.slice(1))}` : `acl ${acl} var(txn.host) -m str ${word(h)}`));
      groups.push({ acl, aclLines, hosts, vs, defaultHost: null });
    });
    const ordered = [...groups.filter((g) => !g.hosts.includes('*')), ...groups.filter((g) => g.hosts.includes('*'))];
    const table = routeRules(ordered, ctx);
    const listen = gw.listeners[port] ?? port;
    // The gateway's pods are the ones its selector names: policies bind them by those labels, as in Istio.
    const authz = authorizationLines(authorizationFor(model.authorizationPolicies, model.rootNamespace, { namespace: gw.namespace, labels: spec.selector }), { destinationPort: port, remoteAddress: 'peer' });
    if (authz.normalizesPath && !sections[0]!.lines.includes('expose-experimental-directives')) sections[0]!.lines.push('expose-experimental-directives');
    sections.push({
      kind: 'frontend',
      name: `ingress_${port}`,
      comment: `Gateway ${spec.namespace}/${spec.name} port ${port}.`,
      lines: [
        `bind 127.0.0.1:${listen}`,
        ...logLines(gw.name, 'ingress', { sample: 'src' }, authz.lines.length > 0),
        ...requestVariables(),
        peerMetadataOut(gw.name),
        'http-request set-uri %[pathq] if { url -m beg -i http:// }',
        ...authz.lines,
        ...table.frontend,
      ],
    });
    for (const b of table.backends) backends.set(b.name, b);
    for (const b of table.mirrorBackends) mirrorBackends.add(b);
    for (const r of table.routes) if (!routes.some((x) => x.id === r.id)) routes.push(r);
  }
  sections.push(...mirrorListener(gw, identity, [...mirrorBackends]));
  sections.push(...backends.values());
  return finish('gateway', gw, identity, null, sections, routes, options);
}
