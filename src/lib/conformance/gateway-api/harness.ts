// Replays the Gateway API conformance suite's HTTPRoute cases (cases.json: manifests, requests and what
// must come back) against a live local mesh, as the suite's own harness does: each case is sent until
// it holds three times in a row within 30 s, then its extra procedures run (weight sampling, mirrors,
// repeated header checks, WebSocket frames). The comparison rules are the suite's, read from its
// echo contract.
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { loadSources, type Resource } from '../../policy/load.js';
import { selectorMatches } from '../../policy/selectors.js';
import { echoWorkloads } from './workloads.js';
import { startConformanceMesh, type ConformanceMesh, type EchoPod } from './mesh.js';

// ---------------------------------------------------------------- the corpus

type Obj = Record<string, unknown>;

interface GatewayRef { namespace: string; name: string; listener: string; port: number }
interface ClientRef { namespace: string; selector: string }

export interface ConformanceCase {
  name: string;
  gateway?: GatewayRef;
  client?: ClientRef;
  request: { host: string | null; method: string; path: string; headers: Record<string, string>; unfollowRedirect?: boolean; protocol?: string };
  expectedRequest: { host: string | null; method: string; path: string; headers: Record<string, string>; absentHeaders: string[]; derivedFromRequest?: boolean } | null;
  response: { statusCode: number | number[]; headers: Record<string, string>; absentHeaders: string[]; validHeaderValues?: Record<string, string[]>; ignoreWhitespace?: boolean };
  backend: string | null;
  namespace: string;
  redirect?: { scheme: string; host: string | null; port: string | null; path: string };
  backendSetResponseHeaders?: Record<string, string>;
  mirroredTo?: { name: string; namespace: string; percent?: number; distribution?: { totalRequests: number; concurrency?: number; attempts: number; min: number; max: number } }[];
  requestIdQueryParam?: string;
  weights?: { expected: Record<string, number>; tolerance: number; totalRequests: number; concurrency?: number; attempts: number; entropy?: string };
  before?: { action: string; kind: string; namespace: string; name: string }[];
  check?: { header: string; requests: number };
  websocket?: { origin: string; frames: { type: 'text' | 'binary'; data: string | number[] }[] };
}

export interface ConformanceTest {
  test: string;
  kind: 'gateway' | 'mesh';
  features: string[];
  provisional: boolean;
  baseManifests: string[];
  manifests: string[];
  gateway: GatewayRef | null;
  client: ClientRef | null;
  setup?: Obj[];
  cases: ConformanceCase[];
}

export interface CaseResult {
  test: string;
  kind: string;
  name: string;
  pass: boolean;
  detail: string;
  ms: number;
}

/** Timing of the suite's harness (config.DefaultTimeoutConfig). */
export interface Timing {
  maxTimeToConsistencyMs: number;
  requiredConsecutiveSuccesses: number;
  pollIntervalMs: number;
  requestTimeoutMs: number;
}

export const SUITE_TIMING: Timing = { maxTimeToConsistencyMs: 30_000, requiredConsecutiveSuccesses: 3, pollIntervalMs: 100, requestTimeoutMs: 10_000 };

export async function readCorpus(file: string): Promise<ConformanceTest[]> {
  const data = JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
  if (!Array.isArray(data)) throw new Error(`${file} is not a list of Gateway API conformance tests (cases.json format).`);
  return data as ConformanceTest[];
}

async function loadManifests(dir: string, files: string[]): Promise<Resource[]> {
  const sources = await Promise.all(files.map(async (f) => {
    const text = await fs.readFile(path.resolve(dir, f), 'utf8');
    return { path: f, text, format: 'yaml' as const, size: Buffer.byteLength(text) };
  }));
  return loadSources(sources, { defaultNamespace: 'default' }).resources;
}

// ---------------------------------------------------------------- requests

interface Answer {
  status: number;
  headers: Map<string, string[]>;
  body: string;
}

interface EchoBody { path: string; host: string; method: string; headers: Record<string, string[]>; namespace: string; pod: string }

/** Go's canonical header name (Header.Set and resp.Header). */
function canonical(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

function headerMap(raw: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = canonical(raw[i]);
    out.set(key, [...(out.get(key) ?? []), raw[i + 1]]);
  }
  return out;
}

