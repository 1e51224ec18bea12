// The spawner thread of processes.ts (spawnDetachedOffThread): it forks the processes it is asked to
// start, answers each with its pid (or the spawn's error), then with its exit.
import { parentPort } from 'node:worker_threads';
import { spawnDetachedNow, type DetachedCommand, type SpawnerMessage } from './processes.js';

const port = parentPort!;
const answer = (m: SpawnerMessage) => port.postMessage(m);

port.on('message', ({ id, spec }: { id: number; spec: DetachedCommand }) => {
  let child;
  try {
    child = spawnDetachedNow(spec);
  } catch (err) {
    answer({ id, error: { message: (err as Error).message, code: (err as NodeJS.ErrnoException).code } });
    return;
  }
  let spawned = false;
  child.once('spawn', () => {
    spawned = true;
    answer({ id, pid: child.pid! });
  });
  child.once('error', (err: NodeJS.ErrnoException) => {
    if (!spawned) answer({ id, error: { message: err.message, code: err.code } });
  });
  child.once('exit', (code, signal) => {
    if (spawned) answer({ id, exit: { code, signal } });
  });
});
