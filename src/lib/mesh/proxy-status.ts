// `meshctl proxy-status`: every proxy of the local mesh asked, a bounded number at a time, which
// revision it serves (against the one applied), whether it is ready, and when its certificate expires.
// One proxy that does not answer is marked in its row; the others still report.
import { promises as fs } from 'node:fs';
import { certificateFacts, isoSeconds, secondsUntil } from '../runtime/x509.js';
import { adminGet } from '../runtime/haproxy/admin.js';
import { RuntimeApi } from '../runtime/haproxy/runtime-api.js';
import { parseShowSslCert } from '../runtime/haproxy/inspect.js';
import type { LocalMesh, LocalProxy } from './proxies.js';

export type SyncStatus = 'SYNCED' | 'STALE' | 'UNREACHABLE';

export interface ProxyStatusRow {
  name: string;
  namespace: string;
  type: 'sidecar' | 'gateway';
  runtime: 'haproxy' | 'envoy';
  /** Where the proxy was asked: its admin port. */
  admin: string;
  reachable: boolean;
  /** The revision the proxy serves; null when it did not answer. */
  revision: number | null;
  appliedRevision: number | null;
  status: SyncStatus;
  /** null when the proxy did not answer. */
  ready: boolean | null;
  /** One sentence: why not ready, or why unreachable; null when ready and synced. */
  problem: string | null;
  certificate: ProxyCertificate | null;
}

export interface ProxyCertificate {
  serial: string | null;
  notAfter: string | null;
  secondsLeft: number | null;
  /** runtime: as the proxy serves it; file: the proxy's certificate file (the proxy did not say). */
  source: 'runtime' | 'file';
}

export interface ProxyStatusReport {
  /** Where the mesh is (MeshTarget.location). */
  home: string;
  /** False when there is no mesh there. */
  installed: boolean;
  appliedRevision: number | null;
  readAt: string;
  proxies: ProxyStatusRow[];
  summary: { total: number; synced: number; stale: number; unreachable: number; notReady: number };
  /** Every proxy answered, serves the applied revision and is ready. */
  ok: boolean;
}

export interface ProxyStatusOptions {
  /** How long one proxy may take to answer (default 2 s). */
  timeoutMs?: number;
  /** Proxies asked at once (default 16). */
  concurrency?: number;
  now?: () => Date;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the items' order. */
export async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

function reasonOf(err: unknown, timeoutMs: number): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code) return e.code;
  return /did not answer/.test(e.message ?? '') ? `no answer within ${timeoutMs} ms` : (e.message ?? String(err)).replace(/\.$/, '');
}

async function certificateOf(proxy: LocalProxy, timeoutMs: number, now: Date): Promise<ProxyCertificate | null> {
  const file = proxy.paths.certificate;
  try {
    const live = parseShowSslCert(await new RuntimeApi(proxy.paths.runtimeSocket, timeoutMs).command(`show ssl cert ${file}`));
    if (live.notAfter) return { serial: live.serial, notAfter: live.notAfter, secondsLeft: secondsUntil(live.notAfter, now), source: 'runtime' };
  } catch {
    // Fall back to the file below.
  }
  try {
    const facts = certificateFacts(await fs.readFile(file, 'utf8'));
    if (facts) return { serial: facts.serial, notAfter: facts.notAfter, secondsLeft: secondsUntil(facts.notAfter, now), source: 'file' };
  } catch {
    // No certificate to report.
  }
  return null;
}

/** Asks one proxy (its admin port for readiness and revision, its runtime API for the certificate). */
export async function proxyStatusRow(proxy: LocalProxy, appliedRevision: number | null, options: ProxyStatusOptions = {}): Promise<ProxyStatusRow> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const now = (options.now ?? (() => new Date()))();
  const admin = `127.0.0.1:${proxy.ports.admin}`;
  const base = { name: proxy.name, namespace: proxy.namespace, type: proxy.kind, runtime: 'haproxy' as const, admin, appliedRevision };
  const [ready, certificate] = await Promise.all([
    adminGet(proxy.ports.admin, '/ready', timeoutMs).catch((err: unknown) => err as Error),
    certificateOf(proxy, timeoutMs, now),
  ]);
  if (ready instanceof Error) {
    return {
      ...base,
      reachable: false,
      revision: null,
      status: 'UNREACHABLE',
      ready: null,
      problem: `no answer on its admin port ${admin} (${reasonOf(ready, timeoutMs)})`,
      certificate,
    };
  }
  const revision = ready.revision >= 0 ? ready.revision : null;
  const synced = revision !== null && appliedRevision !== null && revision === appliedRevision;
  const isReady = ready.status === 200;
  const problems: string[] = [];
  if (!synced) problems.push(revision === null ? 'it reports no revision' : `it serves revision ${revision}, not ${appliedRevision ?? 'the applied one'}`);
  if (!isReady) problems.push(ready.status === 503 && proxy.kind === 'sidecar' ? `its app does not answer on 127.0.0.1:${proxy.ports.app ?? '?'}` : `/ready answered HTTP ${ready.status}`);
  return {
    ...base,
    reachable: true,
    revision,
    status: synced ? 'SYNCED' : 'STALE',
    ready: isReady,
    problem: problems.length ? problems.join('; ') : null,
    certificate,
  };
}

/** The status of every proxy of a local mesh. */
export async function proxyStatusOf(mesh: LocalMesh, options: ProxyStatusOptions = {}): Promise<ProxyStatusReport> {
  const now = options.now ?? (() => new Date());
  const proxies = await mapBounded(mesh.proxies, options.concurrency ?? 16, (p) => proxyStatusRow(p, p.wantedRevision ?? mesh.appliedRevision, options));
  const summary = {
    total: proxies.length,
    synced: proxies.filter((p) => p.status === 'SYNCED').length,
    stale: proxies.filter((p) => p.status === 'STALE').length,
    unreachable: proxies.filter((p) => p.status === 'UNREACHABLE').length,
    notReady: proxies.filter((p) => p.ready === false).length,
  };
  return {
    home: mesh.layout.root,
    installed: mesh.installed,
    appliedRevision: mesh.appliedRevision,
    readAt: isoSeconds(now()),
    proxies,
    summary,
    ok: mesh.installed && proxies.every((p) => p.status === 'SYNCED' && p.ready === true),
  };
}

/**
 * Reads the status until every proxy is synced and ready, or `waitMs` passes; returns the last
 * reading either way. The mesh is read again each time (an apply may be placing pods meanwhile).
 */
export async function waitForProxies(
  target: { proxyStatus(options: ProxyStatusOptions): Promise<ProxyStatusReport> },
  options: ProxyStatusOptions & { waitMs: number; intervalMs?: number; signal?: AbortSignal; onReading?: (r: ProxyStatusReport) => void },
): Promise<{ report: ProxyStatusReport; waitedMs: number }> {
  const started = Date.now();
  const deadline = started + options.waitMs;
  for (;;) {
    const report = await target.proxyStatus(options);
    options.onReading?.(report);
    if (report.ok || !report.installed || Date.now() >= deadline || options.signal?.aborted) return { report, waitedMs: Date.now() - started };
    const pause = Math.min(options.intervalMs ?? 500, Math.max(0, deadline - Date.now()));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pause);
      options.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}