interface Outgoing { port: number; method: string; path: string; host: string; headers: [string, string][]; h2c?: boolean }

function sendHttp1(o: Outgoing, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: [string, string][] = [['Host', o.host], ['User-Agent', 'Go-http-client/1.1'], ...o.headers];
    if (o.method !== 'HEAD') headers.push(['Accept-Encoding', 'gzip']);
    headers.push(['Connection', 'close']);
    const req = http.request({ host: '127.0.0.1', port: o.port, method: o.method, path: o.path, agent: false, setHost: false, headers: headers.flat() as unknown as http.OutgoingHttpHeaders, timeout: timeoutMs });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: headerMap(res.rawHeaders), body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end();
  });
}

function sendH2c(o: Outgoing, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${o.port}`);
    const timer = setTimeout(() => { session.destroy(); reject(new Error(`no answer within ${timeoutMs} ms`)); }, timeoutMs);
    session.on('error', (err) => { clearTimeout(timer); reject(err); });
    const headers: http2.OutgoingHttpHeaders = { ':method': o.method, ':path': o.path, ':authority': o.host, 'user-agent': 'Go-http-client/2.0' };
    for (const [k, v] of o.headers) headers[k.toLowerCase()] = v;
    const stream = session.request(headers);
    let status = 0;
    let raw: string[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      raw = Object.entries(h).filter(([k]) => !k.startsWith(':')).flatMap(([k, v]) => (Array.isArray(v) ? v.flatMap((x) => [k, String(x)]) : [k, String(v)]));
    });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (err) => { clearTimeout(timer); session.destroy(); reject(err); });
    stream.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, headers: headerMap(raw), body: Buffer.concat(chunks).toString('utf8') });
    });
    stream.end();
  });
}

function parseEcho(a: Answer): EchoBody | null {
  if (a.headers.get('Content-Type')?.[0] !== 'application/json') return null;
  try {
    return JSON.parse(a.body) as EchoBody;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- comparison

function joined(values: string[] | undefined): string | undefined {
  return values === undefined ? undefined : values.join(',');
}

function lookup(headers: Record<string, string[]> | Map<string, string[]>, name: string): string[] | undefined {
  const want = name.toLowerCase();
  const entries = headers instanceof Map ? [...headers.entries()] : Object.entries(headers);
  const found = entries.filter(([k]) => k.toLowerCase() === want).flatMap(([, v]) => v);
  return found.length ? found : undefined;
}

/** The suite's CompareRoundTrip (gateway) or compareRequest (mesh): null when the answer passes, else why not. */
export function compare(kind: 'gateway' | 'mesh', c: ConformanceCase, sent: { path: string; host: string }, a: Answer): string | null {
  const allowed = Array.isArray(c.response.statusCode) ? c.response.statusCode : [c.response.statusCode];
  const echo = parseEcho(a);
  if (kind === 'mesh') {
    if (!allowed.includes(a.status)) return `status ${a.status}, expected ${allowed.join(' or ')}`;
    for (const [name, value] of Object.entries(c.expectedRequest?.headers ?? {})) {
      const got = joined(echo ? lookup(echo.headers, name) : undefined);
      if (got !== value) return `backend saw ${name}: ${got ?? '(absent)'}, expected ${value}`;
    }
    for (const name of c.expectedRequest?.absentHeaders ?? []) if (echo && lookup(echo.headers, name)) return `backend saw ${name}, which should be absent`;
    for (const name of c.response.absentHeaders) if (a.headers.has(canonical(name))) return `response carries ${name}, which should be absent`;
    for (const [name, value] of Object.entries(c.response.headers)) {
      const got = a.headers.get(canonical(name));
      if (got?.[got.length - 1] !== value) return `response ${name}: ${got?.join(',') ?? '(absent)'}, expected ${value}`;
    }
    if (c.backend && !(echo?.pod ?? '').startsWith(c.backend)) return `answered by ${echo?.pod || '(no pod)'}, expected ${c.backend}`;
    return null;
  }
  if ((a.status === 408 || a.status === 504) && (allowed.includes(408) || allowed.includes(504))) return null;
  if (!allowed.includes(a.status)) return `status ${a.status}, expected ${allowed.join(' or ')}`;
  if (a.status === 200 || a.status === 204) {
    const er = c.expectedRequest;
    const captured = echo ?? { path: '', host: '', method: c.request.method, headers: {}, namespace: '', pod: '' };
    if (er) {
      const expectedPath = er.path;
      if (er.host !== null && captured.host !== er.host) return `backend saw host ${captured.host}, expected ${er.host}`;
      if (captured.path !== expectedPath) return `backend saw path ${captured.path}, expected ${expectedPath}`;
      if (captured.method !== er.method) return `backend saw method ${captured.method}, expected ${er.method}`;
    }
    if (captured.namespace !== c.namespace) return `answered from namespace ${JSON.stringify(captured.namespace)}, expected ${JSON.stringify(c.namespace)}`;
    for (const [name, value] of Object.entries(er?.headers ?? {})) {
      const got = joined(lookup(captured.headers, name));
      if (got !== value) return `backend saw ${name}: ${got ?? '(absent)'}, expected ${value}`;
    }
    for (const name of er?.absentHeaders ?? []) if (lookup(captured.headers, name)) return `backend saw ${name}, which should be absent`;
    for (const [name, values] of Object.entries(c.response.validHeaderValues ?? {})) {
      const got = joined(lookup(a.headers, name));
      if (got === undefined || !values.includes(got)) return `response ${name}: ${got ?? '(absent)'}, expected one of ${values.join(' | ')}`;
    }
    const strip = (s: string) => (c.response.ignoreWhitespace ? s.replace(/\s/g, '') : s);
    for (const [name, value] of Object.entries(c.response.headers)) {
      const got = joined(lookup(a.headers, name));
      if (got === undefined || strip(got) !== strip(value)) return `response ${name}: ${got ?? '(absent)'}, expected ${value}`;
    }
    for (const name of c.response.absentHeaders) if (lookup(a.headers, name)) return `response carries ${name}, which should be absent`;
    if (c.backend && !captured.pod.startsWith(c.backend)) return `answered by ${captured.pod || '(no pod)'}, expected ${c.backend}`;
    return null;
  }
  if ([300, 301, 302, 303, 304, 305, 307, 308].includes(a.status) && c.redirect) {
    const location = a.headers.get('Location')?.[0];
    if (!location) return `status ${a.status} without Location`;
    let url: URL;
    try {
      url = new URL(location, `http://${sent.host}${sent.path}`);
    } catch {
      return `Location ${location} is not a URL`;
    }
    const r = c.redirect;
    if (r.host !== null && url.hostname !== r.host) return `redirect to host ${url.hostname}, expected ${r.host}`;
    const scheme = url.protocol.replace(/:$/, '');
    const wellKnown = scheme === 'https' ? '443' : '80';
    if (r.port === null ? !(url.port === '' || url.port === wellKnown) : url.port !== r.port) return `redirect to port ${url.port || '(none)'}, expected ${r.port ?? `none or ${wellKnown}`}`;
    if (scheme !== r.scheme) return `redirect scheme ${scheme}, expected ${r.scheme}`;
    if (decodeURIComponent(url.pathname) !== r.path) return `redirect path ${decodeURIComponent(url.pathname)}, expected ${r.path}`;
  }
  return null;
}

