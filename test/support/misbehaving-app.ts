// Ways an echo app misbehaves on request, for the retry and timeout tests: a request with
// `x-echo-fail: <how>` is answered badly, each request told apart by its x-request-id.
//   first-503   the first arrival of a request id gets 503, later ones the normal answer
//   flaky       503 or the normal answer, drawn from a seeded generator (p = 0.5): the same
//               sequence of arrivals fails the same way on every run
//   always-503  every arrival gets 503
//   hang-first  the first arrival of a request id is held for 5 s, later ones answered at once
//   hang        every arrival is held for 5 s
//   trickle     headers at once, then one byte every 100 ms for 1.5 s
//   reset       the connection is reset without an answer
import type http from 'node:http';

const arrivals = new Map<string, number>();
let seed = 0x5eed;

/** mulberry32: a small seeded generator, enough for a reproducible coin. */
function nextRandom(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Restarts the seeded sequence (a test that counts on it calls this first). */
export function reseedFlakyApps(value = 0x5eed): void {
  seed = value;
}

/** Answers the request badly when it asks so; false when it did not (answer it normally). */
export function misbehave(req: http.IncomingMessage, res: http.ServerResponse, reply: () => void): boolean {
  const how = String(req.headers['x-echo-fail'] ?? '');
  if (!how) return false;
  const id = String(req.headers['x-request-id'] ?? '');
  const arrival = (arrivals.get(id) ?? 0) + 1;
  arrivals.set(id, arrival);
  const fail503 = () => {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('failing on purpose\n');
  };
  switch (how) {
    case 'first-503':
      if (arrival === 1) fail503();
      else reply();
      return true;
    case 'flaky':
      if (nextRandom() < 0.5) fail503();
      else reply();
      return true;
    case 'always-503':
      fail503();
      return true;
    case 'hang':
    case 'hang-first': {
      if (how === 'hang-first' && arrival > 1) {
        reply();
        return true;
      }
      const timer = setTimeout(reply, 5000);
      res.on('close', () => clearTimeout(timer));
      return true;
    }
    case 'trickle': {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      let sent = 0;
      const timer = setInterval(() => {
        res.write('x');
        if (++sent >= 15) {
          clearInterval(timer);
          res.end('\n');
        }
      }, 100);
      res.on('close', () => clearInterval(timer));
      return true;
    }
    case 'reset':
      req.socket.resetAndDestroy();
      return true;
    default:
      return false;
  }
}
