// Files that can be rebuilt from the mesh home's stored state (a proxy's Lua program, route maps and
// compiled state: the agent recompiles them from the stored revision and rewrites whichever differs
// before it starts a proxy) need not reach the disk one by one: a reader still sees the old content
// or the new one, never a torn file, and only a machine crash can lose the write, after which the
// agent's start rebuilds it. Skipping the two syncs of writeFileAtomic is what lets a change reach
// many proxies at once.
import { promises as fs } from 'node:fs';
import path from 'node:path';

let sequence = 0;

/** Writes `data` to `file` through a temp file beside it (mode set before the first byte) and a rename, without syncing. */
export async function replaceRebuildableFile(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.r${++sequence}.tmp`);
  try {
    await fs.writeFile(tmp, data, { mode, flag: 'wx' });
    await fs.chmod(tmp, mode);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