// ---------------------------------------------------------------- out of reach

/**
 * Cases a loopback mesh cannot pass, each with why (the corpus's README names them as hard for such
 * a data plane). The conformance run still sends them; the test suite holds every other case to pass.
 */
export const OUT_OF_REACH: { test: string; case?: string; reason: string }[] = [
  {
    test: 'HTTPRouteServiceTypes', case: "0 request to '/manual-endpointslices' should go to infra-backend-v1",
    reason: 'its Service has no selector and its EndpointSlice is filled with pod IPs at setup; local pods have no address of their own (all are 127.0.0.1, told apart by port), so no slice can name them',
  },
  {
    test: 'HTTPRouteServiceTypes', case: "1 request to '/headless-manual-endpointslices' should go to infra-backend-v1",
    reason: 'as above, for a headless Service with a hand-written EndpointSlice',
  },
  {
    test: 'MeshFrontend', case: 'Send to pod IP',
    reason: 'the client calls a pod by its IP; local pods have no IP of their own, only loopback ports',
  },
  {
    test: 'MeshFrontendHostname',
    reason: 'the route must follow the Service the client resolved (its ClusterIP) rather than the Host header; a local sidecar has one outbound listener and only the Host to route by',
  },
];

export function outOfReach(test: string, caseName: string): string | null {
  return OUT_OF_REACH.find((o) => o.test === test && (o.case === undefined || o.case === caseName))?.reason ?? null;
}

