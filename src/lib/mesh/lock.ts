// The mesh home's lock: one writer at a time across meshctl processes (the CLI and the agent). The lock
// file names its holder, so a lock left by a process that died is taken over instead of blocking forever.
import { claimPidFile, readPidFile, releasePidFile } from '../system/pid-file.js';
import { identify, waitFor } from '../system/processes.js';

export class LockTimeout extends Error {
  override name = 'LockTimeout';
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
  const got = await waitFor(() => claimPidFile(file, me), timeoutMs, 20);
  if (!got) {
    const holder = await readPidFile(file);
    throw new LockTimeout(
      `Another meshctl process${holder ? ` (pid ${holder.pid})` : ''} holds the lock ${file}; wait for it to finish, or remove the file if no meshctl process runs.`,
    );
  }
  try {
    return await fn();
  } finally {
    await releasePidFile(file, process.pid);
  }
}
