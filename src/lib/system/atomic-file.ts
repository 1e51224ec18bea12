// The one durable file writer: a reader sees the old content or the new one, never a torn file, even
// when the writer dies mid-write or the machine loses power. Every file that crash safety relies on
// goes through it: the mesh home's state, pid files, CA and workload certificates, a proxy's compiled
// configuration, Lua weights and state, shift records.
import { chmodSync, promises as fs, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

let sequence = 0;

let ownerUmask: number | null = null;
/**
 * True when the mode given at open may not be the file's, so that a chmod must set it. An owner-only
 * mode (0600, the proxies' and certificates' files) is not narrowed by any umask that leaves the owner
 * reading and writing (022, 027, 077, and the 0177 the agent sets for a moment around its socket's
 * bind): then the chmod would be a syscall for nothing. Any other mode is set explicitly, since a umask
 * set for a moment elsewhere in the process could narrow it.
 */
function umaskNarrows(mode: number): boolean {
  if ((mode & ~0o600) !== 0) return true;
  if (ownerUmask === null) {
    try {
      ownerUmask = process.umask() & 0o600;
    } catch {
      // Where it cannot be read (a worker thread), assume it may narrow the mode.
      ownerUmask = 0o600;
    }
  }
  return (mode & ownerUmask) !== 0;
}

/** Writes `data` to `file`: temp file beside it (created with its mode, so no byte is ever readable by others), fsync, rename, fsync of the directory. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await writeFilesAtomic([{ file, data, mode }]);
}

/**
 * Writes several files the same way, with one fsync per directory for all their renames instead of one
 * each: what a proxy or a pod needs at start (certificate, configuration, maps, state) is written at
 * once. The renames are made in the order given (the file that says the others are complete goes last). Each
 * file is still whole or absent; the files are not one transaction (a crash may leave some
 * new and some old), as with one writeFileAtomic after another. `sync: false` leaves out the syncs, for
 * files the agent rebuilds from the stored revision at its start (a running proxy's Lua program, route
 * maps and compiled state on a runtime update, everything a proxy about to start reads): a reader still
 * sees the old content or the new, and only a machine crash can lose the write. Skipping them is what
 * lets a change reach many proxies at once.
 */
export async function writeFilesAtomic(files: { file: string; data: string | Uint8Array; mode?: number }[], options: { sync?: boolean } = {}): Promise<void> {
  const sync = options.sync ?? true;
  const temps = files.map(({ file }) => path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${++sequence}.tmp`));
  if (!sync) {
    writeAndRenameNow(files, temps);
    return;
  }
  const writes = await Promise.allSettled(files.map(async ({ data, mode = 0o644 }, i) => {
    const handle = await fs.open(temps[i]!, 'wx', mode);
    try {
      await handle.writeFile(data);
      if (umaskNarrows(mode)) await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }));
  try {
    const failed = writes.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) throw failed.reason;
    for (const [i, { file }] of files.entries()) await fs.rename(temps[i]!, file);
  } catch (err) {
    await Promise.all(temps.map((tmp) => fs.rm(tmp, { force: true })));
    throw err;
  }
  if (sync) await Promise.all([...new Set(files.map(({ file }) => path.dirname(file)))].map(syncDirectory));
}

/**
 * The unsynced writes, made at once on the calling thread: without a sync each file is an open, a write
 * and a close of the page cache, which cost less than handing each step to libuv's thread pool and
 * back (measured: about a third of the CPU for a proxy's dozen files). Renamed in the order given;
 * on a failure every temporary file is removed and the error thrown.
 */
function writeAndRenameNow(files: { file: string; data: string | Uint8Array; mode?: number }[], temps: string[]): void {
  try {
    for (const [i, { data, mode = 0o644 }] of files.entries()) {
      writeFileSync(temps[i]!, data, { flag: 'wx', mode });
      if (umaskNarrows(mode)) chmodSync(temps[i]!, mode);
    }
    for (const [i, { file }] of files.entries()) renameSync(temps[i]!, file);
  } catch (err) {
    for (const tmp of temps) rmSync(tmp, { force: true });
    throw err;
  }
}

export async function writeJsonAtomic(file: string, value: unknown, mode = 0o644): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, mode);
}

/** Reads a JSON file; `fallback` when it does not exist. A file that exists but does not parse is an error. */
export async function readJson<T>(file: string, fallback: T): Promise<T> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${file} is not valid JSON; restore it from the revision history or reinstall the mesh.`);
  }
}

/** Makes a rename inside `dir` durable (a no-op where directories cannot be opened for sync). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms and file systems refuse fsync on a directory; the rename itself is still atomic.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