// ---------------------------------------------------------------- the run

function withQuery(p: string, key: string, value: string): string {
  const [base, query = ''] = p.split(/\?(.*)/s, 2);
  const params = new URLSearchParams(query);
  params.append(key, value);
  // Go's url.Values.Encode sorts the keys.
  const sorted = [...params.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `${base}?${sorted.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The backend a pod belongs to, as the suite finds it: its name without the last two parts. */
export function backendOfPod(pod: string): string {
  return pod.split('-').slice(0, -2).join('-');
}

class Runner {
  constructor(private readonly mesh: ConformanceMesh, private readonly timing: Timing) {}

  private clientPod(ref: ClientRef): EchoPod | undefined {
    const selector = Object.fromEntries(ref.selector.split(',').map((kv) => kv.split('=') as [string, string]));
    return this.mesh.pods.filter((p) => p.namespace === ref.namespace && selectorMatches(selector, p.labels)).sort((a, b) => a.name.localeCompare(b.name))[0];
  }

  /** The request of a case as it goes on the wire, with fresh placeholders; throws when it cannot be sent locally. */
  outgoing(t: ConformanceTest, c: ConformanceCase, requestPath: string, override?: Record<string, string>): Outgoing {
    const headers: [string, string][] = Object.entries(override ?? c.request.headers).map(([k, v]) => [canonical(k), v]);
    const setHeader = Object.entries(c.backendSetResponseHeaders ?? {}).map(([k, v]) => `${k}:${v}`).join(',');
    headers.push(['X-Echo-Set-Header', setHeader]);
    if (t.kind === 'gateway') {
      const gw = c.gateway ?? t.gateway;
      if (!gw) throw new Error('the case names no Gateway');
      const proxy = this.mesh.gateway(gw.namespace, gw.name);
      const port = proxy?.listeners[gw.port];
      if (!proxy || port === undefined) throw new Error(`Gateway ${gw.namespace}/${gw.name} has no HTTP listener on port ${gw.port} in the local mesh`);
      const host = c.request.host ?? (gw.port === 80 ? '127.0.0.1' : `127.0.0.1:${gw.port}`);
      return { port, method: c.request.method, path: requestPath, host, headers, h2c: c.request.protocol === 'H2C_PRIOR_KNOWLEDGE' };
    }
    const ref = c.client ?? t.client;
    const pod = ref ? this.clientPod(ref) : undefined;
    if (!pod) throw new Error(`no client pod ${ref?.selector ?? ''} in ${ref?.namespace ?? ''}`);
    const authority = (c.request.host ?? 'echo').replace(/:80$/, '');
    if (/\{\{/.test(authority)) throw new Error(`the authority ${authority} is a pod address; local pods have no addresses of their own`);
    const hostOverride = headers.find(([k]) => k === 'Host');
    return { port: pod.ports.outbound, method: c.request.method, path: requestPath || '/', host: hostOverride?.[1] ?? authority, headers: headers.filter(([k]) => k !== 'Host') };
  }

  async send(o: Outgoing): Promise<Answer> {
    return o.h2c ? sendH2c(o, this.timing.requestTimeoutMs) : sendHttp1(o, this.timing.requestTimeoutMs);
  }

  /** One attempt: placeholders filled, the request sent, the answer compared. */
  async attempt(t: ConformanceTest, c: ConformanceCase, requestId: string | null): Promise<{ error: string | null; answer: Answer | null; sentPath: string }> {
    const uuid = randomUUID();
    let p = c.request.path.replaceAll('{{uuid}}', uuid);
    let expected = c.expectedRequest ? { ...c.expectedRequest, path: c.expectedRequest.path.replaceAll('{{uuid}}', uuid) } : null;
    if (requestId && c.requestIdQueryParam) {
      p = withQuery(p, c.requestIdQueryParam, requestId);
      if (expected) expected = { ...expected, path: withQuery(expected.path, c.requestIdQueryParam, requestId) };
    }
    let o: Outgoing;
    try {
      o = this.outgoing(t, c, p);
    } catch (err) {
      return { error: (err as Error).message, answer: null, sentPath: p };
    }
    try {
      const answer = await this.send(o);
      return { error: compare(t.kind, { ...c, expectedRequest: expected }, { path: p, host: o.host }, answer), answer, sentPath: p };
    } catch (err) {
      return { error: `request failed: ${(err as Error).message}`, answer: null, sentPath: p };
    }
  }

  /** Sends the case until it passes `requiredConsecutiveSuccesses` times in a row, within the bound. */
  async eventually(t: ConformanceTest, c: ConformanceCase, requestId: string | null): Promise<string | null> {
    const deadline = Date.now() + this.timing.maxTimeToConsistencyMs;
    let streak = 0;
    let last = 'no attempt';
    while (Date.now() < deadline) {
      const r = await this.attempt(t, c, requestId);
      if (r.error === null) {
        if (++streak >= this.timing.requiredConsecutiveSuccesses) return null;
        continue;
      }
      streak = 0;
      last = r.error;
      await sleep(this.timing.pollIntervalMs);
    }
    return `did not hold ${this.timing.requiredConsecutiveSuccesses} times in a row within ${this.timing.maxTimeToConsistencyMs / 1000} s: ${last}`;
  }

  private mirrorLines(m: { name: string; namespace: string }, since: number, requestPath: string): number {
    const needle = `Echoing back request made to ${requestPath} to client`;
    return this.mesh.pods
      .filter((p) => p.namespace === m.namespace && p.labels.app === m.name)
      .reduce((n, p) => n + p.log.filter((l) => l.at >= since && l.line.startsWith(needle)).length, 0);
  }

  async mirrors(t: ConformanceTest, c: ConformanceCase): Promise<string | null> {
    for (const m of c.mirroredTo ?? []) {
      if (m.percent !== undefined && m.distribution) {
        const d = m.distribution;
        let last = '';
        for (let attempt = 0; attempt < d.attempts; attempt++) {
          const requestId = randomUUID();
          const since = Date.now();
          const p = withQuery(c.request.path, c.requestIdQueryParam ?? 'gateway-api-conformance-request-id', requestId);
          const o = this.outgoing(t, c, p);
          await inParallel(d.totalRequests, d.concurrency ?? 10, () => this.send(o).then(() => undefined, () => undefined));
          // Copies are sent in the background: wait until their count settles.
          let count = this.mirrorLines(m, since, p);
          for (let settle = 0; settle < 20; settle++) {
            await sleep(250);
            const next = this.mirrorLines(m, since, p);
            if (next === count && settle >= 3) break;
            count = next;
          }
          if (count >= d.min && count <= d.max) { last = ''; break; }
          last = `${count} of ${d.totalRequests} requests mirrored to ${m.name}, expected ${d.min.toFixed(1)}–${d.max.toFixed(1)}`;
        }
        if (last) return last;
        continue;
      }
      const requestId = randomUUID();
      const since = Date.now();
      const r = await this.attempt(t, c, requestId);
      if (r.error) return r.error;
      const deadline = Date.now() + 10_000;
      while (this.mirrorLines(m, since - 1000, r.sentPath) === 0) {
        if (Date.now() > deadline) return `no copy of ${r.sentPath} reached ${m.namespace}/${m.name} within 10 s`;
        await sleep(100);
      }
    }
    return null;
  }

  async weights(t: ConformanceTest, c: ConformanceCase): Promise<string | null> {
    const w = c.weights;
    if (!w) return null;
    let last = '';
    for (let attempt = 0; attempt < w.attempts; attempt++) {
      const counts = new Map<string, number>();
      let failure = '';
      await inParallel(w.totalRequests, w.concurrency ?? 10, async () => {
        const jitter = w.entropy && Math.random() < 0.5 ? { 'X-Jitter': String(Math.floor(Math.random() * 10_000)) } : undefined;
        const o = this.outgoing(t, c, c.request.path, jitter);
        try {
          const a = await this.send(o);
          const error = compare(t.kind, c, { path: c.request.path, host: o.host }, a);
          if (error) failure ||= error;
          const pod = parseEcho(a)?.pod ?? '';
          counts.set(backendOfPod(pod), (counts.get(backendOfPod(pod)) ?? 0) + 1);
        } catch (err) {
          failure ||= `request failed: ${(err as Error).message}`;
        }
      });
      if (failure) { last = failure; continue; }
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      const stray = [...counts.keys()].find((b) => !(b in w.expected));
      if (stray !== undefined) { last = `pod of ${stray || '(unknown)'} answered`; continue; }
      const active = Object.values(w.expected).filter((v) => v > 0).length;
      if (counts.size !== active) { last = `${counts.size} backends answered, expected ${active}`; continue; }
      const off = Object.entries(w.expected).find(([b, share]) => Math.abs((counts.get(b) ?? 0) / total - share) > w.tolerance);
      if (off) { last = `${off[0]} took ${(((counts.get(off[0]) ?? 0) / total) * 100).toFixed(1)}%, expected ${(off[1] * 100).toFixed(0)}% ± ${(w.tolerance * 100).toFixed(0)}`; continue; }
      return null;
    }
    return `weights: ${last}`;
  }

  async headerCheck(t: ConformanceTest, c: ConformanceCase): Promise<string | null> {
    if (!c.check) return null;
    for (let i = 0; i < c.check.requests; i++) {
      const a = await this.send(this.outgoing(t, c, c.request.path));
      const echo = parseEcho(a);
      const values = echo ? lookup(echo.headers, c.check.header) ?? [] : [];
      if (values.length !== 1) return `request ${i + 1}: the backend saw ${values.length} ${c.check.header} headers`;
      if (!echo?.pod.startsWith(values[0])) return `request ${i + 1}: ${c.check.header} ${values[0]} reached ${echo?.pod}`;
    }
    return null;
  }

  async websocket(t: ConformanceTest, c: ConformanceCase): Promise<string | null> {
    const ws = c.websocket;
    if (!ws) return null;
    const deadline = Date.now() + this.timing.maxTimeToConsistencyMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const o = this.outgoing(t, c, c.request.path);
        await websocketExchange(o, ws.origin, ws.frames.map((f) => ({ opcode: f.type === 'text' ? 1 : 2, payload: typeof f.data === 'string' ? Buffer.from(f.data) : Buffer.from(f.data) })), this.timing.requestTimeoutMs);
        return null;
      } catch (err) {
        last = (err as Error).message;
        await sleep(this.timing.pollIntervalMs);
      }
    }
    return `websocket: ${last}`;
  }

  async run(t: ConformanceTest, c: ConformanceCase): Promise<string | null> {
    if (c.websocket) return this.websocket(t, c);
    const first = await this.eventually(t, c, c.requestIdQueryParam ? randomUUID() : null);
    if (first) return first;
    return (await this.weights(t, c)) ?? (await this.mirrors(t, c)) ?? (await this.headerCheck(t, c));
  }
}

async function inParallel(total: number, concurrency: number, job: () => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, async () => {
    while (next < total) {
      next++;
      await job();
    }
  }));
}

/** A WebSocket handshake through the proxy, then each frame sent (masked) and expected back unchanged. */
function websocketExchange(o: Outgoing, origin: string, frames: { opcode: number; payload: Buffer }[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: o.port });
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no echo within ${timeoutMs} ms`)); }, timeoutMs);
    const fail = (err: Error) => { clearTimeout(timer); socket.destroy(); reject(err); };
    socket.on('error', fail);
    const key = Buffer.from(randomUUID()).toString('base64').slice(0, 24);
    socket.write(`GET ${o.path} HTTP/1.1\r\nHost: ${o.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nOrigin: ${origin}\r\n\r\n`);
    let buffer = Buffer.alloc(0);
    let upgraded = false;
    let index = 0;
    const sendFrame = () => {
      const f = frames[index];
      const mask = Buffer.from([1, 2, 3, 4]);
      const masked = Buffer.from(f.payload.map((b, i) => b ^ mask[i % 4]));
      socket.write(Buffer.concat([Buffer.from([0x80 | f.opcode, 0x80 | f.payload.length]), mask, masked]));
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 101/.test(head)) return fail(new Error(`handshake answered ${head.split('\r\n')[0]}`));
        upgraded = true;
        buffer = buffer.subarray(end + 4);
        sendFrame();
      }
      while (buffer.length >= 2) {
        const length = buffer[1] & 0x7f;
        if (length >= 126 || buffer.length < 2 + length) return;
        const opcode = buffer[0] & 0x0f;
        const payload = buffer.subarray(2, 2 + length);
        buffer = buffer.subarray(2 + length);
        const want = frames[index];
        if (opcode !== want.opcode || !payload.equals(want.payload)) return fail(new Error(`frame ${index + 1} came back changed`));
        index++;
        if (index === frames.length) {
          clearTimeout(timer);
          socket.destroy();
          return resolve();
        }
        sendFrame();
      }
    });
  });
}

