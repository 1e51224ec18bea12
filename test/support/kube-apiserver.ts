// A stand-in Kubernetes API server for tests: TLS on 127.0.0.1 with a test CA, discovery (legacy and
// aggregated v2, as kubectl >= 1.30 asks for it), the Istio and Gateway API CRDs of ../shared/reference,
// get/list with label selectors, create/update with resourceVersion, merge and JSON patches (415 for a
// strategic merge patch on a custom resource), server-side apply with managedFields per field manager
// and 409 FieldManagerConflict, 403/404 Status objects, SelfSubjectAccessReview, and the pod and service
// proxy subresources answered by local servers. Every request is logged, so that a test asserts what
// meshctl asked the cluster to do; a real kubectl reads back what meshctl wrote.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import * as yaml from 'js-yaml';
import { SHARED } from './shared.js';

/** An object as the stand-in stores it (the server-set metadata spelled out). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string; uid?: string; creationTimestamp?: string; managedFields?: ManagedFieldsEntry[]; [k: string]: unknown };
  [k: string]: unknown;
}

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  userAgent: string | undefined;
  authorization: string | undefined;
  body: unknown;
  status: number;
}

export interface ResourceType {
  group: string;
  version: string;
  /** Every version served (the CRD's served versions). */
  versions: string[];
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  custom: boolean;
  subresources?: string[];
}

/** A denial the stand-in's RBAC answers with 403: verb on group/resource (optionally a subresource, a namespace). */
export interface Denial {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
}

/** The WebSocket subprotocol of a port-forward (a kubelet's, and client libraries'). */
const PORT_FORWARD_SUBPROTOCOL = 'v4.channel.k8s.io';

const BUILT_IN: ResourceType[] = [
  { group: '', version: 'v1', versions: ['v1'], plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], custom: false },
  { group: '', version: 'v1', versions: ['v1'], plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'], custom: false, subresources: ['proxy', 'portforward'] },
  { group: '', version: 'v1', versions: ['v1'], plural: 'services', singular: 'service', kind: 'Service', namespaced: true, shortNames: ['svc'], custom: false, subresources: ['proxy'] },
  { group: '', version: 'v1', versions: ['v1'], plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'], custom: false },
  { group: 'apps', version: 'v1', versions: ['v1'], plural: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], custom: false },
  { group: 'apiextensions.k8s.io', version: 'v1', versions: ['v1'], plural: 'customresourcedefinitions', singular: 'customresourcedefinition', kind: 'CustomResourceDefinition', namespaced: false, shortNames: ['crd'], custom: false },
  { group: 'authorization.k8s.io', version: 'v1', versions: ['v1'], plural: 'selfsubjectaccessreviews', singular: '', kind: 'SelfSubjectAccessReview', namespaced: false, shortNames: [], custom: false },
];

/** The CRDs of ../shared/reference (Istio's crd-all and the Gateway API standard set). */
export function referenceCrds(): KubeObject[] {
  const files = [path.join(SHARED, 'reference', 'istio-crds', 'crd-all.gen.yaml')];
  const gatewayDir = path.join(SHARED, 'reference', 'gateway-api-crds');
  for (const f of readdirSync(gatewayDir)) if (f.endsWith('.yaml') && !f.includes('vap_')) files.push(path.join(gatewayDir, f));
  const out: KubeObject[] = [];
  for (const f of files) {
    for (const doc of yaml.loadAll(readFileSync(f, 'utf8'))) {
      const o = doc as KubeObject | null;
      if (o && o.kind === 'CustomResourceDefinition') out.push(o);
    }
  }
  return out;
}

function typeOfCrd(crd: KubeObject): ResourceType {
  const spec = crd.spec as { group: string; scope: string; names: { plural: string; singular: string; kind: string; shortNames?: string[] }; versions: { name: string; served: boolean; storage: boolean }[] };
  const served = spec.versions.filter((v) => v.served).map((v) => v.name);
  const storage = spec.versions.find((v) => v.storage)?.name ?? served[0]!;
  return { group: spec.group, version: storage, versions: served, plural: spec.names.plural, singular: spec.names.singular, kind: spec.names.kind, namespaced: spec.scope === 'Namespaced', shortNames: spec.names.shortNames ?? [], custom: true };
}

// ---- field sets (managedFields) -------------------------------------------------------------

/** Leaf paths of an object as server-side apply tracks them: maps are granular, lists atomic. */
function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
}

function appliedFields(obj: KubeObject): string[][] {
  const { apiVersion: _a, kind: _k, metadata, status: _s, ...rest } = obj;
  const meta: Record<string, unknown> = {};
  if (metadata.labels) meta.labels = metadata.labels;
  if (metadata.annotations) meta.annotations = metadata.annotations;
  return leafPaths({ ...rest, ...(Object.keys(meta).length ? { metadata: meta } : {}) }).filter((p) => p.length > 0);
}

const key = (p: string[]) => JSON.stringify(p);
const unkey = (k: string) => JSON.parse(k) as string[];

