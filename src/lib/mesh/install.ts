// meshctl install: the proxy runtime (found, or installed with the system's package manager after a
// confirmation), the mesh home with its CA and configuration, and the agent. The home is built in a
// staging directory beside it and renamed into place, so a failed install leaves nothing half-made.
import { constants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXIT, MeshctlError } from '../errors.js';
import { CA_KEY_FILE, ensureMeshCa, workloadCertificateLifetimeMs } from './ca.js';
import { formatDuration } from '../policy/duration.js';
import { DEFAULT_TRUST_DOMAIN } from '../policy/spiffe.js';
import { homeLayout, refuseFileHome, socketPathFits, type HomeLayout } from './home.js';
import {
  MIN_VERSION_TEXT, SUPPORTED_MANAGERS, describeMissing, findRuntime, packageInstallPlan, shellLine,
  type PackageInstallPlan, type RuntimeFound,
} from './proxy-runtime.js';
import { DEFAULT_LOG_ROTATE_BYTES, STATE_API_VERSION, readMeshConfigFile, writeMeshConfigFile, type MeshConfigFile } from './state.js';
import { formatSize } from '../cli/size-flag.js';
import { checkInstalledMtls, meshMtlsStepText, writeMeshMtls } from './install-mtls.js';
import { agentAnswers, startAgent, runningAgent } from './agent/client.js';
import { stopFromPidFile } from './supervisor.js';
import { runCommand } from '../system/processes.js';

export interface InstallOptions {
  home: string;
  yes: boolean;
  dryRun: boolean;
  proxyBin?: string;
  /** True when a person can answer a prompt (stdin is a terminal). */
  interactive: boolean;
  confirm: (question: string) => Promise<boolean>;
  /** Progress lines as they happen (commands run, steps done). */
  progress: (line: string) => void;
  meshctlVersion: string;
  /** Workload certificate lifetime in milliseconds (--cert-lifetime); Istio's day when not given. */
  certificateLifetimeMs?: number;
  /** --log-max-size in bytes: where logs are set aside as `<log>.1`; 20 MiB when not given. */
  logRotateBytes?: number;
  /** --mtls: the mode of the mesh-wide PeerAuthentication install writes (none written when not given: Istio's PERMISSIVE). */
  meshMtlsMode?: 'STRICT' | 'PERMISSIVE';
}

export interface PlanStep {
  /** What the step does, one sentence. */
  description: string;
  /** Commands the step runs, as typed in a shell. */
  commands: string[];
  done: boolean;
}

export interface InstallResult {
  home: string;
  /** installed: created now; already-installed: nothing to do; agent-started: installed before, its agent was down. */
  status: 'installed' | 'already-installed' | 'agent-started' | 'planned';
  dryRun: boolean;
  steps: PlanStep[];
  proxy: { bin: string; version: string; installedNow: boolean } | null;
  ca: { file: string; notAfter: string; workloadCertificateLifetimeSeconds: number } | null;
  agent: { pid: number | null; socket: string } | null;
}

function errnoClause(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOTDIR': return 'a part of the path is a file, not a directory';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'EROFS': return 'the file system is read-only';
    case 'ENOSPC': return 'the disk is full';
    case 'EEXIST': return 'it already exists';
    default: return code ?? (err as Error).message;
  }
}

/** The deepest existing ancestor of `dir` (or `dir` itself), which must be a writable directory to create `dir`. */
async function existingAncestor(dir: string): Promise<{ path: string; isDir: boolean }> {
  let current = dir;
  for (;;) {
    try {
      const st = await fs.stat(current);
      return { path: current, isDir: st.isDirectory() };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') {
        // Some ancestor is a file; keep walking up to name it.
      } else if (code !== 'ENOENT') {
        throw err;
      }
      const parent = path.dirname(current);
      if (parent === current) return { path: current, isDir: false };
      current = parent;
    }
  }
}