// ---------------------------------------------------------------- entry point

export interface RunOptions {
  /** The echo app every Deployment of the suite's echo images runs as. */
  echoScript: string;
  timing?: Timing;
  /** Only tests whose name contains one of these. */
  only?: string[];
  progress?: (line: string) => void;
  /** Report the OUT_OF_REACH cases as failing with their reason instead of sending them (each costs the 30 s bound). */
  leaveOutOfReach?: boolean;
}

/** Runs every case of `file` (cases.json format; manifests resolved beside it) on one live local mesh. */
export async function runGatewayApiCorpus(file: string, options: RunOptions): Promise<CaseResult[]> {
  const dir = path.dirname(file);
  let tests = await readCorpus(file);
  if (options.only?.length) tests = tests.filter((t) => options.only?.some((o) => t.test.includes(o)));
  const baseFiles = [...new Set(tests.flatMap((t) => t.baseManifests))];
  const base = await loadManifests(dir, baseFiles);
  const mapping = echoWorkloads(base, options.echoScript);
  const workloadText = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: mapping.workloads });
  const workloads = loadSources([{ path: 'workloads.json', text: workloadText, format: 'json', size: workloadText.length }], { defaultNamespace: 'default' }).resources;
  const mesh = await startConformanceMesh(workloads);
  // Interrupted, the run still stops every process it started.
  const interrupted = (signal: NodeJS.Signals) => { void mesh.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143)); };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const runner = new Runner(mesh, options.timing ?? SUITE_TIMING);
  const results: CaseResult[] = [];
  try {
    for (const t of tests) {
      let resources = [...base, ...(await loadManifests(dir, t.manifests))];
      await mesh.apply(resources);
      // Runtime setup the local mesh has no counterpart for is not done; the cases that need it say so when they fail.
      const setupNote = (t.setup ?? []).map((step) => `setup ${String(step.action)} has no local counterpart`).join('; ');
      for (const c of t.cases) {
        const started = Date.now();
        for (const b of c.before ?? []) {
          if (b.action === 'delete') resources = resources.filter((r) => !(r.kind === b.kind && r.namespace === b.namespace && r.name === b.name));
        }
        if (c.before?.length) await mesh.apply(resources);
        const unreachable = options.leaveOutOfReach ? outOfReach(t.test, c.name) : null;
        let detail = unreachable !== null ? `out of reach for a loopback mesh: ${unreachable}` : await runner.run(t, c).catch((err: Error) => err.message);
        if (detail !== null && setupNote) detail = `${detail} (${setupNote})`;
        const result: CaseResult = { test: t.test, kind: t.kind, name: c.name, pass: detail === null, detail: detail ?? '', ms: Date.now() - started };
        results.push(result);
        options.progress?.(`${result.pass ? 'pass' : 'FAIL'} ${t.test} / ${c.name}${result.pass ? '' : `: ${result.detail}`}`);
      }
    }
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await mesh.stop();
  }
  return results;
}
