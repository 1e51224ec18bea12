// A load generator for live shift tests: a steady rate of requests through a sidecar, bounded in time
// and count, recording when each was sent and which version answered.
import http from 'node:http';

export interface Sample {
  /** When the request was sent (epoch ms). */
  sentAt: number;
  status: number;
  /** x-version of the answer ('' on a connection error). */
  version: string;
  error?: string;
}

export interface Load {
  samples: Sample[];
  /** Stops sending, waits for the requests in flight, returns every sample. */
  stop(): Promise<Sample[]>;
}

/** `rps` requests per second to 127.0.0.1:`port` with Host `host`, until stop() or `maxMs` (at most rps × maxMs requests). */
export function startLoad(o: { port: number; host: string; rps: number; maxMs: number; path?: string; headers?: Record<string, string> }): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  const started = Date.now();
  const limit = Math.round((o.rps * o.maxMs) / 1000);
  let stopped = false;
  let sent = 0;
  const one = (): Promise<void> => new Promise((resolve) => {
    const sentAt = Date.now();
    const req = http.request({ host: '127.0.0.1', port: o.port, path: o.path ?? '/', headers: { ...o.headers, host: o.host }, agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => {
        samples.push({ sentAt, status: res.statusCode ?? 0, version: String(res.headers['x-version'] ?? '') });
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => {
      samples.push({ sentAt, status: 0, version: '', error: err.message });
      resolve();
    });
    req.end();
  });
  const loop = (async () => {
    while (!stopped && sent < limit) {
      const due = started + (sent * 1000) / o.rps;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (stopped) break;
      sent++;
      const p = one().finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
      agent.destroy();
      return samples;
    },
  };
}

/** Samples that did not get a 2xx/3xx answer. */
export function failures(samples: Sample[]): Sample[] {
  return samples.filter((s) => s.status < 200 || s.status >= 400);
}
