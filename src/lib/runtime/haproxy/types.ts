// What the HAProxy runtime works on: the proxies (pods' sidecars and gateway proxies) with their
// loopback ports and files, and what the compiler makes of the mesh model for each of them.
import path from 'node:path';
import type { LoadBalancerPolicy, MtlsMode } from '../../policy/mesh-model.js';

export interface PodPorts {
  /** The app's own port on 127.0.0.1 (given to it as PORT). */
  app: number;
  /**
   * The sidecar's inbound listener: what PeerAuthentication allows (mTLS under STRICT, plain text under
   * DISABLE, either under PERMISSIVE, told apart by sniffing the first bytes), for callers outside the mesh.
   */
  inbound: number;
  /**
   * The sidecar's mTLS-only listener, which other sidecars and gateways call: they always speak mTLS to a
   * pod that takes it, so their requests skip PERMISSIVE's sniffing hop. Absent on a placement made
   * before it existed: callers then use `inbound`.
   */
  mtls?: number;
  /** The sidecar's listener for the app's outgoing calls (MESH_OUTBOUND_URL, HTTP_PROXY). */
  outbound: number;
  /** The sidecar's admin HTTP port: /ready, /metrics (Prometheus), /revision. */
  admin: number;
}

/** Files of one proxy, all inside its directory. */
export interface ProxyPaths {
  dir: string;
  /** The HAProxy configuration the proxy loads (and a reload's successor reads). */
  config: string;
  /** The Lua program with the proxy's route weights and revision. */
  lua: string;
  /** Runtime API (stats socket, level admin, mode 0600); a reload's successor takes the listening sockets over through it. */
  runtimeSocket: string;
  /** Workload certificate and key in one PEM (mode 0600). */
  certificate: string;
  /** The mesh root the proxy verifies peers against. */
  caBundle: string;
  /** JSON-lines access log (the proxy's stdout). */
  accessLog: string;
  /** HAProxy's own messages (its stderr). */
  proxyLog: string;
  /** The last applied compiled config (JSON), used to diff the next one. */
  state: string;
  /** Pid file of the proxy's process (the leader of its process group), with its first start and reload count. */
  pid: string;
  /** Sockets of the PERMISSIVE inbound split (TLS and plaintext halves). */
  inboundTlsSocket: string;
  inboundPlainSocket: string;
  /** The internal listener that sends mirrored copies of requests on (plaintext, mode 0600). */
  mirrorSocket: string;
}

/** The standard file layout of a proxy directory. */
export function proxyPaths(dir: string): ProxyPaths {
  const p = (f: string) => path.join(dir, f);
  return {
    dir,
    config: p('haproxy.cfg'),
    lua: p('mesh.lua'),
    runtimeSocket: p('admin.sock'),
    certificate: p('proxy.pem'),
    caBundle: p('ca.pem'),
    accessLog: p('access.log'),
    proxyLog: p('proxy.log'),
    state: p('compiled.json'),
    pid: p('proxy.pid'),
    inboundTlsSocket: p('in-tls.sock'),
    inboundPlainSocket: p('in-plain.sock'),
    mirrorSocket: p('mirror.sock'),
  };
}

export interface MeshPod {
  /** `<workload>-<n>` */
  name: string;
  namespace: string;
  workload: string;
  labels: Record<string, string>;
  serviceAccount: string;
  ports: PodPorts;
  paths: ProxyPaths;
}

/** An ingress proxy for an Istio Gateway. */
export interface MeshGatewayProxy {
  /** The Gateway resource's name (the proxy is named `<name>` too). */
  name: string;
  namespace: string;
  /** Identity of the proxy when it calls pods over mTLS. */
  serviceAccount: string;
  /** Gateway server port number → the loopback port it is served on (same number by default). */
  listeners: Record<number, number>;
  ports: { admin: number };
  paths: ProxyPaths;
}

/** What a proxy needs to be started and updated: both pods and gateway proxies are one. */
export interface ProxyTarget {
  name: string;
  namespace: string;
  ports: { admin: number };
  paths: ProxyPaths;
}