function getAt(obj: unknown, p: string[]): unknown {
  let cur: unknown = obj;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function setAt(obj: Record<string, unknown>, p: string[], value: unknown): void {
  let cur = obj;
  for (const k of p.slice(0, -1)) {
    if (cur[k] === null || typeof cur[k] !== 'object' || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[p[p.length - 1]!] = structuredClone(value);
}

function deleteAt(obj: Record<string, unknown>, p: string[]): void {
  const parents: Record<string, unknown>[] = [];
  let cur: unknown = obj;
  for (const k of p.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return;
    parents.push(cur as Record<string, unknown>);
    cur = (cur as Record<string, unknown>)[k];
  }
  if (cur === null || typeof cur !== 'object') return;
  delete (cur as Record<string, unknown>)[p[p.length - 1]!];
  // Maps left empty by the removal go too.
  for (let i = p.length - 2; i >= 0; i--) {
    const parent = parents[i]!;
    const child = parent[p[i]!];
    if (child && typeof child === 'object' && !Array.isArray(child) && Object.keys(child).length === 0) delete parent[p[i]!];
    else break;
  }
}

function toFieldsV1(paths: string[][]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of paths) {
    let cur = root;
    for (const k of p) {
      const f = `f:${k}`;
      cur[f] ??= {};
      cur = cur[f] as Record<string, unknown>;
    }
  }
  return root;
}

function fromFieldsV1(fields: Record<string, unknown>, prefix: string[] = []): string[][] {
  const entries = Object.entries(fields).filter(([k]) => k.startsWith('f:'));
  if (!entries.length) return prefix.length ? [prefix] : [];
  return entries.flatMap(([k, v]) => fromFieldsV1(v as Record<string, unknown>, [...prefix, k.slice(2)]));
}

/** `.spec.http`, as the API server names a field in a conflict. */
export function fieldText(p: string[]): string {
  return p.map((k) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`)).join('');
}

// ---- the server -----------------------------------------------------------------------------

class StatusError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

function status(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function matchesSelector(labels: Record<string, string> | undefined, selector: string): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  for (const term of selector.split(',').map((t) => t.trim()).filter(Boolean)) {
    let m: RegExpMatchArray | null;
    if ((m = /^([^!=\s]+)\s*!=\s*(.*)$/.exec(term))) { if (l[m[1]!] === m[2]) return false; }
    else if ((m = /^([^!=\s]+)\s*==?\s*(.*)$/.exec(term))) { if (l[m[1]!] !== m[2]) return false; }
    else if ((m = /^([^\s]+)\s+in\s+\((.*)\)$/.exec(term))) { if (!m[2]!.split(',').map((s) => s.trim()).includes(l[m[1]!] ?? '\0')) return false; }
    else if ((m = /^([^\s]+)\s+notin\s+\((.*)\)$/.exec(term))) { if (m[2]!.split(',').map((s) => s.trim()).includes(l[m[1]!] ?? '\0')) return false; }
    else if ((m = /^!(\S+)$/.exec(term))) { if (m[1]! in l) return false; }
    else if (!(term in l)) return false;
  }
  return true;
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function jsonPointer(p: string): string[] {
  return p.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function jsonPatch(doc: unknown, ops: { op: string; path: string; value?: unknown; from?: string }[]): unknown {
  const root = { doc: structuredClone(doc) } as Record<string, unknown>;
  const parentOf = (p: string[]) => {
    let cur: unknown = root.doc;
    for (const k of p.slice(0, -1)) cur = (cur as Record<string, unknown>)[k];
    if (cur === null || typeof cur !== 'object') throw new StatusError(422, 'Invalid', `the JSON patch path ${p.join('/')} does not exist`);
    return cur as Record<string, unknown> | unknown[];
  };
  for (const op of ops) {
    const p = jsonPointer(op.path);
    const parent = parentOf(p);
    const last = p[p.length - 1]!;
    const value = op.from !== undefined ? getAt(root.doc, jsonPointer(op.from)) : op.value;
    switch (op.op) {
      case 'test':
        if (!isDeepStrictEqual(getAt(root.doc, p), op.value)) throw new StatusError(422, 'Invalid', `the JSON patch test at ${op.path} failed`);
        break;
      case 'remove':
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      case 'add':
      case 'copy':
      case 'move':
        if (op.op === 'move') {
          const from = jsonPointer(op.from!);
          const fp = parentOf(from);
          if (Array.isArray(fp)) fp.splice(Number(from[from.length - 1]), 1);
          else delete fp[from[from.length - 1]!];
        }
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, structuredClone(value));
        else parent[last] = structuredClone(value);
        break;
      case 'replace':
        if (Array.isArray(parent)) parent[Number(last)] = structuredClone(value);
        else parent[last] = structuredClone(value);
        break;
      default:
        throw new StatusError(422, 'Invalid', `unknown JSON patch operation ${op.op}`);
    }
  }
  return root.doc;
}

export interface ProxyTarget {
  /** A local server that answers for the pod's or service's port. */
  port: number;
}

export interface StandInOptions {
  /** Serve only these CRDs (default: every reference CRD). */
  crds?: KubeObject[];
  /** The user RBAC denials are reported for. */
  user?: string;
}

export class StandInApiServer {
  readonly requests: LoggedRequest[] = [];
  readonly denials: Denial[] = [];
  /** `ns/pod:port` or `ns/service:port` → a local port that answers the proxied request. */
  readonly podProxies = new Map<string, number>();
  readonly serviceProxies = new Map<string, number>();
  /** `ns/pod:port` → a local port a port-forward to that pod's port reaches (the pod's loopback). */
  readonly podPorts = new Map<string, number>();
  private readonly types: ResourceType[] = [...BUILT_IN];
  private readonly forwarded = new Set<{ close(): void; terminate(): void }>();
  private readonly store = new Map<string, KubeObject>();
  private revision = 100;
  private server!: https.Server;
  url = '';
  caFile = '';
  dir = '';
  user: string;
  /** The server's version, as /version answers it. */
  gitVersion = 'v1.31.4';

  private constructor(options: StandInOptions) {
    this.user = options.user ?? 'meshctl-tester';
  }

  static async start(options: StandInOptions = {}): Promise<StandInApiServer> {
    const s = new StandInApiServer(options);
    s.dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-kube-'));
    const tls = makeTestCa(s.dir);
    s.caFile = tls.caFile;
    for (const crd of options.crds ?? referenceCrds()) s.addCrd(crd);
    s.server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => void s.handle(req, res));
    s.server.keepAliveTimeout = 30_000;
    s.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void s.portForward(req, socket, head));
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    s.url = `https://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  async close(): Promise<void> {
    for (const ws of this.forwarded) ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  addCrd(crd: KubeObject): void {
    const t = typeOfCrd(crd);
    if (!this.types.some((x) => x.group === t.group && x.plural === t.plural)) this.types.push(t);
    this.seed({ ...crd, status: { acceptedNames: (crd.spec as { names: unknown }).names, storedVersions: [t.version] } } as KubeObject);
  }

  removeCrdGroup(group: string): void {
    for (let i = this.types.length - 1; i >= 0; i--) if (this.types[i]!.custom && this.types[i]!.group === group) this.types.splice(i, 1);
    for (const [k, o] of this.store) if (o.kind === 'CustomResourceDefinition' && (o.spec as { group: string }).group === group) this.store.delete(k);
  }

  typeOfKind(apiVersion: string, kind: string): ResourceType | undefined {
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
    return this.types.find((t) => t.group === group && t.kind === kind);
  }

  private storeKey(t: ResourceType, namespace: string | undefined, name: string): string {
    return `${t.group}/${t.plural}/${t.namespaced ? namespace ?? 'default' : ''}/${name}`;
  }

  private nextVersion(): string {
    return String(++this.revision);
  }

  /** Puts objects as a cluster would hold them (created by `kubectl apply`, its field manager). */
  seed(...objects: KubeObject[]): void {
    for (const o of objects) {
      const t = this.typeOfKind(o.apiVersion, o.kind);
      if (!t) throw new Error(`the stand-in serves no ${o.apiVersion} ${o.kind}`);
      const obj = structuredClone(o);
      if (t.namespaced) obj.metadata.namespace ??= 'default';
      obj.metadata.uid ??= `uid-${obj.metadata.name}-${this.revision}`;
      obj.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      obj.metadata.resourceVersion = this.nextVersion();
      obj.metadata.managedFields = [{ manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: obj.apiVersion, time: obj.metadata.creationTimestamp, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(appliedFields(obj)) }];
      this.store.set(this.storeKey(t, obj.metadata.namespace, obj.metadata.name), obj);
    }
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const t = this.typeOfKind(apiVersion, kind);
    return t ? structuredClone(this.store.get(this.storeKey(t, namespace, name))) : undefined;
  }

  /** An edit by another client (kubectl edit, a controller): an Update under `manager`, as a merge patch. */
  edit(apiVersion: string, kind: string, namespace: string, name: string, manager: string, mutate: (o: KubeObject) => void): KubeObject {
    const t = this.typeOfKind(apiVersion, kind)!;
    const current = this.store.get(this.storeKey(t, namespace, name));
    if (!current) throw new Error(`no ${kind} ${namespace}/${name}`);
    const next = structuredClone(current);
    mutate(next);
    return this.update(t, current, next, manager);
  }

  /** The requests whose path contains `fragment`, and the method when given. */
  requestsTo(fragment: string, method?: string): LoggedRequest[] {
    return this.requests.filter((r) => r.path.includes(fragment) && (!method || r.method === method));
  }

  private deniedBy(verb: string, t: { group: string; plural: string }, namespace: string | undefined, subresource?: string): Denial | undefined {
    return this.denials.find((d) => d.verb === verb && d.group === t.group && d.resource === t.plural && (d.subresource ?? '') === (subresource ?? '') && (!d.namespace || d.namespace === namespace));
  }

  private forbidden(verb: string, t: { group: string; plural: string }, namespace: string | undefined, name: string | undefined, subresource?: string): StatusError {
    const resource = subresource ? `${t.plural}/${subresource}` : t.plural;
    const where = namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope';
    return new StatusError(403, 'Forbidden', `${resource}${name ? ` "${name}"` : ''} is forbidden: User "${this.user}" cannot ${verb} resource "${resource}" in API group "${t.group}"${where}`, { ...(name ? { name } : {}), group: t.group, kind: t.plural });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://stand-in');
    const query = Object.fromEntries(url.searchParams);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    let body: unknown = undefined;
    const contentType = req.headers['content-type'];
    if (raw.length) {
      if (contentType?.includes('protobuf')) body = { protobuf: raw.length };
      else {
        try {
          body = /yaml/.test(contentType ?? '') ? yaml.load(raw.toString('utf8')) : JSON.parse(raw.toString('utf8'));
        } catch {
          body = raw.toString('utf8');
        }
      }
    }
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname, query, contentType, userAgent: req.headers['user-agent'], authorization: req.headers.authorization, body, status: 0 };
    this.requests.push(entry);
    const send = (code: number, payload: unknown, type = 'application/json') => {
      entry.status = code;
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    try {
      const answer = await this.route(req, url, entry, raw, res);
      if (answer === undefined) return; // proxied
      send(answer.code ?? 200, answer.body, answer.type);
    } catch (err) {
      if (err instanceof StatusError) send(err.code, status(err.code, err.reason, err.message, err.details));
      else send(500, status(500, 'InternalError', (err as Error).message));
    }
  }

  /**
   * A pod's port-forward over WebSocket (subprotocol v4.channel.k8s.io), as a kubelet answers it: per port
   * a data and an error channel, each confirmed by a first message carrying the port (2 bytes,
   * little-endian); the data channel carried to `podPorts`' local server, a refused connection told on
   * the error channel. RBAC asks for create (and get) on pods/portforward.
   */
  private async portForward(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://stand-in');
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), contentType: undefined, userAgent: req.headers['user-agent'], authorization: req.headers.authorization, body: undefined, status: 0 };
    this.requests.push(entry);
    const refuse = (err: StatusError) => {
      entry.status = err.code;
      const text = JSON.stringify(status(err.code, err.reason, err.message, err.details));
      socket.end(`HTTP/1.1 ${err.code} ${http.STATUS_CODES[err.code]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    };
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/.exec(url.pathname);
    const pods = this.types.find((t) => t.kind === 'Pod')!;
    if (!m) return refuse(new StatusError(400, 'BadRequest', 'the stand-in upgrades only pods/portforward'));
    const [namespace, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
    const denied = this.deniedBy('create', pods, namespace, 'portforward') ?? this.deniedBy('get', pods, namespace, 'portforward');
    if (denied) return refuse(this.forbidden(denied.verb, pods, namespace, name, 'portforward'));
    if (!this.store.has(this.storeKey(pods, namespace, name))) return refuse(new StatusError(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' }));
    const ports = (url.searchParams.get('ports') ?? '').split(',').filter(Boolean).map(Number);
    if (!ports.length || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) return refuse(new StatusError(400, 'BadRequest', 'query parameter "ports" is required and must be valid ports'));
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(PORT_FORWARD_SUBPROTOCOL)) return refuse(new StatusError(400, 'BadRequest', `the stand-in speaks the port-forward subprotocol ${PORT_FORWARD_SUBPROTOCOL} only`));
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => PORT_FORWARD_SUBPROTOCOL });
    wss.handleUpgrade(req, socket, head, (ws) => {
      entry.status = 101;
      this.forwarded.add(ws);
      ws.on('close', () => this.forwarded.delete(ws));
      const upstreams = ports.map((port, i) => {
        const portBytes = Buffer.alloc(2);
        portBytes.writeUInt16LE(port);
        ws.send(Buffer.concat([Buffer.from([2 * i]), portBytes]));
        ws.send(Buffer.concat([Buffer.from([2 * i + 1]), portBytes]));
        const local = this.podPorts.get(`${namespace}/${name}:${port}`);
        const upstream = net.connect({ host: '127.0.0.1', port: local ?? 9 });
        const fail = (why: string) => {
          if (ws.readyState !== ws.OPEN) return;
          ws.send(Buffer.concat([Buffer.from([2 * i + 1]), Buffer.from(`error forwarding port ${port} to pod ${name}, uid : failed to connect to localhost:${port} inside the pod's network namespace: ${why}`)]));
          ws.close();
        };
        if (local === undefined) {
          upstream.destroy();
          setImmediate(() => fail(`dial tcp4 127.0.0.1:${port}: connect: connection refused`));
        } else {
          upstream.on('error', (err: NodeJS.ErrnoException) => fail(`dial tcp4 127.0.0.1:${port}: ${err.code ?? err.message}`));
          upstream.on('data', (d: Buffer) => ws.readyState === ws.OPEN && ws.send(Buffer.concat([Buffer.from([2 * i]), d])));
          upstream.on('end', () => ws.close());
        }
        return upstream;
      });
      ws.on('message', (data: Buffer) => {
        const channel = data[0]!;
        if (channel % 2 === 0 && data.length > 1) upstreams[channel / 2]?.write(data.subarray(1));
      });
      ws.on('close', () => upstreams.forEach((u) => u.destroy()));
      ws.on('error', () => upstreams.forEach((u) => u.destroy()));
    });
  }

  /** The port-forwards open now (a command that ended must leave none). */
  get openForwards(): number {
    return this.forwarded.size;
  }

  private discoveryResources(group: string, version: string) {
    return this.types.filter((t) => t.group === group && t.versions.includes(version)).flatMap((t) => {
      const verbs = t.kind === 'SelfSubjectAccessReview' ? ['create'] : ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
      return [
        { name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs, ...(t.shortNames.length ? { shortNames: t.shortNames } : {}) },
        ...(t.subresources ?? []).map((s) => ({ name: `${t.plural}/${s}`, singularName: '', namespaced: t.namespaced, kind: s === 'proxy' ? `${t.kind}ProxyOptions` : 'PodPortForwardOptions', verbs: s === 'proxy' ? ['create', 'delete', 'get', 'patch', 'update'] : ['create', 'get'] })),
      ];
    });
  }

  private groups(): { name: string; versions: string[] }[] {
    const out = new Map<string, Set<string>>();
    for (const t of this.types) if (t.group) for (const v of t.versions) (out.get(t.group) ?? out.set(t.group, new Set()).get(t.group)!).add(v);
    return [...out].map(([name, versions]) => ({ name, versions: [...versions] }));
  }

  private aggregated(core: boolean) {
    const entry = (group: string, versions: string[]) => ({
      metadata: { name: group, creationTimestamp: null },
      versions: versions.map((version) => ({
        version,
        freshness: 'Current',
        resources: this.types.filter((t) => t.group === group && t.versions.includes(version)).map((t) => ({
          resource: t.plural,
          responseKind: { group, version, kind: t.kind },
          scope: t.namespaced ? 'Namespaced' : 'Cluster',
          singularResource: t.singular,
          verbs: t.kind === 'SelfSubjectAccessReview' ? ['create'] : ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
          ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
          ...(t.subresources ? { subresources: t.subresources.map((s) => ({ subresource: s, responseKind: { group: '', version: 'v1', kind: s === 'proxy' ? `${t.kind}ProxyOptions` : 'PodPortForwardOptions' }, verbs: ['create', 'get'] })) } : {}),
        })),
      })),
    });
    const items = core ? [entry('', ['v1'])] : this.groups().map((g) => entry(g.name, g.versions));
    return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
  }

  private async route(req: http.IncomingMessage, url: URL, entry: LoggedRequest, raw: Buffer, res: http.ServerResponse): Promise<{ code?: number; body: unknown; type?: string } | undefined> {
    const p = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const accept = String(req.headers.accept ?? '');
    const wantsAggregated = accept.includes('as=APIGroupDiscoveryList') && accept.includes('v=v2;') || accept.includes('as=APIGroupDiscoveryList') && /v=v2(,|;|$)/.test(accept);
    const aggregatedType = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
    if (p === '/version') return { body: { major: '1', minor: this.gitVersion.split('.')[1], gitVersion: this.gitVersion, platform: 'linux/amd64' } };
    if (p === '/api') return wantsAggregated ? { body: this.aggregated(true), type: aggregatedType } : { body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] } };
    if (p === '/apis') {
      if (wantsAggregated) return { body: this.aggregated(false), type: aggregatedType };
      return { body: { kind: 'APIGroupList', apiVersion: 'v1', groups: this.groups().map((g) => ({ name: g.name, versions: g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v })), preferredVersion: { groupVersion: `${g.name}/${g.versions[0]}`, version: g.versions[0] } })) } };
    }
    if (p === '/api/v1' && method === 'GET') return { body: { kind: 'APIResourceList', groupVersion: 'v1', resources: this.discoveryResources('', 'v1') } };
    if (p.startsWith('/openapi/v3')) return { body: p === '/openapi/v3' ? { paths: {} } : { openapi: '3.0.0', info: { title: 'Kubernetes', version: this.gitVersion }, paths: {}, components: { schemas: {} } } };
    if (p.startsWith('/openapi/v2')) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    let m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(p);
    if (m && method === 'GET') {
      if (!this.types.some((t) => t.group === m![1] && t.versions.includes(m![2]!))) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
      return { body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${m[1]}/${m[2]}`, resources: this.discoveryResources(m[1]!, m[2]!) } };
    }
    m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.+)$/.exec(url.pathname);
    if (!m) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    const group = m[2] ?? '';
    const version = m[1] ?? m[3]!;
    const segs = m[4]!.split('/');
    const namespaced = segs[0] === 'namespaces' && segs.length >= 3 && !['status', 'finalize'].includes(segs[2]!);
    const [namespace, plural, name, subresource, ...rest] = namespaced ? segs.slice(1) : [undefined, ...segs];
    return this.resource(req, url, entry, raw, res, { group, version, namespace, plural: plural!, name: name ? decodeURIComponent(name) : undefined, subresource, rest: subresource ? `/${rest.join('/')}` : '' });
  }

  private async resource(
    req: http.IncomingMessage,
    url: URL,
    entry: LoggedRequest,
    raw: Buffer,
    res: http.ServerResponse,
    r: { group: string; version: string; namespace?: string; plural: string; name?: string; subresource?: string; rest: string },
  ): Promise<{ code?: number; body: unknown; type?: string } | undefined> {
    const method = req.method ?? 'GET';
    const t = this.types.find((x) => x.group === r.group && x.plural === r.plural && x.versions.includes(r.version));
    if (!t) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    const apiVersion = t.group ? `${t.group}/${r.version}` : r.version;

    if (t.kind === 'SelfSubjectAccessReview') {
      if (method !== 'POST') throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const body = entry.body as { spec?: { resourceAttributes?: { verb: string; group?: string; resource: string; subresource?: string; namespace?: string } } } | { protobuf: number };
      // kubectl auth can-i posts protobuf (and accepts the answer in JSON).
      const a = 'protobuf' in body ? resourceAttributesOfProtobuf(raw) : body.spec?.resourceAttributes;
      const spec = 'protobuf' in body ? { resourceAttributes: a } : body.spec;
      const denied = a ? this.deniedBy(a.verb, { group: a.group ?? '', plural: a.resource }, a.namespace, a.subresource) : undefined;
      entry.body = { spec };
      return { code: 201, body: { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: {}, spec, status: denied ? { allowed: false } : { allowed: true, reason: 'RBAC: allowed by the stand-in' } } };
    }

    if (r.subresource === 'proxy') {
      const [podName, port] = r.name!.split(':');
      if (this.deniedBy('get', t, r.namespace, 'proxy')) throw this.forbidden('get', t, r.namespace, podName, 'proxy');
      const table = t.kind === 'Pod' ? this.podProxies : this.serviceProxies;
      const local = table.get(`${r.namespace}/${podName}:${port ?? ''}`) ?? table.get(`${r.namespace}/${podName}:${port?.replace(/^http:/, '') ?? ''}`);
      if (local === undefined) throw new StatusError(503, 'ServiceUnavailable', `error trying to reach ${t.singular}: dial tcp 10.0.0.1:${port}: connect: connection refused`);
      await this.forward(local, `${r.rest || '/'}${url.search}`, method, req, raw, res, entry);
      return undefined;
    }
    if (r.subresource === 'portforward') {
      if (this.deniedBy('create', t, r.namespace, 'portforward')) throw this.forbidden('create', t, r.namespace, r.name, 'portforward');
      throw new StatusError(400, 'BadRequest', 'Upgrade request required');
    }

    const verb = method === 'GET' ? (r.name ? 'get' : 'list') : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : method === 'DELETE' ? 'delete' : method.toLowerCase();
    if (this.deniedBy(verb, t, r.namespace)) throw this.forbidden(verb, t, r.namespace, r.name);
    const manager = url.searchParams.get('fieldManager') ?? defaultManager(String(req.headers['user-agent'] ?? ''), verb);

    if (method === 'GET' && !r.name) {
      const selector = url.searchParams.get('labelSelector') ?? '';
      const items = [...this.store.values()].filter((o) => this.typeOfKind(o.apiVersion, o.kind) === t && (!r.namespace || o.metadata.namespace === r.namespace) && matchesSelector(o.metadata.labels, selector));
      items.sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
      return { body: { kind: `${t.kind}List`, apiVersion, metadata: { resourceVersion: String(this.revision) }, items: items.map((o) => ({ ...structuredClone(o), apiVersion })) } };
    }
    const storeKey = r.name ? this.storeKey(t, r.namespace, r.name) : '';
    const current = r.name ? this.store.get(storeKey) : undefined;
    const notFound = () => new StatusError(404, 'NotFound', `${t.plural}${t.group ? `.${t.group}` : ''} "${r.name}" not found`, { name: r.name, group: t.group, kind: t.plural });
    if (method === 'GET') {
      if (!current) throw notFound();
      return { body: { ...structuredClone(current), apiVersion } };
    }
    if (method === 'DELETE') {
      if (!current) throw notFound();
      this.store.delete(storeKey);
      return { body: status(200, '', '') };
    }
    if (method === 'POST') {
      const obj = structuredClone(entry.body) as KubeObject;
      const k = this.storeKey(t, r.namespace, obj.metadata.name);
      if (this.store.has(k)) throw new StatusError(409, 'AlreadyExists', `${t.plural}${t.group ? `.${t.group}` : ''} "${obj.metadata.name}" already exists`);
      return { code: 201, body: this.create(t, k, obj, r.namespace, manager, 'Update') };
    }
    if (method === 'PUT') {
      if (!current) throw notFound();
      const obj = structuredClone(entry.body) as KubeObject;
      if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== current.metadata.resourceVersion) throw this.modified(t, r.name!);
      return { body: this.update(t, current, obj, manager) };
    }
    if (method === 'PATCH') {
      const type = String(req.headers['content-type'] ?? '').split(';')[0];
      if (type === 'application/apply-patch+yaml') return { code: current ? 200 : 201, body: this.apply(t, storeKey, current, entry.body as KubeObject, r.namespace, manager, url.searchParams.get('force') === 'true') };
      if (!current) throw notFound();
      let next: KubeObject;
      if (type === 'application/merge-patch+json') next = mergePatch(current, entry.body) as KubeObject;
      else if (type === 'application/json-patch+json') next = jsonPatch(current, entry.body as never) as KubeObject;
      else if (type === 'application/strategic-merge-patch+json') {
        if (t.custom) throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
        next = mergePatch(current, entry.body) as KubeObject;
      } else throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
      const rv = (entry.body as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
      if (rv && rv !== current.metadata.resourceVersion) throw this.modified(t, r.name!);
      return { body: this.update(t, current, next, manager) };
    }
    throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }

  private modified(t: ResourceType, name: string): StatusError {
    return new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${t.plural}${t.group ? `.${t.group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: t.group, kind: t.plural });
  }

  private create(t: ResourceType, k: string, obj: KubeObject, namespace: string | undefined, manager: string, operation: 'Apply' | 'Update'): KubeObject {
    if (t.namespaced) obj.metadata.namespace = namespace ?? obj.metadata.namespace ?? 'default';
    obj.metadata.uid = `uid-${obj.metadata.name}-${this.revision}`;
    obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    obj.metadata.resourceVersion = this.nextVersion();
    obj.metadata.managedFields = [{ manager, operation, apiVersion: obj.apiVersion, time: obj.metadata.creationTimestamp, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(appliedFields(obj)) }];
    this.store.set(k, obj);
    return structuredClone(obj);
  }

  /** An Update: the fields it changes become `manager`'s, and no longer anyone else's. */
  private update(t: ResourceType, current: KubeObject, next: KubeObject, manager: string): KubeObject {
    const before = new Map(appliedFields(current).map((p) => [key(p), getAt(current, p)]));
    const after = appliedFields(next);
    const changed = after.filter((p) => !isDeepStrictEqual(before.get(key(p)), getAt(next, p))).map(key);
    const removed = [...before.keys()].filter((k) => getAt(next, unkey(k)) === undefined);
    const entries = (current.metadata.managedFields ?? []).map((e) => ({ ...e, paths: fromFieldsV1(e.fieldsV1).map(key) }));
    const touched = new Set([...changed, ...removed]);
    for (const e of entries) e.paths = e.paths.filter((p) => !touched.has(p) && ![...touched].some((c) => p.startsWith(c.slice(0, -1) + ',') || c.startsWith(p.slice(0, -1) + ',')));
    let mine = entries.find((e) => e.manager === manager && e.operation === 'Update');
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (!mine) entries.push((mine = { manager, operation: 'Update', apiVersion: next.apiVersion, time: now, fieldsType: 'FieldsV1', fieldsV1: {}, paths: [] }));
    mine.paths = [...new Set([...mine.paths, ...changed])];
    if (changed.length || removed.length) mine.time = now;
    next.metadata = { ...next.metadata, uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp, namespace: current.metadata.namespace, name: current.metadata.name };
    next.metadata.managedFields = entries.filter((e) => e.paths.length).map(({ paths, ...e }) => ({ ...e, fieldsV1: toFieldsV1(paths.map(unkey)) }));
    next.metadata.resourceVersion = changed.length || removed.length ? this.nextVersion() : current.metadata.resourceVersion;
    this.store.set(this.storeKey(t, current.metadata.namespace, current.metadata.name), next);
    return structuredClone(next);
  }

  /** Server-side apply: conflicts with other managers on changed values (409 unless force), shared ownership on equal ones. */
  private apply(t: ResourceType, k: string, current: KubeObject | undefined, applied: KubeObject, namespace: string | undefined, manager: string, force: boolean): KubeObject {
    if (!applied || typeof applied !== 'object' || !applied.metadata?.name) throw new StatusError(400, 'BadRequest', 'the applied object has no metadata.name');
    if (applied.kind !== t.kind) throw new StatusError(400, 'BadRequest', `the applied object's kind ${applied.kind} is not ${t.kind}`);
    if (!current) return this.create(t, k, structuredClone(applied), namespace, manager, 'Apply');
    if (applied.metadata.resourceVersion && applied.metadata.resourceVersion !== current.metadata.resourceVersion) throw this.modified(t, applied.metadata.name);
    const fields = appliedFields(applied);
    const entries = (current.metadata.managedFields ?? []).map((e) => ({ ...e, paths: fromFieldsV1(e.fieldsV1).map(key) }));
    const conflicts: { manager: string; apiVersion: string; field: string[] }[] = [];
    const overlaps = (a: string, b: string) => a === b || a.startsWith(b.slice(0, -1) + ',') || b.startsWith(a.slice(0, -1) + ',');
    const changedFields = fields.filter((p) => !isDeepStrictEqual(getAt(current, p), getAt(applied, p))).map(key);
    for (const e of entries) {
      if (e.manager === manager && e.operation === 'Apply') continue;
      for (const owned of e.paths) if (changedFields.some((c) => overlaps(c, owned))) conflicts.push({ manager: e.manager, apiVersion: e.apiVersion, field: unkey(owned) });
    }
    if (conflicts.length && !force) {
      const lines = conflicts.map((c) => `conflict with "${c.manager}"${c.manager.startsWith('kubectl') ? '' : ''} using ${c.apiVersion}: ${fieldText(c.field)}`);
      const message = conflicts.length === 1 ? `Apply failed with 1 conflict: ${lines[0]}` : `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
      throw new StatusError(409, 'Conflict', message, { causes: conflicts.map((c, i) => ({ reason: 'FieldManagerConflict', message: lines[i], field: fieldText(c.field) })) });
    }
    const next = structuredClone(current);
    for (const p of fields) setAt(next as unknown as Record<string, unknown>, p, getAt(applied, p));
    const mine = entries.find((e) => e.manager === manager && e.operation === 'Apply');
    const appliedKeys = new Set(fields.map(key));
    // Fields this manager applied before and no longer does are released; with no other owner they go.
    for (const old of mine?.paths ?? []) {
      if (appliedKeys.has(old)) continue;
      const others = entries.some((e) => e !== mine && e.paths.some((p) => overlaps(p, old)));
      if (!others) deleteAt(next as unknown as Record<string, unknown>, unkey(old));
    }
    if (force) for (const e of entries) if (e !== mine) e.paths = e.paths.filter((p) => !changedFields.some((c) => overlaps(c, p)));
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const kept = entries.filter((e) => e !== mine && e.paths.length);
    const changed = !isDeepStrictEqual(stripMeta(next), stripMeta(current));
    kept.push({ manager, operation: 'Apply', apiVersion: applied.apiVersion, time: changed || !mine ? now : mine.time, fieldsType: 'FieldsV1', fieldsV1: {}, paths: [...appliedKeys] });
    next.metadata.managedFields = kept.map(({ paths, ...e }) => ({ ...e, fieldsV1: toFieldsV1(paths.map(unkey)) }));
    if (changed || !isDeepStrictEqual(next.metadata.managedFields, current.metadata.managedFields)) next.metadata.resourceVersion = this.nextVersion();
    this.store.set(k, next);
    return structuredClone(next);
  }

  private forward(port: number, pathAndQuery: string, method: string, req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse, entry: LoggedRequest): Promise<void> {
    return new Promise((resolve) => {
      const out = http.request({ host: '127.0.0.1', port, path: pathAndQuery, method, headers: { ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}), accept: req.headers.accept ?? '*/*' } }, (answer) => {
        entry.status = answer.statusCode ?? 502;
        res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'text/plain' });
        answer.pipe(res);
        answer.on('end', () => resolve());
      });
      out.on('error', (err) => {
        entry.status = 503;
        const text = JSON.stringify(status(503, 'ServiceUnavailable', `error trying to reach service: ${err.message}`));
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(text);
        resolve();
      });
      out.end(raw);
    });
  }
}

/** Length-delimited fields of one protobuf message, by field number (the last of each wins). */
function protobufFields(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let i = 0;
  const varint = () => {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++]!;
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return n;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 2) {
      const len = varint();
      out.set(Math.floor(tag / 8), buf.subarray(i, i + len));
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else break;
  }
  return out;
}

/** The resourceAttributes of a SelfSubjectAccessReview in Kubernetes' protobuf envelope ("k8s\0" + runtime.Unknown). */
function resourceAttributesOfProtobuf(raw: Buffer): { verb: string; group?: string; resource: string; subresource?: string; namespace?: string } {
  const unknown = protobufFields(raw.subarray(4));
  const review = protobufFields(unknown.get(2) ?? Buffer.alloc(0));
  const spec = protobufFields(review.get(2) ?? Buffer.alloc(0));
  const attrs = protobufFields(spec.get(1) ?? Buffer.alloc(0));
  const text = (n: number) => attrs.get(n)?.toString('utf8') ?? '';
  return { namespace: text(1) || undefined, verb: text(2), group: text(3), resource: text(5), subresource: text(6) || undefined };
}

function stripMeta(o: KubeObject): unknown {
  const { metadata, ...rest } = o;
  return { ...rest, labels: metadata.labels, annotations: metadata.annotations };
}

/** kubectl's default field managers, from its user agent and the verb. */
function defaultManager(userAgent: string, verb: string): string {
  const program = userAgent.split('/')[0] || 'unknown';
  if (program === 'kubectl') return verb === 'patch' ? 'kubectl-patch' : verb === 'update' ? 'kubectl-edit' : 'kubectl-create';
  return program;
}

export interface TestTls {
  caFile: string;
  key: string;
  cert: string;
  clientCertFile: string;
  clientKeyFile: string;
}

/** A test CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
export function makeTestCa(dir: string): TestTls {
  const f = (n: string) => path.join(dir, n);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=meshctl test cluster CA');
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=kube-apiserver');
  ossl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('server.ext'));
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('client.key'), '-out', f('client.csr'), '-subj', '/O=system:masters/CN=meshctl-tester');
  ossl('x509', '-req', '-in', f('client.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('client.crt'), '-days', '2', '-extfile', f('client.ext'));
  return { caFile: f('ca.crt'), key: readFileSync(f('server.key'), 'utf8'), cert: readFileSync(f('server.crt'), 'utf8'), clientCertFile: f('client.crt'), clientKeyFile: f('client.key') };
}

export interface KubeconfigUser {
  token?: string;
  clientCertificate?: string;
  clientKey?: string;
  exec?: { command: string; args?: string[]; env?: { name: string; value: string }[]; apiVersion?: string };
}

/** A kubeconfig file naming the stand-in as one cluster, with one context per entry. */
export function writeKubeconfig(file: string, server: StandInApiServer, options: { contexts?: { name: string; namespace?: string; user?: KubeconfigUser }[]; current?: string | null } = {}): string {
  const contexts = options.contexts ?? [{ name: 'stand-in', user: { token: 'stand-in-token' } }];
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'stand-in', cluster: { server: server.url, 'certificate-authority': server.caFile } }],
    users: contexts.map((c) => ({
      name: `${c.name}-user`,
      user: {
        ...(c.user?.token ? { token: c.user.token } : {}),
        ...(c.user?.clientCertificate ? { 'client-certificate': c.user.clientCertificate, 'client-key': c.user.clientKey } : {}),
        ...(c.user?.exec ? { exec: { apiVersion: 'client.authentication.k8s.io/v1', interactiveMode: 'Never', ...c.user.exec } } : {}),
      },
    })),
    contexts: contexts.map((c) => ({ name: c.name, context: { cluster: 'stand-in', user: `${c.name}-user`, ...(c.namespace ? { namespace: c.namespace } : {}) } })),
    ...(options.current === null ? {} : { 'current-context': options.current ?? contexts[0]!.name }),
  };
  writeFileSync(file, yaml.dump(doc), { mode: 0o600 });
  return file;
}

/** Runs the real kubectl against the stand-in (asynchronously: the stand-in answers from this process) and parses its JSON output. */
export async function kubectlJson(kubeconfig: string, args: string[]): Promise<unknown> {
  const { stdout } = await promisify(execFile)('kubectl', ['--kubeconfig', kubeconfig, ...args, '-o', 'json'], { encoding: 'utf8', timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  return JSON.parse(stdout);
}

/** Waits until `check` holds (polling every 50 ms), or fails naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
