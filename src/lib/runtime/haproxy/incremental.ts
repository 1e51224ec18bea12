// What lets a mesh compile cost what changed: a fingerprint of everything a sidecar's configuration is
// made of (its pod, its own policy, and every host its Sidecar scope lets it know, with the routes,
// DestinationRules and pods behind them), and the compiled proxies of the last compile with the
// fingerprints they were compiled from. A sidecar whose fingerprint is the same is its last compiled
// proxy; the others are compiled again. The fingerprints are built per host and per scope, so that a
// mesh of many pods sharing a few scopes costs a few scopes' worth of hashing, not one per pod.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { destinationRuleFor, meshVirtualServices, mtlsModeOf, podsOfService, serviceFor, type MeshModel, type VirtualServiceSpec } from '../../policy/mesh-model.js';
import { authorizationFor } from '../../policy/authorization.js';
import { egressScopeFor, sidecarFor, type SidecarSpec } from '../../policy/sidecar-scope.js';
import { inboundRateLimits } from './rate-limit.js';
import { proxyPaths, type CompiledMesh, type CompiledProxy, type MeshPod, type ProxyPaths } from './types.js';

/**
 * The model's parts a sidecar's fingerprint follows one by one (services to sidecars and workloads as
 * the compiler reads them), or that a sidecar's compile never reads (gateways, route statuses, notes).
 * Any other part, present or to come, is in every fingerprint whole: a change to it compiles every
 * sidecar again, so that a compiler reading a new part of the model can never be served a stale proxy.
 */
const FOLLOWED_MODEL_PARTS = new Set(['services', 'virtualServices', 'destinationRules', 'sidecars', 'peerAuthentications', 'authorizationPolicies', 'rateLimits', 'workloads', 'gateways', 'routeStatuses', 'notes']);

/** JSON of model objects: a loaded resource counts by what was written (not where), maps and sets by their entries. */
function modelJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Map) return [...v];
    if (v instanceof Set) return [...v];
    if (v && typeof v === 'object' && 'kindId' in v && 'pointer' in v && 'object' in v) return { object: (v as { object: unknown }).object };
    return v;
  });
}

function digest(text: string): string {
  return createHash('sha1').update(text).digest('base64');
}

/** Files a DestinationRule's `tls` names are read when compiling (a missing one disables the destination): whether each exists is an input too. */
function filesNamed(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (path.isAbsolute(value)) out.push(`${value}:${existsSync(value)}`);
  } else if (Array.isArray(value)) value.forEach((v) => filesNamed(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => filesNamed(v, out));
  return out;
}

/** Destination hosts a VirtualService routes or mirrors to (every `fqdn` it holds). */
function destinationHosts(vs: VirtualServiceSpec): string[] {
  const hosts = new Set<string>();
  JSON.stringify(vs.http, (key, v: unknown) => {
    if (key === 'fqdn' && typeof v === 'string') hosts.add(v);
    return v;
  });
  return [...hosts];
}

/**
 * The fingerprint of every sidecar's inputs, by pod name. Two compiles of a sidecar with the same
 * fingerprint make the same configuration, routes and notes (the revision aside).
 */
export function sidecarFingerprints(model: MeshModel, pods: MeshPod[], options: object): Map<string, string> {
  const rest = Object.fromEntries(Object.entries(model).filter(([key]) => !FOLLOWED_MODEL_PARTS.has(key)));
  const global = digest(modelJson([{ ...options, revision: undefined }, rest]));
  const modes = new Map(pods.map((p) => [p.name, mtlsModeOf(model, p)]));
  const workloadPort = (pod: MeshPod) => model.workloads.find((w) => w.name === pod.workload && w.namespace === pod.namespace)?.port ?? null;

  const destinations = new Map<string, string>();
  const destination = (fqdn: string, callerNamespace: string): string => {
    const key = `${fqdn}|${callerNamespace}`;
    let known = destinations.get(key);
    if (known === undefined) {
      const service = serviceFor(model, fqdn);
      const rule = destinationRuleFor(model, fqdn, callerNamespace);
      const selected = service ? podsOfService(service, pods).map((p) => [p.name, p.namespace, p.labels, p.ports, modes.get(p.name)]) : [];
      known = digest(modelJson([fqdn, service ?? null, rule ?? null, rule ? filesNamed(rule.resource.object) : [], selected]));
      destinations.set(key, known);
    }
    return known;
  };

  const meshRoutes = meshVirtualServices(model);
  const scopes = new Map<string, string>();
  const scopeOf = (pod: MeshPod, sidecar: SidecarSpec | null): string => {
    // A scope follows from the Sidecar that applies and the pod's namespace alone (egressScopeFor).
    const key = `${sidecar ? `${sidecar.namespace}/${sidecar.name}` : ''}|${pod.namespace}`;
    let known = scopes.get(key);
    if (known === undefined) {
      const scope = egressScopeFor(model.sidecars, model.rootNamespace, pod);
      const parts: string[] = [modelJson([pod.namespace, sidecar, scope?.mode ?? null])];
      for (const vs of meshRoutes) {
        if (scope && !scope.importsVirtualService(vs)) continue;
        parts.push(modelJson(vs), ...destinationHosts(vs).map((fqdn) => destination(fqdn, pod.namespace)));
      }
      for (const svc of model.services) {
        if (scope && !scope.importsService(svc.host, svc.namespace)) continue;
        parts.push(svc.host, destination(svc.host, pod.namespace));
      }
      known = digest(parts.join('\n'));
      scopes.set(key, known);
    }
    return known;
  };

  const out = new Map<string, string>();
  for (const pod of pods) {
    const self = modelJson([
      pod,
      modes.get(pod.name),
      workloadPort(pod),
      authorizationFor(model.authorizationPolicies, model.rootNamespace, pod),
      inboundRateLimits(model.rateLimits, pod),
    ]);
    out.set(pod.name, `${global}\n${self}\n${scopeOf(pod, sidecarFor(model.sidecars, model.rootNamespace, pod))}`);
  }
  return out;
}

