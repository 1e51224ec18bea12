// The agent's socket server: reads one JSON request per connection, answers with one JSON line. The
// socket is mode 0600 inside the home (itself 0700): only the mesh's owner talks to the agent.
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { MeshctlError, EXIT } from '../../errors.js';
import type { Method, RequestMessage, Requests, ResponseMessage } from './protocol.js';

export type Handlers = { [M in Method]: (params: Requests[M]['params']) => Promise<Requests[M]['result']> };

const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

export async function serve(socketPath: string, handlers: Handlers, log: (line: string) => void): Promise<net.Server> {
  // Only the agent that owns the home's pid file gets here, so a socket file left behind is stale.
  await fs.rm(socketPath, { force: true });
  const server = net.createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST_BYTES) {
        socket.destroy();
        return;
      }
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      socket.pause();
      const line = buffer.slice(0, nl);
      void answer(line, handlers, log).then((response) => socket.end(`${JSON.stringify(response)}\n`));
    });
  });
  const oldUmask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(oldUmask);
  }
  await fs.chmod(socketPath, 0o600);
  return server;
}

async function answer(line: string, handlers: Handlers, log: (line: string) => void): Promise<ResponseMessage> {
  let message: RequestMessage;
  try {
    message = JSON.parse(line) as RequestMessage;
  } catch {
    return { ok: false, error: 'The request is not valid JSON.', exitCode: EXIT.usage };
  }
  const handler = handlers[message.method] as ((p: unknown) => Promise<unknown>) | undefined;
  if (!handler) return { ok: false, error: `The mesh agent does not know the request "${String(message.method)}"; is meshctl newer than the running agent? Run meshctl install again.`, exitCode: EXIT.usage };
  try {
    return { ok: true, result: (await handler(message.params ?? {})) as never };
  } catch (err) {
    if (err instanceof MeshctlError) return { ok: false, error: err.message, exitCode: err.exitCode };
    log(`${message.method} failed: ${(err as Error).stack ?? String(err)}`);
    return { ok: false, error: `The mesh agent failed on ${message.method}: ${(err as Error).message}`, exitCode: EXIT.environment };
  }
}
