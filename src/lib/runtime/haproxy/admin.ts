// A proxy's admin HTTP port: readiness, the revision it serves, Prometheus metrics.
import http from 'node:http';

export interface AdminAnswer {
  status: number;
  /** The x-mesh-revision header (-1 when missing). */
  revision: number;
  body: string;
}

/** GET `path` on the admin port (127.0.0.1); rejects when nothing answers within `timeoutMs`. */
export function adminGet(port: number, path: string, timeoutMs = 2000): Promise<AdminAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => {
        const h = res.headers['x-mesh-revision'];
        const revision = typeof h === 'string' && /^-?\d+$/.test(h) ? Number(h) : -1;
        resolve({ status: res.statusCode ?? 0, revision, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`The admin port ${port} did not answer ${path} within ${timeoutMs} ms.`)));
    req.on('error', reject);
  });
}

/** The revision a proxy serves now; null when its admin port does not answer. */
export async function servedRevision(port: number): Promise<number | null> {
  try {
    const a = await adminGet(port, '/revision');
    return a.revision;
  } catch {
    return null;
  }
}

/** Readiness: 200 when the proxy runs and (sidecars) its app is up. */
export async function isReady(port: number): Promise<boolean> {
  try {
    return (await adminGet(port, '/ready')).status === 200;
  } catch {
    return false;
  }
}

/** Prometheus text from the proxy's exporter. */
export async function fetchMetrics(port: number): Promise<string> {
  const a = await adminGet(port, '/metrics', 5000);
  if (a.status !== 200) throw new Error(`The admin port ${port} answered /metrics with ${a.status}.`);
  return a.body;
}

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

/**
 * Polls `probe` until it returns a value other than undefined, or `timeoutMs` passes (then throws
 * with `what`). `abort` ends the wait early with its own error (e.g. the process exited).
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, options: { timeoutMs?: number; intervalMs?: number; abort?: () => Error | null } = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let interval = Math.min(options.intervalMs ?? 20, 20);
  for (;;) {
    const failed = options.abort?.();
    if (failed) throw failed;
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw new WaitTimeoutError(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, interval));
    interval = Math.min(interval * 2, options.intervalMs ?? 200);
  }
}

/**
 * Waits until the admin port reports `revision` or later. Asked every 25 ms at most: reloads run a
 * bounded number at a time, and the slack of a looser poll would add up over every turn.
 */
export function waitForRevision(port: number, revision: number, options: { timeoutMs?: number; abort?: () => Error | null } = {}): Promise<number> {
  return waitFor(`the proxy on admin port ${port} to serve revision ${revision}`, async () => {
    const r = await servedRevision(port);
    return r !== null && r >= revision ? r : undefined;
  }, { intervalMs: 25, ...options });
}
