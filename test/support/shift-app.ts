// The app behind every pod of the traffic-shift tests: answers with its version in x-version; with
// FAIL_EVERY=n every n-th request gets a 500, with DELAY_MS=m every answer waits m ms.
import http from 'node:http';

const version = process.env.VERSION ?? 'v1';
const failEvery = Number(process.env.FAIL_EVERY ?? 0);
const delayMs = Number(process.env.DELAY_MS ?? 0);
let served = 0;

const server = http.createServer((req, res) => {
  req.resume();
  const n = ++served;
  const answer = () => {
    const fail = failEvery > 0 && n % failEvery === 0;
    res.writeHead(fail ? 500 : 200, { 'content-type': 'text/plain', 'x-version': version });
    res.end(`${version}${fail ? ' failed' : ''}\n`);
  };
  if (delayMs > 0) setTimeout(answer, delayMs);
  else answer();
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 9080), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
