// Facts about operating-system processes that meshctl started: whether one still runs (a zombie or a
// recycled pid does not count), and stopping it with its children.
import { readdirSync, readFileSync } from 'node:fs';

/** What a pid file records: the pid and, where the OS tells, the process's start time (guards against pid reuse). */
export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (Linux /proc/<pid>/stat field 22); null where unknown. */
  startTime: number | null;
}

interface ProcStat {
  state: string;
  ppid: number;
  pgid: number;
  startTime: number;
}

function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]), pgid: Number(rest[2]), startTime: Number(rest[19]) };
}

const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** The identity of a running process, to record beside its pid. */
export function identify(pid: number): ProcessIdentity {
  return { pid, startTime: hasProc ? procStat(pid)?.startTime ?? null : null };
}

/** True when `pid` runs (not a zombie) and, when a start time was recorded, is still the same process. */
export function isRunning(who: ProcessIdentity | number): boolean {
  const { pid, startTime } = typeof who === 'number' ? { pid: who, startTime: null } : who;
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (hasProc) {
    const stat = procStat(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
    return startTime === null || stat.startTime === startTime;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids of the running processes whose process group is `pgid` (Linux; elsewhere only the leader). */
export function groupMembers(pgid: number): number[] {
  if (!hasProc) return isRunning(pgid) ? [pgid] : [];
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return isRunning(pgid) ? [pgid] : [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat && stat.pgid === pgid && stat.state !== 'Z' && stat.state !== 'X') out.push(Number(name));
  }
  return out;
}

/** Sends `signal` to the process group led by `pgid` (every process meshctl starts leads its own group), then to the pid. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  for (const target of [-pgid, pgid]) {
    try {
      process.kill(target, signal);
    } catch {
      // Already gone.
    }
  }
}

/** True when `who.pid` now names a different process than the one recorded. */
export function pidReused(who: ProcessIdentity): boolean {
  if (!hasProc || who.startTime === null) return false;
  const stat = procStat(who.pid);
  return stat !== null && stat.startTime !== who.startTime;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check()` is true or `timeoutMs` passed; returns the last answer. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= end) return false;
    await sleep(Math.min(intervalMs, Math.max(1, end - Date.now())));
  }
}

/**
 * Stops a process that leads its own group: SIGTERM to the group, then SIGKILL after `graceMs`. Only
 * called with identities from meshctl's own pid files, so nothing it did not start is touched.
 */
export async function stopGroup(who: ProcessIdentity, graceMs = 3000): Promise<void> {
  // A pid now used by another process (its start time differs) leads a group that is not ours.
  if (pidReused(who)) return;
  if (isRunning(who)) {
    signalGroup(who.pid, 'SIGTERM');
    if (await waitFor(() => !isRunning(who) && groupMembers(who.pid).length === 0, graceMs)) return;
  }
  // Children left behind by a leader that died (a proxy's workers, say) still carry its group id.
  signalGroup(who.pid, 'SIGKILL');
  await waitFor(() => !isRunning(who) && groupMembers(who.pid).length === 0, 2000);
}
