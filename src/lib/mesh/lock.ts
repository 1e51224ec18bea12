// The mesh home's lock: one writer at a time across meshctl processes (the CLI and the agent). The lock
// file names its holder, so a lock left by a process that died is taken over instead of blocking forever.
import { promises as fs } from 'node:fs';
import { identify, isRunning, waitFor, type ProcessIdentity } from '../system/processes.js';

export class LockTimeout extends Error {
  override name = 'LockTimeout';
}

async function readHolder(file: string): Promise<ProcessIdentity | null> {
  try {
    const holder = JSON.parse(await fs.readFile(file, 'utf8')) as ProcessIdentity;
    return typeof holder.pid === 'number' ? holder : null;
  } catch {
    return null;
  }
}

async function tryAcquire(file: string, me: ProcessIdentity): Promise<boolean> {
  try {
    const handle = await fs.open(file, 'wx', 0o600);
    await handle.writeFile(JSON.stringify(me));
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const holder = await readHolder(file);
  // A holder that died, or a lock file still being written by its holder (null, young): only the first is stale.
  if (holder && !isRunning(holder)) {
    // Rename first so that two processes taking over the same stale lock cannot both win.
    const stale = `${file}.stale.${process.pid}`;
    try {
      await fs.rename(file, stale);
      await fs.rm(stale, { force: true });
    } catch {
      return false;
    }
    return tryAcquire(file, me);
  }
  if (!holder) {
    const age = await fs.stat(file).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > 5000) await fs.rm(file, { force: true });
  }
  return false;
}

/**
 * Runs `fn` holding the lock at `file`; waits up to `timeoutMs` for another holder. Callers in one process
 * queue behind each other first, so the file is only contended between processes. Not re-entrant.
 */
export function withLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const run = previous.then(() => holdFileLock(file, fn, timeoutMs));
  const settled = run.then(() => undefined, () => undefined);
  queues.set(file, settled);
  void settled.then(() => {
    if (queues.get(file) === settled) queues.delete(file);
  });
  return run;
}

const queues = new Map<string, Promise<void>>();

async function holdFileLock<T>(file: string, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const me = identify(process.pid);
  const got = await waitFor(() => tryAcquire(file, me), timeoutMs, 20);
  if (!got) {
    const holder = await readHolder(file);
    throw new LockTimeout(
      `Another meshctl process${holder ? ` (pid ${holder.pid})` : ''} holds the lock ${file}; wait for it to finish, or remove the file if no meshctl process runs.`,
    );
  }
  try {
    return await fn();
  } finally {
    const holder = await readHolder(file);
    if (holder?.pid === process.pid) await fs.rm(file, { force: true });
  }
}
