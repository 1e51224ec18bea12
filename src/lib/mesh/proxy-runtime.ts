// Where install looks for the proxy runtime (--proxy-bin, then PATH; after a package install also the
// sbin directories: runtime/haproxy/binary.ts lists them) and, when it is missing, the package-manager commands that install it. Whether a
// binary is suitable is runtime/haproxy's call. Nothing here runs a package manager: install.ts does.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { candidatePaths, MIN_HAPROXY_VERSION } from '../runtime/haproxy/binary.js';
import { executable, which } from '../system/executables.js';

export const MIN_VERSION_TEXT = `${MIN_HAPROXY_VERSION.major}.${MIN_HAPROXY_VERSION.minor}`;

export interface RuntimeFound {
  bin: string;
  version: string;
  /** How it was found: the --proxy-bin flag or a PATH lookup. */
  source: 'flag' | 'path';
}

export interface RuntimeCandidate {
  bin: string;
  source: 'flag' | 'path';
  /** Why the candidate is not usable, as a clause ("does not exist", "is version 2.4.1, older than 2.6"). */
  problem: string | null;
  version: string | null;
}

export interface RuntimeSearch {
  found: RuntimeFound | null;
  /** Everything looked at, usable or not, in order. */
  candidates: RuntimeCandidate[];
}

async function probe(bin: string, source: 'flag' | 'path'): Promise<RuntimeCandidate> {
  if (!(await executable(bin))) {
    const exists = await fs.stat(bin).then(() => true, () => false);
    return { bin, source, version: null, problem: `${bin} ${exists ? 'is not an executable file' : 'does not exist'}` };
  }
  // Whether a binary can run a meshctl proxy (version, Lua, OpenSSL, Prometheus exporter) is the runtime's call.
  const { findHaproxy } = await import('../runtime/haproxy/binary.js');
  try {
    const found = await findHaproxy({ proxyBin: bin });
    return { bin, source, version: found.version.text, problem: null };
  } catch (err) {
    return { bin, source, version: null, problem: (err as Error).message.replace(/\.$/, '') };
  }
}

/**
 * Looks for a usable HAProxy: `--proxy-bin` first, then `haproxy` on PATH. After a package install,
 * `afterInstall` also searches the directories package managers install into, which PATH may lack.
 */
export async function findRuntime(options: { proxyBin?: string; pathValue?: string; afterInstall?: boolean } = {}): Promise<RuntimeSearch> {
  const candidates: RuntimeCandidate[] = [];
  const seen = new Set<string>();
  const consider = async (bin: string, source: 'flag' | 'path') => {
    const abs = path.resolve(bin);
    if (seen.has(abs)) return null;
    seen.add(abs);
    const c = await probe(abs, source);
    candidates.push(c);
    return c.problem ? null : c;
  };
  if (options.proxyBin) {
    const c = await consider(options.proxyBin, 'flag');
    if (c) return { found: { bin: c.bin, version: c.version!, source: 'flag' }, candidates };
  }
  const pathValue = options.pathValue ?? process.env.PATH ?? '';
  for (const file of candidatePaths({ PATH: pathValue }, { packageDirs: options.afterInstall === true })) {
    if (!(await executable(file))) continue;
    const c = await consider(file, 'path');
    if (c) return { found: { bin: c.bin, version: c.version!, source: 'path' }, candidates };
  }
  return { found: null, candidates };
}

export type PackageManagerName = 'apt-get' | 'dnf' | 'yum' | 'apk' | 'brew';

export interface PackageInstallPlan {
  manager: PackageManagerName;
  /** The commands, each an argv, exactly as they will run. */
  commands: string[][];
}

const MANAGERS: { name: PackageManagerName; commands: (pkg: string) => string[][]; root: boolean }[] = [
  { name: 'apt-get', commands: (pkg) => [['apt-get', 'update'], ['apt-get', 'install', '-y', pkg]], root: true },
  { name: 'dnf', commands: (pkg) => [['dnf', 'install', '-y', pkg]], root: true },
  { name: 'yum', commands: (pkg) => [['yum', 'install', '-y', pkg]], root: true },
  { name: 'apk', commands: (pkg) => [['apk', 'add', pkg]], root: true },
  { name: 'brew', commands: (pkg) => [['brew', 'install', pkg]], root: false },
];

/** A program's package name under each package manager that has it (HAProxy's is `haproxy` everywhere). */
export type PackageNames = Partial<Record<PackageManagerName, string>>;
const HAPROXY_PACKAGES: PackageNames = { 'apt-get': 'haproxy', dnf: 'haproxy', yum: 'haproxy', apk: 'haproxy', brew: 'haproxy' };

/**
 * The package manager on this machine and the commands that install a program with it (HAProxy unless
 * told; through sudo when not root and sudo exists); null when none of the managers that have it is on PATH.
 */
export async function packageInstallPlan(pathValue = process.env.PATH ?? '', packages: PackageNames = HAPROXY_PACKAGES): Promise<PackageInstallPlan | null> {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = isRoot ? null : await which('sudo', pathValue);
  for (const m of MANAGERS) {
    const pkg = packages[m.name];
    if (!pkg || !(await which(m.name, pathValue))) continue;
    const commands = m.root && !isRoot && sudo ? m.commands(pkg).map((c) => ['sudo', ...c]) : m.commands(pkg);
    return { manager: m.name, commands };
  }
  return null;
}

export const SUPPORTED_MANAGERS = MANAGERS.map((m) => m.name);

/** A command line as a user would type it. */
export function shellLine(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** One clause on why no usable runtime was found, naming what was looked at. */
export function describeMissing(search: RuntimeSearch, pathValue = process.env.PATH ?? ''): string {
  const looked = search.candidates.map((c) => c.problem ?? c.bin);
  if (!search.candidates.some((c) => c.source === 'path')) looked.push(pathValue ? 'no haproxy on PATH' : 'PATH is empty');
  return looked.join('; ');
}
