// When each part of a process's log was written. Apps write plain lines without timestamps, so the
// supervisor notes each log's size once a second while it grows (`<log>.times`: "epoch-ms size" lines);
// logs --since then starts at the size the log had at the cutoff. Lines written within a second before
// the cutoff may be included, never lines after it left out.
import { appendFileSync, promises as fs, renameSync, statSync } from 'node:fs';

export function logTimesFile(log: string): string {
  return `${log}.times`;
}

/** Notes the size of each log that grew since the last call. */
export class LogClock {
  private readonly sizes = new Map<string, number>();

  tick(logs: Iterable<string>, now = Date.now()): void {
    for (const log of logs) {
      let size: number;
      try {
        size = statSync(log).size;
      } catch {
        continue;
      }
      if (this.sizes.get(log) === size) continue;
      this.sizes.set(log, size);
      try {
        appendFileSync(logTimesFile(log), `${now} ${size}\n`, { mode: 0o600 });
      } catch {
        // A home being removed: nothing to note.
      }
    }
  }

  /** A log moved aside (rotated, or kept as the previous run's): its notes go with it. */
  moved(from: string, to: string): void {
    this.sizes.delete(from);
    try {
      renameSync(logTimesFile(from), logTimesFile(to));
    } catch {
      // No notes yet.
    }
  }
}

/** The byte offset of `log` from which everything was written at or after `cutoffMs` (0 when unknown). */
export async function offsetSince(log: string, cutoffMs: number): Promise<number> {
  let text: string;
  try {
    text = await fs.readFile(logTimesFile(log), 'utf8');
  } catch {
    return 0;
  }
  let offset = 0;
  for (const line of text.split('\n')) {
    const [time, size] = line.split(' ').map(Number);
    if (time === undefined || size === undefined || !Number.isFinite(time) || !Number.isFinite(size)) continue;
    if (time > cutoffMs) break;
    offset = size;
  }
  // A log truncated since its notes were taken is read from its start.
  const current = await fs.stat(log).then((s) => s.size, () => 0);
  return offset <= current ? offset : 0;
}
