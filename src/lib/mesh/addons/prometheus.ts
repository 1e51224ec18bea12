// The Prometheus addon: a real Prometheus beside the local mesh, found on PATH or installed with the
// system's package manager (asked first, as HAProxy is), run by the agent's supervisor on loopback with
// its data in the mesh home, and scraping every proxy's Istio metrics from the targets the agent's
// metrics endpoint keeps current (file-based service discovery).
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { EXIT, MeshctlError } from '../../errors.js';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../../system/atomic-file.js';
import { which } from '../../system/executables.js';
import { runCommand, waitFor } from '../../system/processes.js';
import { call } from '../agent/client.js';
import type { HomeLayout } from '../home.js';
import { LOOPBACK, PortAllocator } from '../ports.js';
import { packageInstallPlan, shellLine, SUPPORTED_MANAGERS, type PackageNames } from '../proxy-runtime.js';
import type { ProcessSpec, Supervisor } from '../supervisor.js';
import { telemetryPaths } from './metrics-endpoint.js';
import type { AddonEnableResult, AddonStep } from './types.js';

export type { AddonEnableResult, AddonStep };


/** Prometheus' package under each manager that has one. */
const PROMETHEUS_PACKAGES: PackageNames = { 'apt-get': 'prometheus', dnf: 'golang-github-prometheus', apk: 'prometheus', brew: 'prometheus' };

/** Istio's Prometheus scrapes every 15 s. */
export const DEFAULT_SCRAPE_INTERVAL_SECONDS = 15;
/** The scrape job of every proxy's metrics (what the gates wait on: freshness in shift/promql.ts). */
export const MESH_SCRAPE_JOB = 'meshctl-proxies';
/** The supervised name of the addon's process. */
export const PROMETHEUS_PROCESS = 'addon/prometheus';

/** What `addons enable prometheus` stores: the agent runs Prometheus while this file exists. */
export interface PrometheusSettings {
  bin: string;
  version: string;
  port: number;
  scrapeIntervalSeconds: number;
  enabledAt: string;
}

export function prometheusPaths(layout: HomeLayout): { dir: string; settings: string; config: string; data: string; log: string; pid: string } {
  const dir = path.join(layout.root, 'addons', 'prometheus');
  return { dir, settings: path.join(dir, 'addon.json'), config: path.join(dir, 'prometheus.yml'), data: path.join(dir, 'data'), log: path.join(dir, 'prometheus.log'), pid: path.join(dir, 'prometheus.pid') };
}

export function readPrometheusSettings(layout: HomeLayout): Promise<PrometheusSettings | null> {
  return readJson<PrometheusSettings | null>(prometheusPaths(layout).settings, null);
}

export function prometheusUrl(settings: Pick<PrometheusSettings, 'port'>): string {
  return `http://${LOOPBACK}:${settings.port}`;
}

/** Prometheus on PATH with its version (`prometheus, version 2.42.0 (…)`); null when there is none that answers. */
export async function findPrometheus(pathValue = process.env.PATH ?? ''): Promise<{ bin: string; version: string } | null> {
  const bin = await which('prometheus', pathValue);
  if (!bin) return null;
  const r = await runCommand(bin, ['--version'], { timeoutMs: 10_000 }).catch(() => null);
  const version = /version\s+(\d+\.\d+\.\d+)/.exec(`${r?.stdout ?? ''}${r?.stderr ?? ''}`)?.[1];
  return version ? { bin, version } : null;
}

/** Prometheus' configuration: one job over the targets file the agent keeps current. */
export function prometheusConfig(layout: HomeLayout, settings: PrometheusSettings): string {
  const interval = `${settings.scrapeIntervalSeconds}s`;
  return [
    '# Written by meshctl (addons enable prometheus); edits are overwritten.',
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    `  - job_name: ${MESH_SCRAPE_JOB}`,
    `    scrape_timeout: ${Math.max(1, Math.min(10, settings.scrapeIntervalSeconds))}s`,
    '    file_sd_configs:',
    `      - files: [${JSON.stringify(telemetryPaths(layout).scrapeTargets)}]`,
    '        refresh_interval: 30s',
    '',
  ].join('\n');
}

