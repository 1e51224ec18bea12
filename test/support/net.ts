// Loopback helpers for live tests: free ports, HTTP requests with bounded timeouts, steady load.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { listenPort } from '../../src/lib/mesh/ports.js';

/**
 * A port that was free a moment ago on 127.0.0.1, picked as meshctl picks its pods' ports: below the
 * kernel's ephemeral range, so that no outgoing connection of another test takes it before it is bound.
 */
export function freePort(): Promise<number> {
  return listenPort();
}

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions {
  port: number;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  agent?: http.Agent | false;
  timeoutMs?: number;
}

export function request(o: RequestOptions): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: o.port, path: o.path ?? '/', method: o.method ?? 'GET', headers: o.headers, agent: o.agent ?? false, timeout: o.timeoutMs ?? 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request to 127.0.0.1:${o.port}${o.path ?? '/'} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port` (bounded). */
export async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** True when nothing accepts connections on 127.0.0.1:`port`. */
export function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
}

export interface LoadResult {
  sent: number;
  ok: number;
  failures: { at: number; error: string }[];
  /** Answers by a key the caller derives from each answer (e.g. the version that served it). */
  byKey: Map<string, number>;
}

/**
 * Sends `rps` requests per second for `durationMs` (exactly rps × duration requests: a bounded
 * loop), at most `maxInFlight` at once; `during` runs alongside (e.g. an apply under load), sees the
 * figures as they grow, and the result waits for it too.
 */
/**
 * Resolves once `progress` counts `n` answered requests (the load is under way, not just started);
 * rejects after `timeoutMs` with the count reached.
 */
export async function answered(progress: Readonly<LoadResult>, n: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (progress.ok + progress.failures.length < n) {
    if (Date.now() > deadline) throw new Error(`only ${progress.ok + progress.failures.length} of ${n} requests answered within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function steadyLoad(options: {
  rps: number;
  durationMs: number;
  send: () => Promise<HttpAnswer>;
  key?: (a: HttpAnswer) => string;
  during?: (progress: Readonly<LoadResult>) => Promise<void>;
  maxInFlight?: number;
}): Promise<LoadResult> {
  const total = Math.round((options.rps * options.durationMs) / 1000);
  const result: LoadResult = { sent: 0, ok: 0, failures: [], byKey: new Map() };
  const started = Date.now();
  const inFlight = new Set<Promise<void>>();
  let duringError: unknown = null;
  const during = options.during ? options.during(result).catch((e) => { duringError = e; }) : Promise.resolve();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / options.rps;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inFlight.size >= (options.maxInFlight ?? 64)) await Promise.race(inFlight);
    result.sent++;
    const p: Promise<void> = options.send().then((a) => {
      if (a.status >= 200 && a.status < 400) result.ok++;
      else result.failures.push({ at: Date.now() - started, error: `status ${a.status}: ${a.body.slice(0, 120)}` });
      if (options.key) {
        const k = options.key(a);
        result.byKey.set(k, (result.byKey.get(k) ?? 0) + 1);
      }
    }, (err: Error) => { result.failures.push({ at: Date.now() - started, error: err.message }); }).finally(() => { inFlight.delete(p); });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  await during;
  if (duringError) throw duringError;
  return result;
}

/**
 * One HTTP/1.1 GET over TLS to 127.0.0.1:`port` (a client certificate when `pem` is given, the server
 * checked against `ca` but not by name); resolves with the raw answer, rejects when the server closes
 * without one.
 */
export function tlsGet(o: { port: number; pem: { cert: string; key: string } | null; ca: string; host: string; path: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: o.port, ca: o.ca, ...(o.pem ?? {}), checkServerIdentity: () => undefined }, () => {
      socket.write(`GET ${o.path} HTTP/1.1\r\nhost: ${o.host}\r\nconnection: close\r\n\r\n`);
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { data += d; });
    socket.on('end', () => (data ? resolve(data) : reject(new Error('closed without an answer'))));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
  });
}
