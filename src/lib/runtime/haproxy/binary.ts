// The one place that finds the HAProxy binary and checks that it can run a meshctl proxy.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { executable } from '../../system/executables.js';
import { runCommand } from '../../system/processes.js';

export const MIN_HAPROXY_VERSION = { major: 2, minor: 6 } as const;

export interface HaproxyVersion {
  major: number;
  minor: number;
  patch: number;
  /** As printed, e.g. `2.6.12-1+deb12u4`. */
  text: string;
}

export interface HaproxyBinary {
  path: string;
  version: HaproxyVersion;
  features: { lua: boolean; prometheus: boolean; openssl: boolean; threads: boolean };
}

export class HaproxyNotFoundError extends Error {
  override name = 'HaproxyNotFoundError';
}

export class HaproxyUnsuitableError extends Error {
  override name = 'HaproxyUnsuitableError';
}

/** Parses the first line of `haproxy -v`/`-vv` ("HAProxy version 2.6.12-1+deb12u4 2026/10/17 - …"). */
export function parseHaproxyVersion(output: string): HaproxyVersion | null {
  const m = /HA-?Proxy version (\d+)\.(\d+)(?:\.(\d+))?(\S*)/i.exec(output);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), text: `${m[1]}.${m[2]}${m[3] !== undefined ? `.${m[3]}` : ''}${m[4]}` };
}

export function versionAtLeast(v: Pick<HaproxyVersion, 'major' | 'minor'>, min: { major: number; minor: number } = MIN_HAPROXY_VERSION): boolean {
  return v.major > min.major || (v.major === min.major && v.minor >= min.minor);
}

/** Features meshctl relies on, read from `haproxy -vv`. */
export function parseFeatures(vv: string): HaproxyBinary['features'] {
  return {
    lua: /\+LUA\b/.test(vv) || /Built with Lua version/i.test(vv),
    prometheus: /\+PROMEX\b/.test(vv) || /Prometheus exporter/i.test(vv),
    openssl: /\+OPENSSL\b/.test(vv) || /Built with OpenSSL/i.test(vv),
    threads: /\+THREAD\b/.test(vv) || /multi-threading support/i.test(vv),
  };
}

/** Where packages install HAProxy (sbin directories, which a user's PATH may lack). */
const PACKAGE_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/opt/homebrew/sbin', '/opt/homebrew/bin', '/usr/local/bin'];

/**
 * The one list of places `haproxy` is looked for, in order: PATH, then (unless `packageDirs` is
 * false) the directories packages install it to.
 */
export function candidatePaths(env: NodeJS.ProcessEnv = process.env, options: { packageDirs?: boolean } = {}): string[] {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  if (options.packageDirs !== false) for (const extra of PACKAGE_DIRS) if (!dirs.includes(extra)) dirs.push(extra);
  return dirs.map((d) => path.join(d, 'haproxy'));
}

/**
 * Finds HAProxy (`proxyBin` when given, else PATH and the usual sbin directories), and checks that it
 * is ≥ 2.6 with Lua, OpenSSL and the Prometheus exporter. Throws HaproxyNotFoundError or
 * HaproxyUnsuitableError with a sentence saying what to do.
 */
