// The spawner process of processes.ts (spawnDetachedFromSpawner): a small process of its own that forks
// the processes it is asked to start, answers each with its pid (or the spawn's error), then with its
// exit. A fork copies the page tables of the process that forks and the child tears them down again at
// exec; done from here rather than from the mesh agent (whose memory grows with the mesh), each start
// costs a fraction of the CPU. It ends with the process that started it: what it started runs on.
import { spawnDetachedNow, type DetachedCommand, type SpawnerMessage } from './processes.js';

process.title = 'meshctl-spawner';
const answer = (m: SpawnerMessage) => {
  // A parent already gone is told nothing: this process is about to end.
  if (process.connected) process.send!(m, undefined, undefined, () => undefined);
};

process.on('message', ({ id, spec }: { id: number; spec: DetachedCommand }) => {
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
  // The processes it started do not keep it running once its parent is gone.
  child.unref();
});
process.on('disconnect', () => process.exit(0));
