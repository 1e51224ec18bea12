// Loopback port assignment for pods and gateway proxies. Ports are picked once, when a pod is created,
// and kept in the state store, so a restarted app or sidecar comes back on the same ports.
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** Asks the kernel for a free loopback port (bind to 0, read, close). */
function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on `port` on loopback and it can be bound now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: LOOPBACK, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Hands out free loopback ports, never one already taken by the mesh (`reserved`) or handed out before. */
export class PortAllocator {
  private readonly taken: Set<number>;
  constructor(reserved: Iterable<number> = []) {
    this.taken = new Set(reserved);
  }

  reserve(port: number): void {
    this.taken.add(port);
  }

  async next(): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = await ephemeralPort();
      if (port && !this.taken.has(port)) {
        this.taken.add(port);
        return port;
      }
    }
    throw new Error('No free loopback port could be found; close some programs that listen on 127.0.0.1 and retry.');
  }
}

/** True when a TCP connection to `port` on loopback is accepted. */
export function portListening(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
