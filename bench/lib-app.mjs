#!/usr/bin/env node
// The workload of the data-plane benchmark: a tiny dependency-free Node HTTP app answering every
// request with a fixed 1 KiB body (the payload size of Istio's published sidecar figures).
// `/whoami` answers with the x-forwarded-client-cert header it received, to check the mTLS path.
//
//   node bench/lib-app.mjs PORT...      (0 = any free port)
// Prints one JSON line once listening: {"ports":[...]} in argument order.
//   node bench/lib-app.mjs              (as a mesh Workload: listens on $PORT until SIGTERM)
import http from 'node:http';

const BODY = Buffer.alloc(1024, 'x');
BODY.write('ok\n');

function handler(req, res) {
  if (req.url === '/whoami') {
    const text = String(req.headers['x-forwarded-client-cert'] ?? '');
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
  res.end(BODY);
}

// A mesh Workload gets its port as PORT and no stdin: it lives until the mesh stops it.
const asWorkload = process.argv.length <= 2 && process.env.PORT !== undefined;
const wanted = asWorkload ? [Number(process.env.PORT)] : process.argv.slice(2).map(Number);
if (!wanted.length || wanted.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
  process.stderr.write('usage: lib-app.mjs PORT... (0 for any free port)\n');
  process.exit(2);
}

const servers = [];
const ports = await Promise.all(wanted.map((port) => new Promise((resolve, reject) => {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  server.on('error', reject);
  server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  servers.push(server);
})));
process.stdout.write(`${JSON.stringify({ ports })}\n`);

const stop = () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (!asWorkload) {
  // The benchmark closes this pipe when it ends: never outlive it.
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
