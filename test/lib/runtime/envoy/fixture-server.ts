// A real HTTP server on 127.0.0.1 (port 0) that answers admin paths with recorded Envoy output, for tests.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SHARED } from '../../../support/shared.js';

export const FIXTURES = path.join(SHARED, 'fixtures', 'envoy-admin');

export function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

/** What the server answers for a path (with its query): a body and status, or a custom handler. */
export type Answer = { status?: number; body: string } | ((res: ServerResponse) => void);

export interface FixtureServer {
  url: string;
  /** Paths requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

export async function startAdmin(routes: Record<string, Answer>): Promise<FixtureServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    const answer = routes[url];
    if (answer === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`invalid path: ${url}\n`);
      return;
    }
    if (typeof answer === 'function') return answer(res);
    res.writeHead(answer.status ?? 200, { 'content-type': answer.body.trimStart().startsWith('{') ? 'application/json' : 'text/plain' });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback address where nothing listens: a port the OS gave and that was closed again. */
export async function closedPortUrl(): Promise<string> {
  const s = await startAdmin({});
  await s.close();
  return s.url;
}

/** The recorded admin API of an Istio proxy: its config dump, an old /clusters capture, test /stats. */
export function istioAdminRoutes(): Record<string, Answer> {
  return {
    '/ready': { body: 'LIVE\n' },
    '/server_info': { body: fixture('server_info.envoy-1.15-front-proxy-example.json') },
    '/config_dump?include_eds': { body: fixture('config_dump.istio-1.21-waypoint.json') },
    '/clusters?format=json': { body: fixture('clusters.json.istio-2019-capture.json') },
    '/stats?format=json': { body: fixture('stats.json.envoy-test-histograms.json') },
    '/stats/prometheus': { body: fixture('stats_prometheus.kuma-histograms.txt') },
  };
}
