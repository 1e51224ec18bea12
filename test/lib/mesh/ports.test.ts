import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { loopbackListeningPorts, portListening } from '../../../src/lib/mesh/ports.js';

function listen(host: string, options: { ipv6Only?: boolean } = {}): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen({ host, port: 0, ...options }, () => resolve(server));
  });
}

const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;
const close = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

test('the socket tables name the ports a connection to 127.0.0.1 reaches, as a connection finds them', async () => {
  if (process.platform !== 'linux') {
    assert.equal(loopbackListeningPorts(), null, 'without the Linux tables, callers are told to connect');
    return;
  }
  const servers = [await listen('127.0.0.1'), await listen('0.0.0.0')];
  let dualStack: net.Server | null = null;
  try {
    dualStack = await listen('::');
    servers.push(dualStack);
  } catch {
    // A machine without IPv6: the two IPv4 listeners are enough.
  }
  const closed = await listen('127.0.0.1');
  const closedPort = portOf(closed);
  await close(closed);
  try {
    const ports = loopbackListeningPorts();
    assert.ok(ports, 'the tables are readable on Linux');
    for (const server of servers) {
      const port = portOf(server);
      assert.equal(ports.has(port), true, `port ${port} (${JSON.stringify(server.address())}) listens`);
      assert.equal(await portListening(port), true, 'and a connection to 127.0.0.1 is accepted there');
    }
    assert.equal(ports.has(closedPort), false, 'a port whose listener closed is not named');
    assert.equal(await portListening(closedPort), false);
  } finally {
    await Promise.all(servers.map(close));
  }
});
