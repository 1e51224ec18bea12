// What the CLI and the agent say to each other over the home's UNIX socket: one JSON request per
// connection, one JSON response, each a single line.
import type { ResourceChange, ResourceSelector, StoredResource } from '../state.js';
import type { ProcessStatus } from '../supervisor.js';
import type { ProxyPush } from '../config-push.js';

export interface PingResult {
  pid: number;
  home: string;
  revision: number;
  startedAt: string;
  version: string;
}

export interface ContainerStatus {
  /** `app` or `proxy`. */
  container: 'app' | 'proxy';
  process: ProcessStatus | null;
  /** App: its port accepts connections. Proxy: its admin endpoint reports ready. */
  ready: boolean;
}

export interface PodStatus {
  name: string;
  namespace: string;
  /** `pod` for a workload replica (app + sidecar), `gateway` for an ingress proxy. */
  type: 'pod' | 'gateway';
  workload: string | null;
  labels: Record<string, string>;
  serviceAccount: string;
  ports: Record<string, number>;
  containers: ContainerStatus[];
  ready: boolean;
  /** Revision the proxy reports serving; null when it does not answer. */
  proxyRevision: number | null;
  /** The revision the proxy serves once up to date: the one its configuration last changed at (a revision that leaves it alone does not move it). */
  wantedRevision: number;
  /** True when the proxy serves its wanted revision. */
  inSync: boolean;
  restarts: number;
  createdAt: string;
}

export interface MeshStatus {
  revision: number;
  updatedAt: string | null;
  agent: PingResult;
  pods: PodStatus[];
  /** Sentences about policy the local mesh reads but does not enforce. */
  notes: string[];
  /** Sentences about what keeps the mesh from running its applied resources. */
  problems: string[];
  /** Workload certificates: their lifetime (install --cert-lifetime), when each is renewed, how often the agent looks. */
  certificates: { workloadLifetimeSeconds: number; renewAfterSeconds: number; renewalCheckSeconds: number };
}

export interface ApplyRequest {
  /** Resources to create or update (apply), or to remove (delete by content). */
  resources?: StoredResource[];
  /** Resources to remove by kind and name (delete KIND NAME). */
  selectors?: ResourceSelector[];
  action: 'apply' | 'delete';
  wait: boolean;
  timeoutMs: number;
  /** Apply even when it changes a route a shift moves; the shift is then held with the reason. */
  force?: boolean;
  /** Set by a shift storing its own weights: the route of this host's shift is its to change. */
  shiftHost?: string;
  /** Flags the commands printed in refusals repeat (`--home DIR`). */
  commonFlags?: string;
}

export interface PodChange {
  name: string;
  action: 'created' | 'deleted' | 'restarted';
}

export interface ApplyResult {
  revision: number;
  /** False when nothing changed and no revision was recorded. */
  committed: boolean;
  changes: ResourceChange[];
  pods: PodChange[];
  /** What the revision did to each proxy: started, updated through the runtime API, reloaded, or left alone. */
  proxies: ProxyPush[];
  /** `haproxy -c` runs: made, and reused for a configuration of a shape already checked. */
  configChecks: { run: number; reused: number };
  /** Every proxy serves `revision` and every pod is ready (always false without wait). */
  synced: boolean;
  /** Pods not ready or not serving the revision when the wait ended. */
  pending: string[];
  /** Selectors of delete KIND NAME that matched nothing. */
  missing: ResourceSelector[];
  notes: string[];
  /** Shifts held because this apply (with --force) changed their route, one sentence each. */
  held?: string[];
  elapsedMs: number;
}

export interface ShutdownRequest {
  /** Stop every app and proxy too (uninstall); otherwise they keep running for the next agent. */
  stopPods: boolean;
}

export interface ShutdownResult {
  /** What was stopped: supervised names (`reviews-v1-0/app`) and their pids. */
  stopped: { name: string; pid: number | null }[];
}

export interface Requests {
  ping: { params: Record<string, never>; result: PingResult };
  status: { params: Record<string, never>; result: MeshStatus };
  apply: { params: ApplyRequest; result: ApplyResult };
  shutdown: { params: ShutdownRequest; result: ShutdownResult };
  /** Brings the addons (Prometheus) in line with their settings in the home. */
  addons: { params: Record<string, never>; result: AddonsResult };
}

export interface AddonsResult {
  prometheus: 'running' | 'disabled';
  /** Where the spans are exported (null: not exported). */
  tracing: string | null;
  /** Where the agent serves every proxy's Istio metrics (null when its endpoint did not start). */
  metricsPort: number | null;
}

export type Method = keyof Requests;

export interface RequestMessage<M extends Method = Method> {
  method: M;
  params: Requests[M]['params'];
}

export type ResponseMessage<M extends Method = Method> =
  | { ok: true; result: Requests[M]['result'] }
  | { ok: false; error: string; exitCode: number };
