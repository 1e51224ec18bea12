// The one pid-file format: a JSON object with the pid and the process's start time (which tells a
// recycled pid from the process that was recorded), plus whatever the writer keeps beside them.
import { promises as fs } from 'node:fs';
import { writeFilesAtomic } from './atomic-file.js';
import { isRunning, type ProcessIdentity } from './processes.js';

/**
 * Records `who` (and `extra`) in `file`, atomically, readable by the owner only. Without syncs: a pid
 * file speaks of processes that a machine crash ends, so after one it is stale whatever it says (its
 * start time tells so); the rename still shows readers the old record or the new, never a torn one.
 */
export async function writePidFile(file: string, who: ProcessIdentity, extra: object = {}): Promise<void> {
  await writeFilesAtomic([{ file, data: `${JSON.stringify({ ...extra, pid: who.pid, startTime: who.startTime }, null, 2)}\n`, mode: 0o600 }], { sync: false });
}

/**
 * What the pid file of a process that hands its place over to a successor (a proxy's reload) keeps
 * beside the identity: the first start, the hand-overs since, and the processes handed over from
 * that may still finish their work (whoever stops the process stops them too).
 */
export interface HandOverRecord extends ProcessIdentity {
  startedAt?: string;
  reloads?: number;
  draining?: ProcessIdentity[];
}

/**
 * What the successor's pid file carries of `before`, its predecessor's record (writePidFile sets the
 * identity over it): the first start, one reload more, the predecessor among the processes draining.
 */
export function successorRecord(before: HandOverRecord | null): Omit<HandOverRecord, 'pid' | 'startTime'> {
  const draining = before ? [...(before.draining ?? []), { pid: before.pid, startTime: before.startTime }].filter((who) => isRunning(who)) : [];
  return { ...before, startedAt: before?.startedAt ?? new Date().toISOString(), reloads: (before?.reloads ?? 0) + 1, draining };
}

/**
 * What a pid file records; null when it is absent or names no process. A file holding a bare pid
 * (as proxies' pid files did before) reads as that pid without a start time.
 */
export async function readPidFile<T extends ProcessIdentity = ProcessIdentity>(file: string): Promise<T | null> {
  let text: string;
  try {
    text = (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return null;
  }
  let record: Record<string, unknown>;
  if (/^\d+$/.test(text)) record = { pid: Number(text) };
  else {
    try {
      const parsed: unknown = JSON.parse(text);
      if (!parsed || typeof parsed !== 'object') return null;
      record = parsed as Record<string, unknown>;
    } catch {
      return null;
    }
  }
  const pid = record.pid;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return null;
  const startTime = typeof record.startTime === 'number' ? record.startTime : null;
  return { ...record, pid, startTime } as T;
}

/**
 * Creates `file` naming `me`, unless a live process holds it. A file naming a process that died is
 * taken over (renamed away first, so that two claimants of one stale file cannot both win); a file
 * that names no process yet is its holder's, being written, unless it is older than a few seconds.
 * True when `me` holds the file now.
 */
export async function claimPidFile(file: string, me: ProcessIdentity): Promise<boolean> {
  try {
    const handle = await fs.open(file, 'wx', 0o600);
    try {
      // No fsync: after a power loss an empty claim is old, and is taken over like a dead holder's.
      await handle.writeFile(JSON.stringify({ pid: me.pid, startTime: me.startTime }));
    } finally {
      await handle.close();
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const holder = await readPidFile(file);
  if (holder && !isRunning(holder)) {
    const stale = `${file}.stale.${process.pid}`;
    try {
      await fs.rename(file, stale);
      await fs.rm(stale, { force: true });
    } catch {
      return false;
    }
    return claimPidFile(file, me);
  }
  if (!holder) {
    const age = await fs.stat(file).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > UNWRITTEN_CLAIM_MS) await fs.rm(file, { force: true });
  }
  return false;
}

/** How long a claimed file may stay empty before it counts as left by a claimant that died. */
const UNWRITTEN_CLAIM_MS = 5000;

/** Removes `file` when it names `pid` (a claim is only ever released by its holder). */
export async function releasePidFile(file: string, pid: number): Promise<void> {
  if ((await readPidFile(file))?.pid === pid) await fs.rm(file, { force: true });
}
