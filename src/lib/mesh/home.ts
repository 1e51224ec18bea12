// The mesh home: one directory holding everything a local mesh is (its CA, configuration, applied
// resources with their history, pods, logs and the agent's socket). This file names every path in it.
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { usageError } from '../errors.js';

export const HOME_ENV = 'MESHCTL_HOME';

/** `--home`, else $MESHCTL_HOME, else ~/.meshctl; always absolute. */
export function resolveHome(flag?: string): string {
  // An empty --home (an unset shell variable) must not quietly mean the default home.
  if (flag !== undefined && !flag.trim()) throw usageError(`--home is empty; pass the mesh home directory, or leave the flag out to use $${HOME_ENV} or ~/.meshctl.`);
  const chosen = flag || process.env[HOME_ENV] || path.join(os.homedir(), '.meshctl');
  return path.resolve(chosen);
}

/** Refuses a home path that is a file (exit 2): every file inside it would fail with ENOTDIR instead. */
export function refuseFileHome(layout: HomeLayout): void {
  let isFile = false;
  try {
    isFile = !statSync(layout.root).isDirectory();
  } catch {
    return;
  }
  if (isFile) throw usageError(`The mesh home ${layout.root} is a file, not a directory; pass the mesh home directory with --home (or $${HOME_ENV}).`);
}

export interface PodPaths {
  dir: string;
  appPid: string;
  proxyPid: string;
  appLog: string;
  /** The app's output from its run before the current one (logs --previous). */
  appPreviousLog: string;
  proxyLog: string;
}

export interface HomeLayout {
  root: string;
  /** The mesh configuration; its presence means the mesh is installed. */
  configFile: string;
  caDir: string;
  stateDir: string;
  /** The applied resources at the current revision. */
  appliedFile: string;
  /** One snapshot per revision, for diff --live and rollback. */
  revisionsDir: string;
  /** Desired pods with their ports. */
  podsFile: string;
  podsDir: string;
  /** Ingress gateway proxies, one directory each. */
  gatewaysDir: string;
  agentDir: string;
  agentSocket: string;
  agentPid: string;
  agentLog: string;
  lockFile: string;
  pod(name: string): PodPaths;
  gateway(namespace: string, name: string): string;
  revisionFile(revision: number): string;
}

export function homeLayout(root: string): HomeLayout {
  const stateDir = path.join(root, 'state');
  const podsDir = path.join(root, 'pods');
  const agentDir = path.join(root, 'agent');
  return {
    root,
    configFile: path.join(root, 'mesh.json'),
    caDir: path.join(root, 'ca'),
    stateDir,
    appliedFile: path.join(stateDir, 'applied.json'),
    revisionsDir: path.join(stateDir, 'revisions'),
    podsFile: path.join(stateDir, 'pods.json'),
    podsDir,
    gatewaysDir: path.join(root, 'gateways'),
    agentDir,
    agentSocket: path.join(agentDir, 'agent.sock'),
    agentPid: path.join(agentDir, 'agent.pid'),
    agentLog: path.join(agentDir, 'agent.log'),
    lockFile: path.join(root, 'lock'),
    pod(name: string): PodPaths {
      const dir = path.join(podsDir, name);
      return {
        dir,
        appPid: path.join(dir, 'app.pid'),
        proxyPid: path.join(dir, 'proxy.pid'),
        appLog: path.join(dir, 'app.log'),
        appPreviousLog: path.join(dir, 'app.previous.log'),
        proxyLog: path.join(dir, 'proxy.log'),
      };
    },
    gateway(namespace: string, name: string): string {
      return path.join(root, 'gateways', `${namespace}.${name}`);
    },
    revisionFile(revision: number): string {
      return path.join(stateDir, 'revisions', `${String(revision).padStart(6, '0')}.json`);
    },
  };
}

/**
 * UNIX socket paths are limited (104 bytes on macOS, 108 on Linux); a home whose socket would not fit is
 * refused at install with a sentence rather than failing later inside the agent.
 */
export const MAX_SOCKET_PATH = 103;

export function socketPathFits(layout: HomeLayout, longestPod = 'productpage-v1-10-abcd'): boolean {
  // The longest socket a proxy opens in its directory is `in-plain.sock`.
  const podSocket = path.join(layout.pod(longestPod).dir, 'in-plain.sock');
  return Buffer.byteLength(layout.agentSocket) <= MAX_SOCKET_PATH && Buffer.byteLength(podSocket) <= MAX_SOCKET_PATH;
}