/** A compiled sidecar with what it was compiled from and the notes its compile made. */
export interface CompiledSidecarEntry {
  fingerprint: string;
  proxy: CompiledProxy;
  notes: string[];
  /** False when the entry is the last compile's, carried over. */
  compiled: boolean;
}

/** What each compiled mesh was compiled from, for the compile that follows it. */
const compiledFrom = new WeakMap<CompiledMesh, Map<string, CompiledSidecarEntry>>();

export function rememberCompile(mesh: CompiledMesh, sidecars: Map<string, CompiledSidecarEntry>): void {
  compiledFrom.set(mesh, sidecars);
}

/** The sidecar `name` of `previous` when it was compiled from `fingerprint`, else null. */
export function reusableSidecar(previous: CompiledMesh | null | undefined, name: string, fingerprint: string): CompiledSidecarEntry | null {
  const entry = previous ? compiledFrom.get(previous)?.get(name) : undefined;
  return entry && entry.fingerprint === fingerprint ? { ...entry, compiled: false } : null;
}

/** How many of `mesh`'s sidecars its compile compiled (the others were their last compile); null when unknown. */
export function sidecarsCompiled(mesh: CompiledMesh): number | null {
  const entries = compiledFrom.get(mesh);
  return entries ? [...entries.values()].filter((e) => e.compiled).length : null;
}

// ---------------------------------------------------------------- one build of a route per namespace

/**
 * The directory route builds are made for when the sidecars of a namespace share them: a route's
 * backends and rules differ from one sidecar to the next only by the sidecar's own directory (its route
 * maps, certificate, mirror socket), which is put in for each.
 */
const SHARED_BUILD_DIR = '/.meshctl-shared-route-build';
export const SHARED_BUILD_PATHS: ProxyPaths = proxyPaths(SHARED_BUILD_DIR);

const takesShared = new WeakMap<ProxyPaths, boolean>();

/** A directory whose name HAProxy takes bare (no quoting, no escape) and that is laid out as proxyPaths lays it, as the shared builds are. */
export function takesSharedBuilds(paths: ProxyPaths): boolean {
  let takes = takesShared.get(paths);
  if (takes === undefined) {
    const dir = paths.dir;
    takes = /^\/[A-Za-z0-9_.\/-]*[A-Za-z0-9_.-]$/.test(dir) && path.normalize(dir) === dir && !dir.includes(SHARED_BUILD_DIR) && isDeepStrictEqual(paths, proxyPaths(dir));
    takesShared.set(paths, takes);
  }
  return takes;
}

/** Objects of shared builds without the shared directory anywhere inside: every sidecar takes them as they are. */
const withoutSharedDir = new WeakSet<object>();

/** Marks the parts of a shared build that hold no trace of the shared directory; true when `value` holds one. */
export function markSharedBuild(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(SHARED_BUILD_DIR);
  if (!value || typeof value !== 'object') return false;
  let holds = false;
  for (const v of Array.isArray(value) ? value : Object.values(value)) holds = markSharedBuild(v) || holds;
  if (!holds) withoutSharedDir.add(value);
  return holds;
}

/** `value` (a shared build, marked) with the shared build directory replaced by `dir` in every string; the parts without it are the same objects. */
export function inProxyDirectory<T>(value: T, dir: string): T {
  if (typeof value === 'string') return (value.includes(SHARED_BUILD_DIR) ? value.split(SHARED_BUILD_DIR).join(dir) : value) as T;
  if (!value || typeof value !== 'object' || withoutSharedDir.has(value)) return value;
  if (Array.isArray(value)) return value.map((v) => inProxyDirectory(v, dir)) as T;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = inProxyDirectory(v, dir);
  return out as T;
}

/** Route builds of one compile, by route, caller namespace and hosts, with the notes each made. */
export type SharedRouteBuilds<T> = Map<string, { build: T; notes: string[] }>;
