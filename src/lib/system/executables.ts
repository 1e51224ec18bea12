// Finding programs on this machine: whether a file can be run, and where PATH finds a name.
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';

/** True when `file` is a regular file this process may execute. */
export async function executable(file: string): Promise<boolean> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) return false;
    await fs.access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds `name` on a PATH string; null when absent. */
export async function which(name: string, pathValue = process.env.PATH ?? ''): Promise<string | null> {
  for (const dir of pathValue.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (await executable(file)) return file;
  }
  return null;
}