export interface CompiledServer {
  /** HAProxy server name: the pod's name (or `endpoint-<n>` for a ServiceEntry address). */
  name: string;
  pod: string | null;
  address: string;
  port: number;
  tls: boolean;
}

export interface CompiledDestination {
  /** HAProxy backend name: `<route id>:<index>`. */
  backend: string;
  host: string;
  subset: string;
  weight: number;
  loadBalancer: LoadBalancerPolicy;
  servers: CompiledServer[];
}

/** Where a mirrored route sends copies of its requests (a backend of the proxy's internal mirror listener). */
export interface CompiledMirror {
  /** HAProxy backend name: `<route id>:mirror:<index>`. */
  backend: string;
  host: string;
  subset: string;
  /** Share of the route's requests copied (0–100). */
  percent: number;
  loadBalancer: LoadBalancerPolicy;
  servers: CompiledServer[];
}

export interface CompiledRoute {
  /**
   * `vs:<namespace>:<name>:<route name>` for a named route (unique in its VirtualService), else
   * `vs:<namespace>:<name>:<index>`; `host:<fqdn>` for a host's default route.
   */
  id: string;
  virtualService: { namespace: string; name: string; index: number; routeName: string } | null;
  /** Hosts the route serves (resolved). */
  hosts: string[];
  /** True when the route splits traffic by weight (its weights live in the Lua state). */
  weighted: boolean;
  destinations: CompiledDestination[];
  /** Mirrors of the route (absent in configurations compiled before mirroring existed). */
  mirrors?: CompiledMirror[];
  /** The route `timeout` (ms), a runtime value (route-state.ts); null or absent: none. */
  deadlineMs?: number | null;
  /** Each attempt's timeout (ms), a runtime value (route-state.ts); null or absent: HAProxy's default. */
  attemptMs?: number | null;
  /** Values of the route's header operations, runtime values by key (route-state.ts). */
  headerValues?: Record<string, string>;
  /** The route's fault shares and delay, runtime values by key (route-state.ts). */
  faultValues?: Record<string, number>;
  /** A host's default route: the names a request may give the host by (its entries in the host map). */
  hostNames?: string[];
}

/** Route values the runtime API changes without a reload, by route map (route-state.ts). */
export interface RouteRuntimeState {
  /** Route id → the route's deadline (ms). */
  deadlineMs: Record<string, number>;
  /** Route id → each attempt's timeout (ms). */
  attemptMs: Record<string, number>;
  /** Header operation key → value. */
  headerValues: Record<string, string>;
  /** Fault key → delay (ms) or share (millionths). */
  faultValues: Record<string, number>;
  /** Host name → route id (hosts without a VirtualService). */
  hostRoutes: Record<string, string>;
  /** Route id → backend (routes with one destination). */
  routeBackends: Record<string, string>;
}

export interface CompiledProxy {
  kind: 'sidecar' | 'gateway';
  name: string;
  namespace: string;
  revision: number;
  /** SPIFFE ID the proxy presents to the pods it calls (and, for sidecars, to its callers). */
  identity: string;
  /** Sidecars: the inbound listener's mTLS mode. */
  mtlsMode: MtlsMode | null;
  /** haproxy.cfg text (no revision, no weights inside). */
  config: string;
  /** mesh.lua text (library + this proxy's weights and revision). */
  lua: string;
  routes: CompiledRoute[];
  /** Hash of everything that needs a reload to change (config text, Lua library, route shapes). */
  structureHash: string;
  /**
   * What the runtime API changes without a reload (route-state.ts), besides the weights and the
   * revision in the Lua state; written to the proxy's map files. Absent in configurations compiled
   * before it existed (their next change reloads).
   */
  runtimeState?: RouteRuntimeState;
  paths: ProxyPaths;
}

export interface CompiledMesh {
  revision: number;
  sidecars: CompiledProxy[];
  gateways: CompiledProxy[];
  notes: string[];
}
