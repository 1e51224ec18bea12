// meshctl logs: which files hold a pod's container output, printing their end, and following them.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { usageError } from '../errors.js';
import type { HomeLayout } from './home.js';
import { readLocalProxies } from './proxies.js';
import { offsetSince } from './log-times.js';
import { accessLogAsJsonLines } from '../runtime/haproxy/access-log.js';
import { proxyPaths } from '../runtime/haproxy/types.js';

const ACCESS_LOG_NAME = path.basename(proxyPaths('.').accessLog);
const isAccessLog = (file: string) => path.basename(file) === ACCESS_LOG_NAME;

/** What is printed of a file's text: a sidecar's access log as one JSON object per request, whatever layout the proxy wrote. */
function printable(file: string, text: string): string {
  return isAccessLog(file) ? accessLogAsJsonLines(text) : text;
}

export type Container = 'app' | 'proxy';

/**
 * The files of `pod`'s container, in the order they are printed; a gateway proxy has only `proxy`. With
 * `namespace` (-n), a pod of another namespace is not found; with `previous`, the app's run before this one.
 */
export async function logFiles(layout: HomeLayout, pod: string, container: Container, namespace?: string, previous = false): Promise<string[]> {
  const proxies = await readLocalProxies(layout);
  const proxy = proxies.find((p) => p.name === pod && p.kind === 'sidecar') ?? proxies.find((p) => p.name === pod);
  if (!proxy) {
    const names = proxies.map((p) => p.name);
    throw usageError(`There is no pod named "${pod}" (pods: ${names.length ? names.join(', ') : 'none'}).`);
  }
  if (namespace !== undefined && proxy.namespace !== namespace) {
    throw usageError(`There is no pod named "${pod}" in namespace ${namespace}; it is in namespace ${proxy.namespace} (drop -n, or pass -n ${proxy.namespace}).`);
  }
  if (container === 'proxy') {
    if (previous) throw usageError("--previous reads the app container's run before the current one; a proxy keeps one log across restarts, so drop --previous or use --container app.");
    return [proxy.paths.proxyLog, proxy.paths.accessLog];
  }
  if (proxy.kind === 'gateway') throw usageError(`${pod} is a gateway proxy and has no app container; use --container proxy.`);
  if (!previous) return [layout.pod(pod).appLog];
  const file = layout.pod(pod).appPreviousLog;
  if (!(await fs.stat(file).then(() => true, () => false))) throw usageError(`The app of pod ${pod} has not been restarted, so it has no previous run to show; drop --previous.`);
  return [file];
}

/** True while the placement of `layout` still has a pod or gateway proxy named `pod`. */
export async function podStillPlaced(layout: HomeLayout, pod: string): Promise<boolean> {
  // A home that cannot be read this moment says nothing about the pod: only a placement without it ends a follow.
  const proxies = await readLocalProxies(layout).catch(() => null);
  return proxies === null || proxies.some((p) => p.name === pod);
}

/** Refuses a negative --tail (kubectl's -1 for "all" is leaving the flag out here). */
export function checkTail(lines: number | undefined): void {
  if (lines !== undefined && lines < 0) throw usageError(`--tail ${lines} is negative; pass a number of lines, 0 or more (leave it out for the whole log).`);
}

/**
 * The last `lines` lines of a file (all of it when undefined; none for 0, as kubectl), of what was written
 * since `sinceMs` (epoch ms) when given; '' when it does not exist yet. `readUpTo` receives the offset the
 * read ended at, where a follow goes on without losing or repeating a line.
 */
export async function tail(file: string, lines?: number, sinceMs?: number, readUpTo?: Map<string, number>): Promise<string> {
  checkTail(lines);
  let text: string;
  try {
    if (lines === 0) {
      readUpTo?.set(file, (await fs.stat(file)).size);
      return '';
    }
    if (sinceMs === undefined) {
      const bytes = await fs.readFile(file);
      readUpTo?.set(file, bytes.length);
      text = bytes.toString('utf8');
    } else {
      const handle = await fs.open(file, 'r');
      try {
        const from = await offsetSince(file, sinceMs);
        const { size } = await handle.stat();
        const buffer = Buffer.alloc(Math.max(0, size - from));
        await handle.read(buffer, 0, buffer.length, from);
        readUpTo?.set(file, size);
        text = buffer.toString('utf8');
      } finally {
        await handle.close();
      }
    }
  } catch {
    return '';
  }
  text = printable(file, text);
  if (lines === undefined) return text;
  const all = text.split('\n');
  if (all[all.length - 1] === '') all.pop();
  return all.length ? `${all.slice(-lines).join('\n')}\n` : '';
}

/**
 * Writes what is appended to `files` from now on, until `signal` aborts or `stillThere()` says the pod
 * is gone. A file that shrinks (rotated) is read again from its start.
 */
export async function follow(files: string[], write: (text: string) => Promise<void>, options: { signal: AbortSignal; stillThere: () => Promise<boolean>; intervalMs?: number; from?: Map<string, number> }): Promise<void> {
  const offsets = new Map<string, number>();
  for (const f of files) offsets.set(f, options.from?.get(f) ?? await fs.stat(f).then((s) => s.size, () => 0));
  let checks = 0;
  while (!options.signal.aborted) {
    for (const f of files) {
      const size = await fs.stat(f).then((s) => s.size, () => 0);
      let from = offsets.get(f) ?? 0;
      if (size < from) from = 0;
      if (size > from) {
        const handle = await fs.open(f, 'r');
        let to = size;
        try {
          const buffer = Buffer.alloc(size - from);
          await handle.read(buffer, 0, buffer.length, from);
          // An access-log line is rewritten whole, so one still being written waits for the next look.
          if (isAccessLog(f)) to = from + buffer.lastIndexOf(0x0a) + 1;
          if (to > from) await write(printable(f, buffer.subarray(0, to - from).toString('utf8')));
        } finally {
          await handle.close();
        }
        offsets.set(f, to);
      }
    }
    if (++checks % 10 === 0 && !(await options.stillThere())) return;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}
