// A live local mesh for traffic-shift tests: installed in a temporary home, the shift policy applied with
// the shift app behind every pod; helpers to read what every sidecar serves, to put the route back, and to
// run `meshctl route shift` in the background while reading its NDJSON events as they come.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { makeHome, type E2eHome } from '../e2e/support.js';
import { BIN, ROOT } from './shared.js';
import { shiftPolicy, type ShiftPolicyOptions } from './shift-policy.js';
import { startLoad, type Load, type Sample } from './load.js';
import { proxyPaths } from '../../src/lib/runtime/haproxy/types.js';
import { readRouteWeights } from '../../src/lib/runtime/haproxy/weights.js';
import type { ShiftEvent } from '../../src/lib/shift/events.js';

export const SHIFT_APP = path.join(ROOT, 'dist', 'test', 'support', 'shift-app.js');

export interface ShiftMesh {
  h: E2eHome;
  /** The outbound listener of caller-N's sidecar (where the caller app sends its calls). */
  callerPort(replica?: number): Promise<number>;
  /** reviews' split route as every sidecar serves it now, by pod. */
  served(): Promise<Map<string, Record<string, number>>>;
  /** Applies the policy again with the split at `route` (ends nothing: abort a shift first). */
  reset(route?: Record<string, number | null>): Promise<void>;
  /** Runs meshctl route shift in the background. */
  startShift(args: string[]): RunningShift;
  stop(): Promise<void>;
}

export interface RunningShift {
  child: ChildProcess;
  events: ShiftEvent[];
  stderr(): string;
  /** Resolves with the first event that matches (rejects when the process ends first or after `timeoutMs`). */
  waitFor(match: (e: ShiftEvent) => boolean, timeoutMs?: number): Promise<ShiftEvent>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

interface Placement {
  pods: { name: string; namespace: string; ports: { admin: number; outbound: number } }[];
}

export async function startShiftMesh(prefix: string, options: ShiftPolicyOptions = {}): Promise<ShiftMesh> {
  const h = await makeHome(prefix);
  const children = new Set<ChildProcess>();
  const policyFile = path.join(h.dir, 'policy.yaml');
  const write = (route?: Record<string, number | null>) => fs.writeFile(policyFile, shiftPolicy({ ...options, command: ['node', SHIFT_APP], route: route ?? options.route }));
  const placement = async (): Promise<Placement> => JSON.parse(await fs.readFile(path.join(h.home, 'state', 'pods.json'), 'utf8')) as Placement;
  const stop = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
    await h.cleanup();
  };
  try {
    const install = await h.run(['install']);
    if (install.code !== 0) throw new Error(`install failed: ${install.stderr}`);
    await write();
    const applied = await h.run(['apply', '-f', policyFile, '--timeout', '60s']);
    if (applied.code !== 0) throw new Error(`apply failed: ${applied.stderr}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    h,
    async callerPort(replica = 0) {
      const pod = (await placement()).pods.find((p) => p.name === `caller-${replica}`);
      if (!pod) throw new Error(`no pod caller-${replica}`);
      return pod.ports.outbound;
    },
    async served() {
      const out = new Map<string, Record<string, number>>();
      await Promise.all((await placement()).pods.map(async (p) => {
        const target = { name: p.name, namespace: p.namespace, ports: { admin: p.ports.admin }, paths: proxyPaths(path.join(h.home, 'pods', p.name)) };
        const { routes } = await readRouteWeights(target);
        // The VirtualService's split by subset; an HTTPRoute's (compiled as the Service's mesh routes) by backend name.
        const split = routes.find((r) => r.virtualService?.name === 'reviews' && r.destinations.some((d) => d.subset === 'v1'))
          ?? routes.find((r) => r.virtualService?.name === 'mesh.reviews' && r.destinations.length > 1);
        if (!split) return;
        out.set(p.name, Object.fromEntries(split.destinations.map((d) => [d.subset || d.host.split('.')[0], d.weight])));
      }));
      return out;
    },
    async reset(route) {
      await write(route);
      const r = await h.run(['apply', '-f', policyFile, '--timeout', '60s']);
      if (r.code !== 0) throw new Error(`apply failed: ${r.stderr}`);
    },
    startShift(args) {
      const child = spawn(process.execPath, [BIN, 'route', 'shift', ...args, '--home', h.home, '-o', 'json'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      const events: ShiftEvent[] = [];
      let stdout = '';
      let stderr = '';
      let buffered = '';
      const waiters = new Set<() => void>();
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        buffered += d;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const lineText = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (lineText.trim()) events.push(JSON.parse(lineText) as ShiftEvent);
        }
        waiters.forEach((w) => w());
      });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
        child.on('close', (code, signal) => {
          children.delete(child);
          waiters.forEach((w) => w());
          resolve({ code, signal, stdout, stderr });
        });
      });
      let done = false;
      void exited.then(() => { done = true; });
      return {
        child,
        events,
        stderr: () => stderr,
        exited,
        waitFor(match, timeoutMs = 60_000) {
          return new Promise((resolve, reject) => {
            const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`no matching event within ${timeoutMs} ms; events: ${events.map((e) => e.type).join(', ')}; stderr: ${stderr}`)); }, timeoutMs);
            const check = () => {
              const hit = events.find(match);
              if (hit) {
                clearTimeout(timer);
                waiters.delete(check);
                resolve(hit);
              } else if (done || child.exitCode !== null || child.signalCode !== null) {
                clearTimeout(timer);
                waiters.delete(check);
                reject(new Error(`meshctl route shift ended before the event; events: ${events.map((e) => e.type).join(', ')}; stderr: ${stderr}`));
              }
            };
            waiters.add(check);
            check();
          });
        },
      };
    },
    stop,
  };
}

/**
 * A steady 100 rps from caller-0 to reviews (each run bounded to 60 s), one at a time: `stop` returns
 * its samples, `stopAny` (for after()) stops one a failed test left running.
 */
export function reviewsLoad(mesh: () => ShiftMesh): { start(): Promise<Load>; stop(): Promise<Sample[]>; stopAny(): Promise<void>; readonly current: Load | null } {
  let load: Load | null = null;
  return {
    async start() {
      load = startLoad({ port: await mesh().callerPort(), host: 'reviews', rps: 100, maxMs: 60_000 });
      return load;
    },
    async stop() {
      const samples = await load!.stop();
      load = null;
      return samples;
    },
    async stopAny() {
      await load?.stop();
      load = null;
    },
    get current() {
      return load;
    },
  };
}