export async function findHaproxy(options: { proxyBin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<HaproxyBinary> {
  let bin: string | undefined;
  if (options.proxyBin) {
    if (!(await executable(options.proxyBin))) throw new HaproxyNotFoundError(`--proxy-bin ${options.proxyBin} is not an executable file; point it at an HAProxy binary.`);
    bin = options.proxyBin;
  } else {
    for (const c of candidatePaths(options.env)) {
      if (await executable(c)) {
        bin = c;
        break;
      }
    }
  }
  if (!bin) throw new HaproxyNotFoundError('HAProxy is not installed (not on PATH nor in /usr/sbin); run meshctl install, or pass --proxy-bin.');
  const result = await runCommand(bin, ['-vv'], { timeoutMs: 10_000 });
  const text = result.stdout + result.stderr;
  const version = parseHaproxyVersion(text);
  if (result.code !== 0 || !version) throw new HaproxyUnsuitableError(`${bin} -vv did not print an HAProxy version; is it HAProxy?`);
  if (!versionAtLeast(version)) {
    throw new HaproxyUnsuitableError(`${bin} is HAProxy ${version.text}; meshctl needs ${MIN_HAPROXY_VERSION.major}.${MIN_HAPROXY_VERSION.minor} or later: upgrade it or pass --proxy-bin.`);
  }
  const features = parseFeatures(text);
  const missing = (['lua', 'openssl', 'prometheus'] as const).filter((f) => !features[f]);
  if (missing.length) {
    throw new HaproxyUnsuitableError(`${bin} (HAProxy ${version.text}) was built without ${missing.join(', ')}; install a distribution build of HAProxy, which has them.`);
  }
  return { path: bin, version, features };
}

/** A line the compiler puts near the top of a configuration: what it is once its own names, ports and paths are set aside. */
export const SHAPE_LINE_PREFIX = '# configuration shape ';

/** How many `haproxy -c` runs this process made, and how many checks reused the verdict of a configuration of the same shape. */
export interface ConfigCheckCounts {
  run: number;
  reused: number;
}

const counts: ConfigCheckCounts = { run: 0, reused: 0 };

/** The checks so far (a copy): the difference between two readings is what happened in between. */
export function configCheckCounts(): ConfigCheckCounts {
  return { ...counts };
}

interface Verdict {
  problem: string | null;
  /** The directory of the configuration that was checked, so that a reused refusal names the proxy's own files. */
  dir: string;
}

/**
 * Verdicts by binary and shape. A valid shape stays valid for as long as the binary is the same file, so
 * those are kept (a bounded number); a refusal is shared only with the checks running beside it, and a
 * later apply checks again (the cause may be a proxy's own file, since fixed).
 */
const verdicts = new Map<string, Promise<Verdict>>();
const KEPT_VERDICTS = 512;

/** The shape a configuration's text carries (its shape line), or null. */
export function shapeOfText(text: string): string | null {
  const line = text.slice(0, 1024).split('\n').find((l) => l.startsWith(SHAPE_LINE_PREFIX));
  return line ? line.slice(SHAPE_LINE_PREFIX.length).trim() || null : null;
}

async function shapeOf(configFile: string): Promise<string | null> {
  let handle: fs.FileHandle | null = null;
  try {
    handle = await fs.open(configFile, 'r');
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(1024), 0, 1024, 0);
    return shapeOfText(buffer.subarray(0, bytesRead).toString('utf8'));
  } catch {
    return null;
  } finally {
    await handle?.close();
  }
}

async function runCheck(bin: string, configFile: string): Promise<string | null> {
  counts.run++;
  // Not -q: HAProxy 2.6 keeps its alerts to itself under -q, and they are the message.
  const result = await runCommand(bin, ['-c', '-f', configFile], { timeoutMs: 30_000 });
  if (result.code === 0) return null;
  const alerts = (result.stdout + result.stderr).split('\n').filter((l) => /ALERT|error/i.test(l)).map((l) => l.replace(/^\[ALERT\]\s*\(\d+\)\s*:\s*/, '').trim());
  return alerts.join('\n') || `haproxy -c exited with ${result.code ?? result.signal}`;
}

/**
 * A configuration not on disk yet: its text, and how to write it (with the files it reads) where it is
 * checked. It is written only when a check runs: a verdict reused from one of the same shape needs no file.
 */
export interface UnwrittenConfig {
  text: string;
  write: () => Promise<void>;
}

/**
 * Checks a configuration with `haproxy -c`; resolves to null when valid, else to HAProxy's alerts.
 * Configurations that carry the same shape line (compileMesh writes it) differ only in their proxy's
 * own names, ports and file paths, which do not change HAProxy's verdict: one of them is checked and
 * the others take its verdict.
 */
export async function checkConfig(bin: string, configFile: string, unwritten?: UnwrittenConfig): Promise<string | null> {
  const run = async () => {
    await unwritten?.write();
    return runCheck(bin, configFile);
  };
  const shape = unwritten ? shapeOfText(unwritten.text) : await shapeOf(configFile);
  if (!shape) return run();
  const binStat = await fs.stat(bin).catch(() => null);
  const key = `${bin}\0${binStat ? `${binStat.mtimeMs}:${binStat.size}` : ''}\0${shape}`;
  const dir = path.dirname(configFile);
  const known = verdicts.get(key);
  if (known) {
    counts.reused++;
    const verdict = await known;
    return verdict.problem === null ? null : verdict.problem.split(verdict.dir).join(dir);
  }
  const checking = run().then((problem) => ({ problem, dir }));
  verdicts.set(key, checking);
  const verdict = await checking.catch((err: unknown) => {
    verdicts.delete(key);
    throw err;
  });
  if (verdict.problem !== null) verdicts.delete(key);
  else if (verdicts.size > KEPT_VERDICTS) verdicts.delete(verdicts.keys().next().value!);
  return verdict.problem;
}