/** Refuses a home that cannot be created, with the path and the reason. */
async function checkHomeCreatable(home: string): Promise<void> {
  const retry = 'choose another --home (or MESHCTL_HOME) and run meshctl install again';
  const anc = await existingAncestor(home);
  if (anc.path === home) {
    if (!anc.isDir) throw new MeshctlError(`Cannot create the mesh home ${home}: it exists and is a file; ${retry}.`, EXIT.environment);
    const entries = await fs.readdir(home).catch(() => []);
    if (entries.length) throw new MeshctlError(`Cannot create the mesh home ${home}: the directory is not empty and holds no mesh (no mesh.json); ${retry}, or empty it.`, EXIT.environment);
    return;
  }
  if (!anc.isDir) throw new MeshctlError(`Cannot create the mesh home ${home}: ${anc.path} is a file, not a directory; ${retry}.`, EXIT.environment);
  try {
    await fs.access(anc.path, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new MeshctlError(`Cannot create the mesh home ${home}: ${anc.path} is not writable (${errnoClause(err)}); ${retry}.`, EXIT.environment);
  }
}

function homeSteps(layout: HomeLayout, meshMtlsMode?: 'STRICT' | 'PERMISSIVE'): PlanStep[] {
  return [
    { description: `Create the mesh home ${layout.root} (mode 0700).`, commands: [], done: false },
    { description: `Create the mesh CA in ${layout.caDir} (ECDSA P-256 root, its key ${path.join(layout.caDir, CA_KEY_FILE)} mode 0600).`, commands: [], done: false },
    { description: `Write the mesh configuration ${layout.configFile}${meshMtlsMode ? meshMtlsStepText(meshMtlsMode) : ''}.`, commands: [], done: false },
    { description: `Start the mesh agent (socket ${layout.agentSocket}).`, commands: [], done: false },
  ];
}

export async function install(options: InstallOptions): Promise<InstallResult> {
  const layout = homeLayout(options.home);
  const result: InstallResult = { home: layout.root, status: 'planned', dryRun: options.dryRun, steps: [], proxy: null, ca: null, agent: null };

  if (!socketPathFits(layout)) {
    throw new MeshctlError(`The mesh home path ${layout.root} is too long for the UNIX sockets inside it; choose a shorter --home.`, EXIT.usage);
  }

  refuseFileHome(layout);
  // Installed before: at most the agent needs starting.
  let existing: MeshConfigFile | null = null;
  try {
    existing = await readMeshConfigFile(layout);
  } catch (err) {
    throw new MeshctlError(`${layout.configFile} is unreadable (${(err as Error).message}); fix or remove it and run meshctl install again.`, EXIT.environment);
  }
  if (existing) {
    if (options.proxyBin && path.resolve(options.proxyBin) !== existing.proxy.bin) {
      throw new MeshctlError(
        `The mesh at ${layout.root} is installed with HAProxy at ${existing.proxy.bin}, not --proxy-bin ${options.proxyBin}; drop --proxy-bin, or run meshctl uninstall and install again with it.`,
        EXIT.usage,
      );
    }
    const installedLifetimeMs = workloadCertificateLifetimeMs(existing);
    if (options.certificateLifetimeMs !== undefined && options.certificateLifetimeMs !== installedLifetimeMs) {
      throw new MeshctlError(
        `The mesh at ${layout.root} is installed with a workload certificate lifetime of ${formatDuration(installedLifetimeMs)}, not --cert-lifetime ${formatDuration(options.certificateLifetimeMs)}; drop --cert-lifetime, or run meshctl uninstall and install again with it.`,
        EXIT.usage,
      );
    }
    if (options.logRotateBytes !== undefined && options.logRotateBytes !== (existing.logRotateBytes ?? DEFAULT_LOG_ROTATE_BYTES)) {
      throw new MeshctlError(
        `The mesh at ${layout.root} is installed with logs set aside past ${formatSize(existing.logRotateBytes ?? DEFAULT_LOG_ROTATE_BYTES)}, not --log-max-size ${formatSize(options.logRotateBytes)}; drop --log-max-size, or run meshctl uninstall and install again with it.`,
        EXIT.usage,
      );
    }
    if (options.meshMtlsMode) await checkInstalledMtls(layout, options.meshMtlsMode);
    result.proxy = { bin: existing.proxy.bin, version: existing.proxy.version, installedNow: false };
    result.ca = await caSummary(layout, existing);
    if (await agentAnswers(layout)) {
      const agent = await runningAgent(layout);
      result.status = 'already-installed';
      result.agent = { pid: agent?.pid ?? null, socket: layout.agentSocket };
      return result;
    }
    const step: PlanStep = { description: `Start the mesh agent (socket ${layout.agentSocket}); it restores the applied resources and pods.`, commands: [], done: false };
    result.steps.push(step);
    if (options.dryRun) return result;
    await startAgent(layout);
    step.done = true;
    result.status = 'agent-started';
    result.agent = { pid: (await runningAgent(layout))?.pid ?? null, socket: layout.agentSocket };
    return result;
  }

  await checkHomeCreatable(layout.root);

  // The proxy runtime.
  const search = await findRuntime({ proxyBin: options.proxyBin });
  // The runtime a user names is the one they get: another found on PATH would be a surprise later.
  const flagProblem = options.proxyBin ? search.candidates.find((c) => c.source === 'flag')?.problem : null;
  if (flagProblem) {
    throw new MeshctlError(`--proxy-bin ${options.proxyBin} is not a usable HAProxy ${MIN_VERSION_TEXT}+ (${flagProblem}); pass the path of HAProxy ${MIN_VERSION_TEXT} or later, or leave --proxy-bin out to use haproxy on PATH.`, EXIT.environment);
  }
  let runtime: RuntimeFound | null = search.found;
  let packagePlan: PackageInstallPlan | null = null;
  const runtimeStep: PlanStep = { description: '', commands: [], done: false };
  if (runtime) {
    runtimeStep.description = `Use HAProxy ${runtime.version} at ${runtime.bin}.`;
    runtimeStep.done = true;
  } else {
    packagePlan = await packageInstallPlan();
    const missing = `HAProxy ${MIN_VERSION_TEXT} or later is not installed (${describeMissing(search)})`;
    if (!packagePlan) {
      throw new MeshctlError(
        `${missing}, and none of the package managers meshctl uses (${SUPPORTED_MANAGERS.join(', ')}) is on PATH; install HAProxy ${MIN_VERSION_TEXT}+ yourself and run meshctl install --proxy-bin PATH.`,
        EXIT.environment,
      );
    }
    runtimeStep.description = `Install HAProxy with ${packagePlan.manager}.`;
    runtimeStep.commands = packagePlan.commands.map(shellLine);
    if (!options.dryRun && !options.yes) {
      const commands = runtimeStep.commands.join(' && ');
      if (!options.interactive) {
        throw new MeshctlError(`${missing}; meshctl would run \`${commands}\` but there is no terminal to confirm it: run meshctl install --yes to allow it, or install HAProxy yourself and pass --proxy-bin PATH.`, EXIT.environment);
      }
      if (!(await options.confirm(`HAProxy ${MIN_VERSION_TEXT}+ is missing. Run \`${commands}\` now?`))) {
        throw new MeshctlError(`Installation cancelled: HAProxy is still missing; install it yourself and run meshctl install --proxy-bin PATH, or run meshctl install --yes.`, EXIT.environment);
      }
    }
  }
  result.steps.push(runtimeStep, ...homeSteps(layout, options.meshMtlsMode));
  if (options.dryRun) {
    if (runtime) result.proxy = { bin: runtime.bin, version: runtime.version, installedNow: false };
    return result;
  }

  if (packagePlan) {
    for (const argv of packagePlan.commands) {
      options.progress(`$ ${shellLine(argv)}`);
      // The package manager talks to the user directly (sudo may ask for a password); its output goes to
      // stderr so that stdout stays the command's answer.
      const how = await runCommand(argv[0]!, argv.slice(1), {
        timeoutMs: null, terminalInput: options.interactive, outputToStderr: true, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      }).then((r) => (r.code === 0 ? null : r.code !== null ? `exit ${r.code}` : `signal ${r.signal}`), (err: Error) => err.message);
      if (how !== null) {
        throw new MeshctlError(`\`${shellLine(argv)}\` failed (${how}); nothing else was changed: fix the package manager's error printed above, or install HAProxy ${MIN_VERSION_TEXT}+ yourself, then run meshctl install again.`, EXIT.environment);
      }
    }
    const after = await findRuntime({ proxyBin: options.proxyBin, afterInstall: true });
    if (!after.found) {
      throw new MeshctlError(`${packagePlan.manager} finished but no HAProxy ${MIN_VERSION_TEXT}+ was found (${describeMissing(after)}); install a newer HAProxy yourself and run meshctl install --proxy-bin PATH.`, EXIT.environment);
    }
    runtime = after.found;
    runtimeStep.done = true;
    options.progress(`Installed HAProxy ${runtime.version} at ${runtime.bin}.`);
  }
  result.proxy = { bin: runtime!.bin, version: runtime!.version, installedNow: packagePlan !== null };

  await createHome(layout, runtime!, options, result.steps);
  result.ca = await caSummary(layout, await readMeshConfigFile(layout));
  result.agent = { pid: (await runningAgent(layout))?.pid ?? null, socket: layout.agentSocket };
  result.status = 'installed';
  return result;
}

async function caSummary(layout: HomeLayout, config: MeshConfigFile | null): Promise<InstallResult['ca']> {
  try {
    const { loadMeshCa } = await import('./ca.js');
    const ca = await loadMeshCa(layout.caDir);
    const lifetimeMs = workloadCertificateLifetimeMs(config ?? {});
    return { file: path.join(layout.caDir, 'ca.crt'), notAfter: ca.notAfter.toISOString(), workloadCertificateLifetimeSeconds: lifetimeMs / 1000 };
  } catch {
    return null;
  }
}

/** Builds the home in a staging directory, renames it into place and starts the agent; undoes everything on failure. */
async function createHome(layout: HomeLayout, runtime: RuntimeFound, options: InstallOptions, steps: PlanStep[]): Promise<void> {
  const home = layout.root;
  const firstMissing = await firstMissingAncestor(path.dirname(home));
  const homeExisted = await fs.stat(home).then(() => true, () => false);
  const staging = path.join(path.dirname(home), `.${path.basename(home)}.installing-${process.pid}`);
  const stagingLayout = homeLayout(staging);
  const mark = (i: number) => {
    const step = steps[steps.length - 4 + i];
    step.done = true;
    options.progress(`✓ ${step.description}`);
  };
  let renamed = false;
  const undo = async () => {
    await stopFromPidFile(layout.agentPid).catch(() => undefined);
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    if (renamed) {
      if (homeExisted) {
        for (const entry of await fs.readdir(home).catch(() => [] as string[])) await fs.rm(path.join(home, entry), { recursive: true, force: true }).catch(() => undefined);
      } else {
        await fs.rm(home, { recursive: true, force: true }).catch(() => undefined);
      }
    }
    // Parent directories this install created go too, but only while empty: another install may
    // have put its home there meanwhile.
    if (firstMissing) {
      for (let dir = path.dirname(home); dir.startsWith(firstMissing); dir = path.dirname(dir)) {
        if (!(await fs.rmdir(dir).then(() => true, () => false))) break;
        if (dir === firstMissing) break;
      }
    }
  };
  const interrupted = () => {
    void undo().finally(() => {
      process.stderr.write(`Interrupted: the install was undone and nothing is left at ${home}; run meshctl install again to install the mesh.\n`);
      process.exit(EXIT.interrupted);
    });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    try {
      await fs.mkdir(path.dirname(home), { recursive: true, mode: 0o755 });
      await fs.mkdir(staging, { mode: 0o700 });
      await fs.chmod(staging, 0o700);
    } catch (err) {
      throw new MeshctlError(`Cannot create the mesh home ${home} (${errnoClause(err)}); choose another --home and run meshctl install again.`, EXIT.environment);
    }
    for (const dir of [stagingLayout.stateDir, stagingLayout.revisionsDir, stagingLayout.podsDir, stagingLayout.gatewaysDir, stagingLayout.agentDir]) await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const { ca } = await ensureMeshCa(stagingLayout.caDir, { trustDomain: DEFAULT_TRUST_DOMAIN });
    await fs.chmod(stagingLayout.caDir, 0o700);
    const config: MeshConfigFile = {
      apiVersion: STATE_API_VERSION,
      kind: 'MeshConfig',
      createdAt: new Date().toISOString(),
      trustDomain: ca.trustDomain,
      proxy: { runtime: 'haproxy', bin: runtime.bin, version: runtime.version },
      env: { PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin', HOME: os.homedir() },
      meshctlVersion: options.meshctlVersion,
      workloadCertificateLifetimeMs: options.certificateLifetimeMs ?? workloadCertificateLifetimeMs({}),
      ...(options.logRotateBytes !== undefined ? { logRotateBytes: options.logRotateBytes } : {}),
    };
    await writeMeshConfigFile(stagingLayout, config);
    if (options.meshMtlsMode) await writeMeshMtls(stagingLayout, options.meshMtlsMode);
    try {
      await fs.rename(staging, home);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new MeshctlError(`${home} was filled by someone else while this install ran (another meshctl install?); run meshctl install again, which is a no-op once the mesh is installed.`, EXIT.environment);
      }
      throw new MeshctlError(`Cannot create the mesh home ${home} (${errnoClause(err)}); choose another --home and run meshctl install again.`, EXIT.environment);
    }
    renamed = true;
    mark(0);
    mark(1);
    mark(2);
    try {
      await startAgent(layout);
    } catch (err) {
      const why = err instanceof MeshctlError ? err.message.replace(/\.$/, '') : (err as Error).message;
      throw new MeshctlError(`${why}; the install was undone, nothing is left at ${home}: fix the cause and run meshctl install again.`, EXIT.environment);
    }
    mark(3);
  } catch (err) {
    await undo();
    if (err instanceof MeshctlError) throw err;
    throw new MeshctlError(`Installing the mesh in ${home} failed (${errnoClause(err)}); the install was undone: fix the cause and run meshctl install again.`, EXIT.environment);
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
  }
}

async function firstMissingAncestor(dir: string): Promise<string | null> {
  let missing: string | null = null;
  let current = dir;
  for (;;) {
    const exists = await fs.stat(current).then(() => true, () => false);
    if (exists) return missing;
    missing = current;
    const parent = path.dirname(current);
    if (parent === current) return missing;
    current = parent;
  }
}
