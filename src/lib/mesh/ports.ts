// Loopback port assignment for pods and gateway proxies. Ports are picked once, when a pod is created,
// and kept in the state store, so a restarted app or sidecar comes back on the same ports.
import { readFileSync } from 'node:fs';
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

/** The range the kernel draws outgoing connections' source ports from (Linux), else IANA's dynamic range. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low > 0 && high >= low) return [low, high];
  } catch {
    // Not Linux: the kernel's range is not readable.
  }
  return [49152, 65535];
}

const LISTEN_LOW = 10_000;
let listenCursor: number | null = null;

/**
 * A free loopback port to listen on, taken below the kernel's ephemeral range: a port picked there can
 * never become the source port of some outgoing connection between the moment it is picked and the
 * moment its proxy or app binds it (with busy loopback traffic, a port picked from the ephemeral range
 * sometimes does). Ports are tried in order from a random start, so that two processes picking ports
 * at once rarely meet. Falls back to a port from the kernel when that range is too small or full.
 */
export async function listenPort(taken?: ReadonlySet<number>): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  const size = ephemeralLow - LISTEN_LOW;
  if (size < 1000) return ephemeralPort();
  for (let attempt = 0; attempt < 200; attempt++) {
    // One cursor for the process, advanced before each check: calls running at once never try the same port.
    const cursor: number = listenCursor ?? LISTEN_LOW + Math.floor(Math.random() * size);
    const port = LISTEN_LOW + ((cursor - LISTEN_LOW) % size);
    listenCursor = port + 1;
    if (taken?.has(port)) continue;
    if (await portFree(port)) return port;
  }
  return ephemeralPort();
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
      const port = await listenPort(this.taken);
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

/** Local addresses of /proc/net/tcp and /proc/net/tcp6 a connection to 127.0.0.1 reaches (as the kernel prints them). */
const LOOPBACK_REACHABLE: [file: string, addresses: string[]][] = [
  ['/proc/net/tcp', ['0100007F', '00000000']],
  ['/proc/net/tcp6', ['00000000000000000000000000000000', '0000000000000000FFFF00000100007F']],
];

/**
 * The TCP ports on which a connection to 127.0.0.1 would be accepted now (a socket listening on
 * 127.0.0.1, 0.0.0.0, :: or ::ffff:127.0.0.1), read from the kernel's socket tables in one pass
 * (Linux): one read instead of one connection per port, and no connection for the listening program
 * to accept. Null where the tables cannot be read; the caller then connects (portListening).
 */
export function loopbackListeningPorts(): Set<number> | null {
  const ports = new Set<number>();
  for (const [file, reachable] of LOOPBACK_REACHABLE) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      // No IPv6 table is no IPv6 listener; no IPv4 table is no table to read.
      if (file.endsWith('tcp')) return null;
      continue;
    }
    for (const line of text.split('\n')) {
      // `0A` is TCP_LISTEN, and no other column of a line is that token.
      if (!line.includes(' 0A ')) continue;
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local) continue;
      const colon = local.indexOf(':');
      if (reachable.includes(local.slice(0, colon))) ports.add(parseInt(local.slice(colon + 1), 16));
    }
  }
  return ports;
}
