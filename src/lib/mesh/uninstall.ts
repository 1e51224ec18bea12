// meshctl uninstall: stops the agent, every app and every proxy the mesh started (by their pid files,
// nothing else), checks that none of the mesh's ports still listens, and removes the home unless the
// state is kept.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { EXIT, MeshctlError } from '../errors.js';
import type { HomeLayout } from './home.js';
import { readPidFile } from '../system/pid-file.js';
import { isRunning, stopGroup, waitFor } from '../system/processes.js';
import { portListening } from './ports.js';
import { readPlacement, type Placement } from './pods.js';
import { stopFromPidFile } from './supervisor.js';
import { agentAnswers, request } from './agent/client.js';

export interface UninstallResult {
  home: string;
  status: 'uninstalled' | 'not-installed';
  /** Pids stopped (agent, apps, proxies). */
  stopped: number[];
  keptState: boolean;
  removed: boolean;
}

/** Every pid file the mesh writes under its pods and gateways. */
async function pidFiles(layout: HomeLayout): Promise<string[]> {
  const out: string[] = [];
  for (const dir of [layout.podsDir, layout.gatewaysDir]) {
    let names: string[] = [];
    try {
      names = await fs.readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      for (const file of ['app.pid', 'proxy.pid']) {
        const p = path.join(dir, name, file);
        if (await fs.stat(p).then(() => true, () => false)) out.push(p);
      }
    }
  }
  return out;
}

/** Every loopback port the mesh's placement names (apps, listeners, admin ports, gateway listeners). */
export function meshPorts(placement: Placement): number[] {
  return [
    ...placement.pods.flatMap((p) => Object.values(p.ports)),
    ...placement.gateways.flatMap((g) => [g.ports.admin, ...Object.values(g.listeners)]),
  ];
}

export async function uninstall(layout: HomeLayout, options: { keepState: boolean; progress: (line: string) => void }): Promise<UninstallResult> {
  const result: UninstallResult = { home: layout.root, status: 'uninstalled', stopped: [], keptState: options.keepState, removed: false };
  const homeExists = await fs.stat(layout.root).then((s) => s.isDirectory(), () => false);
  if (!homeExists) return { ...result, status: 'not-installed' };
  const placement = await readPlacement(layout).catch(() => ({ pods: [], gateways: [] }) as Placement);
  const agent = await readPidFile(layout.agentPid);

  // The agent stops apps first, then proxies, and exits.
  if (await agentAnswers(layout)) {
    options.progress('Stopping the pods and the mesh agent...');
    try {
      const answer = await request(layout, 'shutdown', { stopPods: true }, 120_000);
      for (const s of answer.stopped) {
        options.progress(`  stopped ${s.name}${s.pid ? ` (pid ${s.pid})` : ''}`);
        if (s.pid) result.stopped.push(s.pid);
      }
    } catch (err) {
      options.progress(`The agent did not stop the pods (${(err as Error).message}); stopping them by their pid files.`);
    }
  }
  if (agent && isRunning(agent)) {
    if (!(await waitFor(() => !isRunning(agent), 5000, 25))) await stopGroup(agent, 2000);
    result.stopped.push(agent.pid);
  }
  // Whatever is left (the agent was dead, or failed half-way): stop it by its pid file.
  for (const file of await pidFiles(layout)) {
    const pid = await stopFromPidFile(file);
    if (pid !== null) result.stopped.push(pid);
  }
  const ports = meshPorts(placement);
  let listening: number[] = [];
  await waitFor(async () => {
    listening = [];
    for (const port of ports) if (await portListening(port, 300)) listening.push(port);
    return listening.length === 0;
  }, 5000, 100);
  if (listening.length) {
    throw new MeshctlError(
      `Every process meshctl started in ${layout.root} was stopped, but port${listening.length > 1 ? 's' : ''} ${listening.join(', ')} still listen${listening.length > 1 ? '' : 's'} on 127.0.0.1 (another program took ${listening.length > 1 ? 'them' : 'it'}); the home was kept, run meshctl uninstall again once they are free.`,
      EXIT.environment,
    );
  }
  await fs.rm(layout.agentSocket, { force: true });
  await fs.rm(layout.agentPid, { force: true });
  if (!options.keepState) {
    await fs.rm(layout.root, { recursive: true, force: true });
    result.removed = true;
  }
  return result;
}
