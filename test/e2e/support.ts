// Live local meshes for end-to-end tests: a temporary home per test, the bookinfo example copied with
// a free ingress port, and a cleanup that always runs uninstall and then kills, by pid, anything the
// mesh started that is still alive.
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { meshctlAsync, type CliResult, type CliOptions } from '../support/cli.js';
import { ROOT } from '../support/shared.js';
import { freePort, portClosed } from '../support/net.js';

export interface E2eHome {
  /** Temporary directory holding the home and test files. */
  dir: string;
  home: string;
  run(args: string[], options?: CliOptions): Promise<CliResult>;
  /** Every pid of the mesh seen so far (agent, apps, proxies). */
  pids: Set<number>;
  /** Every loopback port of the mesh seen so far. */
  ports: Set<number>;
  /** Records the pids and ports the mesh has now (from its pid files and placement). */
  record(): void;
  cleanup(): Promise<void>;
}

/** pid from a pid file (a number or JSON with `pid`). */
function readPid(file: string): number | null {
  return readPids(file)[0] ?? null;
}

/** The pids a pid file names: its process, then those a reload replaced that may still drain. */
function readPids(file: string): number[] {
  try {
    const text = readFileSync(file, 'utf8').trim();
    const record = /^\d+$/.test(text) ? { pid: Number(text) } : (JSON.parse(text) as { pid?: unknown; draining?: { pid?: unknown }[] });
    return [record.pid, ...('draining' in record ? record.draining ?? [] : []).map((d) => d.pid)].map(Number).filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

function pidFilesOf(home: string): string[] {
  const files = [path.join(home, 'agent', 'agent.pid'), path.join(home, 'addons', 'prometheus', 'prometheus.pid')];
  for (const sub of ['pods', 'gateways']) {
    let names: string[] = [];
    try {
      names = readdirSync(path.join(home, sub));
    } catch {
      continue;
    }
    for (const n of names) files.push(path.join(home, sub, n, 'app.pid'), path.join(home, sub, n, 'proxy.pid'));
  }
  return files;
}

interface ProcInfo {
  state: string;
  pgid: number;
}

function procInfo(pid: number): ProcInfo | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], pgid: Number(rest[2]) };
  } catch {
    return null;
  }
}

/** True when `pid` is a live process (zombies, already dead but not yet reaped by init, count as gone). */
export function alive(pid: number): boolean {
  const info = procInfo(pid);
  return info !== null && info.state !== 'Z' && info.state !== 'X';
}

/** Live processes whose process group is one of `pgids` (a process's children share its group). */
export function liveGroupMembers(pgids: Set<number>): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = procInfo(Number(name));
    if (info && pgids.has(info.pgid) && info.state !== 'Z' && info.state !== 'X') out.push(Number(name));
  }
  return out;
}

function placementPorts(home: string): number[] {
  try {
    const placement = JSON.parse(readFileSync(path.join(home, 'state', 'pods.json'), 'utf8')) as {
      pods: { ports: Record<string, number> }[];
      gateways: { ports: { admin: number }; listeners: Record<string, number> }[];
    };
    return [
      ...placement.pods.flatMap((p) => Object.values(p.ports)),
      ...placement.gateways.flatMap((g) => [g.ports.admin, ...Object.values(g.listeners)]),
    ];
  } catch {
    return [];
  }
}

export async function makeHome(prefix = 'mesh'): Promise<E2eHome> {
  // Short paths: UNIX socket paths inside the home are limited to about 100 bytes.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  const home = path.join(dir, 'home');
  const pids = new Set<number>();
  const ports = new Set<number>();
  const record = () => {
    for (const f of pidFilesOf(home)) for (const pid of readPids(f)) pids.add(pid);
    for (const p of placementPorts(home)) ports.add(p);
  };
  const run = async (args: string[], options: CliOptions = {}) => {
    const result = await meshctlAsync(args.includes('--home') ? args : [...args, '--home', home], { timeoutMs: 180_000, ...options });
    record();
    return result;
  };
  return {
    dir,
    home,
    run,
    pids,
    ports,
    record,
    async cleanup() {
      record();
      await meshctlAsync(['uninstall', '--yes', '--home', home], { timeoutMs: 120_000 }).catch(() => undefined);
      // Whatever survived (a test that failed half-way): kill it by the pids the mesh recorded.
      for (const pid of liveGroupMembers(pids)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
      for (const pid of pids) {
        if (!alive(pid)) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Copies examples/bookinfo into `dir` with the ingress Gateway on `port`; returns the copy's path. */
export async function bookinfoCopy(dir: string, port: number): Promise<string> {
  const target = path.join(dir, 'bookinfo');
  await fs.cp(path.join(ROOT, 'examples', 'bookinfo'), target, { recursive: true });
  const gateway = path.join(target, 'gateway.yaml');
  const text = await fs.readFile(gateway, 'utf8');
  const changed = text.replace(/number: 8080/, `number: ${port}`);
  if (changed === text) throw new Error('examples/bookinfo/gateway.yaml no longer has its server on port 8080');
  await fs.writeFile(gateway, changed);
  return target;
}

export { freePort, portClosed };

/** Polls `check` every `intervalMs` until it is true; throws with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The pid a pod's pid file names now. */
export function podPid(home: string, pod: string, container: 'app' | 'proxy'): number | null {
  return readPid(path.join(home, 'pods', pod, `${container}.pid`));
}

export function agentPid(home: string): number | null {
  return readPid(path.join(home, 'agent', 'agent.pid'));
}