export function prometheusSpec(layout: HomeLayout, settings: PrometheusSettings, env: Record<string, string>): ProcessSpec {
  const p = prometheusPaths(layout);
  return {
    name: PROMETHEUS_PROCESS,
    command: settings.bin,
    args: [
      `--config.file=${p.config}`,
      `--storage.tsdb.path=${p.data}`,
      `--web.listen-address=${LOOPBACK}:${settings.port}`,
      '--storage.tsdb.retention.time=7d',
      '--web.enable-lifecycle',
    ],
    env,
    cwd: p.dir,
    stdoutFile: p.log,
    stderrFile: p.log,
    pidFile: p.pid,
  };
}

/** Agent side: runs Prometheus while the addon is enabled (adopting one a previous agent left running), stops it once disabled. */
export async function reconcilePrometheus(layout: HomeLayout, supervisor: Supervisor, env: Record<string, string>): Promise<'running' | 'disabled'> {
  const settings = await readPrometheusSettings(layout);
  if (!settings) {
    if (supervisor.status(PROMETHEUS_PROCESS)) await supervisor.stop(PROMETHEUS_PROCESS);
    return 'disabled';
  }
  const p = prometheusPaths(layout);
  await fs.mkdir(p.data, { recursive: true, mode: 0o700 });
  const config = prometheusConfig(layout, settings);
  const previous = await fs.readFile(p.config, 'utf8').catch(() => null);
  await writeFileAtomic(p.config, config, 0o644);
  const { outcome } = await supervisor.ensure(prometheusSpec(layout, settings, env));
  // A Prometheus that ran on reads its changed configuration (a new scrape interval) without a restart.
  if (previous !== null && previous !== config && outcome !== 'started' && outcome !== 'replaced') {
    await fetch(`${prometheusUrl(settings)}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  }
  return 'running';
}

/** True once Prometheus answers its readiness endpoint. */
export async function prometheusReady(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

export interface AddonEnableOptions {
  layout: HomeLayout;
  yes: boolean;
  dryRun: boolean;
  interactive: boolean;
  confirm: (question: string) => Promise<boolean>;
  progress: (line: string) => void;
  scrapeIntervalSeconds?: number;
  /** How long to wait for Prometheus to answer once started. */
  timeoutMs?: number;
}

/** CLI side of `addons enable prometheus` (and `install --with prometheus`): find or install it, store the settings, have the agent run it. */
export async function enablePrometheus(options: AddonEnableOptions): Promise<AddonEnableResult> {
  const { layout } = options;
  const result: AddonEnableResult = { addon: 'prometheus', status: 'planned', steps: [], url: null, bin: null, version: null, installedNow: false };
  const existing = await readPrometheusSettings(layout);
  if (existing && (options.scrapeIntervalSeconds === undefined || options.scrapeIntervalSeconds === existing.scrapeIntervalSeconds)) {
    Object.assign(result, { bin: existing.bin, version: existing.version, url: prometheusUrl(existing) });
    if (options.dryRun) return result;
    await call(layout, 'addons', {});
    await waitReady(prometheusUrl(existing), options.timeoutMs);
    result.status = 'already-enabled';
    return result;
  }
  let found = existing ? { bin: existing.bin, version: existing.version } : await findPrometheus();
  const installStep: AddonStep = { description: '', commands: [], done: false };
  let plan: Awaited<ReturnType<typeof packageInstallPlan>> = null;
  if (found) {
    installStep.description = `Use Prometheus ${found.version} at ${found.bin}.`;
    installStep.done = true;
  } else {
    plan = await packageInstallPlan(process.env.PATH ?? '', PROMETHEUS_PACKAGES);
    if (!plan) {
      throw new MeshctlError(`Prometheus is not installed (no prometheus on PATH), and none of the package managers meshctl uses for it (${SUPPORTED_MANAGERS.filter((m) => PROMETHEUS_PACKAGES[m]).join(', ')}) is on PATH; install Prometheus yourself, put it on PATH and run the command again.`, EXIT.environment);
    }
    installStep.description = `Install Prometheus with ${plan.manager}.`;
    installStep.commands = plan.commands.map(shellLine);
    if (!options.dryRun && !options.yes) {
      const commands = installStep.commands.join(' && ');
      if (!options.interactive) {
        throw new MeshctlError(`Prometheus is not installed; meshctl would run \`${commands}\` but there is no terminal to confirm it: add --yes to allow it, or install Prometheus yourself.`, EXIT.environment);
      }
      if (!(await options.confirm(`Prometheus is missing. Run \`${commands}\` now?`))) {
        throw new MeshctlError('Cancelled: Prometheus is still missing; install it yourself, or run the command again with --yes.', EXIT.environment);
      }
    }
  }
  const paths = prometheusPaths(layout);
  const runStep: AddonStep = { description: `Run Prometheus under the mesh agent on ${LOOPBACK}, its data in ${paths.data}, scraping every proxy's Istio metrics.`, commands: [], done: false };
  result.steps.push(installStep, runStep);
  if (options.dryRun) {
    if (found) Object.assign(result, { bin: found.bin, version: found.version });
    return result;
  }
  if (plan) {
    for (const argv of plan.commands) {
      options.progress(`$ ${shellLine(argv)}`);
      const how = await runCommand(argv[0]!, argv.slice(1), { timeoutMs: null, terminalInput: options.interactive, outputToStderr: true, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
        .then((r) => (r.code === 0 ? null : r.code !== null ? `exit ${r.code}` : `signal ${r.signal}`), (err: Error) => err.message);
      if (how !== null) throw new MeshctlError(`\`${shellLine(argv)}\` failed (${how}); nothing else was changed: fix the package manager's error printed above, or install Prometheus yourself, then run the command again.`, EXIT.environment);
    }
    found = await findPrometheus();
    if (!found) throw new MeshctlError(`${plan.manager} finished but no prometheus is on PATH; install Prometheus yourself, put it on PATH and run the command again.`, EXIT.environment);
    installStep.done = true;
    result.installedNow = true;
    options.progress(`Installed Prometheus ${found.version} at ${found.bin}.`);
  }
  // Debian's package starts a system-wide Prometheus on :9090; the mesh's own takes a port of its own.
  const port = existing?.port ?? (await new PortAllocator().next());
  const settings: PrometheusSettings = {
    bin: found!.bin,
    version: found!.version,
    port,
    scrapeIntervalSeconds: options.scrapeIntervalSeconds ?? existing?.scrapeIntervalSeconds ?? DEFAULT_SCRAPE_INTERVAL_SECONDS,
    enabledAt: new Date().toISOString(),
  };
  await fs.mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await writeJsonAtomic(paths.settings, settings, 0o644);
  await call(layout, 'addons', {});
  const url = prometheusUrl(settings);
  await waitReady(url, options.timeoutMs);
  runStep.done = true;
  options.progress(`✓ Prometheus ${settings.version} serves ${url}`);
  Object.assign(result, { status: 'enabled', url, bin: settings.bin, version: settings.version });
  return result;
}

async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  if (!(await waitFor(() => prometheusReady(url), timeoutMs, 200))) {
    throw new MeshctlError(`Prometheus did not answer on ${url} within ${Math.round(timeoutMs / 1000)} s; see its log in the mesh home (addons/prometheus/prometheus.log).`, EXIT.environment);
  }
}

/** CLI side of `addons disable prometheus`: the agent stops it; its data stays in the mesh home. */
export async function disablePrometheus(layout: HomeLayout): Promise<boolean> {
  const existed = (await readPrometheusSettings(layout)) !== null;
  await fs.rm(prometheusPaths(layout).settings, { force: true });
  await call(layout, 'addons', {});
  return existed;
}
