// The little HTTP both bookinfo tiers need, with no dependency: a JSON server on $PORT and calls to
// other services through the pod's sidecar ($MESH_OUTBOUND_URL), passing on the headers that tie a
// request together (routing headers such as end-user, and tracing ids).
import http from 'node:http';

const outbound = new URL(process.env.MESH_OUTBOUND_URL || 'http://127.0.0.1:15001');
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

export const identity = {
  version: process.env.VERSION || 'v1',
  pod: process.env.POD_NAME || 'local',
};

const FORWARDED = ['end-user', 'x-request-id', 'traceparent', 'tracestate', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'cookie', 'user-agent'];

/** GET http://<host><path> through the sidecar; resolves with { status, body } (body parsed as JSON when it is). */
export function call(host, path, incoming) {
  const headers = { host };
  for (const name of FORWARDED) {
    const value = incoming.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  return new Promise((resolve) => {
    const req = http.request({ host: outbound.hostname, port: outbound.port, path, method: 'GET', headers, agent: keepAlive, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let body = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Not JSON: an error page from the proxy, kept as text.
        }
        resolve({ status: res.statusCode, body });
      });
      res.on('error', (err) => resolve({ status: 0, body: String(err.message) }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ status: 0, body: String(err.message) }));
    req.end();
  });
}

export function sendJson(res, status, value) {
  const text = `${JSON.stringify(value)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Serves `handler(req, res, url)` on $PORT (127.0.0.1); /health answers for readiness. Stops cleanly on SIGTERM. */
export function serve(name, handler) {
  const port = Number(process.env.PORT || 9080);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url || '/', 'http://local');
    if (url.pathname === '/health') return sendJson(res, 200, { service: name, ...identity, status: 'ok' });
    Promise.resolve(handler(req, res, url)).catch((err) => sendJson(res, 500, { service: name, ...identity, error: String(err && err.message) }));
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => console.log(`${name} ${identity.version} (${identity.pod}) listening on 127.0.0.1:${port}`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  return server;
}
