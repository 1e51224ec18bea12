// meshctl check: the local mesh's health as a list of checks. Each check is data (category,
// description, hint, function); the runner owns the order, stopping at a failed check that later
// ones depend on, and the exit code. `check --pre` runs the checks that hold before install.
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { HomeLayout } from './home.js';
import { socketPathFits } from './home.js';
import { CA_CERT_FILE, CA_KEY_FILE, loadMeshCa, readCertificate, type MeshCa } from './ca.js';
import { formatDuration } from '../policy/duration.js';
import { proxyPaths } from '../runtime/haproxy/types.js';
import { MIN_VERSION_TEXT, SUPPORTED_MANAGERS, findRuntime, packageInstallPlan } from './proxy-runtime.js';
import { readMeshConfigFile, type MeshConfigFile } from './state.js';
import type { MeshStatus, PodStatus } from './agent/protocol.js';
import { agentAnswers, request, runningAgent } from './agent/client.js';

export type CheckResult = 'success' | 'warning' | 'error';

export interface CheckOutcome {
  result: CheckResult;
  /** What was found (version, path, expiry, which pods): shown after the description. */
  detail?: string;
  /** Why it failed, when it did. */
  error?: string;
}

/** Facts shared between checks, filled in as they run. */
export interface CheckContext {
  layout: HomeLayout;
  proxyBin?: string;
  config: MeshConfigFile | null;
  ca: MeshCa | null;
  status: MeshStatus | null;
}

export interface Check {
  category: string;
  description: string;
  /** What to do when the check fails. */
  hint: string;
  /** Run by `check --pre` (before install), by `check` (after), or both. */
  when: 'pre' | 'post' | 'both';
  /** A failed `fatal` check ends the run: the checks after it need what it checks. */
  fatal?: boolean;
  run(ctx: CheckContext): Promise<CheckOutcome>;
}

export interface CheckReport {
  description: string;
  result: CheckResult;
  detail?: string;
  error?: string;
  hint?: string;
}

export interface CategoryReport {
  categoryName: string;
  checks: CheckReport[];
}

export interface CheckRun {
  success: boolean;
  categories: CategoryReport[];
}

const ok = (detail?: string): CheckOutcome => ({ result: 'success', ...(detail ? { detail } : {}) });
const fail = (error: string): CheckOutcome => ({ result: 'error', error });
const warn = (error: string, detail?: string): CheckOutcome => ({ result: 'warning', error, ...(detail ? { detail } : {}) });

const DAY = 86_400_000;
/** A root closer than this to its expiry is a warning: rotating it takes planning. */
const CA_EXPIRY_WARNING_DAYS = 30;
/**
 * A workload certificate with less than this fraction of its lifetime left is a warning: the agent
 * renews at half-life, so one this close to its end was not renewed and its proxy soon fails handshakes.
 */
export const WORKLOAD_EXPIRY_WARNING_FRACTION = 0.1;

/** A span for people: whole minutes from an hour on, whole seconds below. */
function roughly(ms: number): string {
  const unit = ms >= 3_600_000 ? 60_000 : 1000;
  return formatDuration(Math.round(ms / unit) * unit);
}

/** The certificate file of a pod's sidecar or of a gateway proxy. */
function certificateFileOf(layout: HomeLayout, pod: PodStatus): string {
  return proxyPaths(pod.type === 'gateway' ? layout.gateway(pod.namespace, pod.name) : layout.pod(pod.name).dir).certificate;
}

function modeOf(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

function pendingNames(pods: PodStatus[]): string {
  const names = pods.map((p) => p.name);
  return names.length > 6 ? `${names.slice(0, 6).join(', ')} and ${names.length - 6} more` : names.join(', ');
}

export const CHECKS: Check[] = [
  // ---------------------------------------------------------------- proxy runtime
  {
    category: 'proxy runtime',
    description: 'HAProxy is installed',
    hint: 'run meshctl install (it installs HAProxy with the package manager), or pass --proxy-bin PATH',
    when: 'both',
    fatal: true,
    async run(ctx) {
      const bin = ctx.config?.proxy.bin ?? ctx.proxyBin;
      if (ctx.config) {
        const exists = await fs.access(ctx.config.proxy.bin, constants.X_OK).then(() => true, () => false);
        return exists ? ok(ctx.config.proxy.bin) : fail(`${ctx.config.proxy.bin}, which the mesh was installed with, is no longer an executable`);
      }
      const search = await findRuntime({ proxyBin: bin });
      if (search.found) return ok(search.found.bin);
      if (search.candidates.length) return fail(`no usable HAProxy: ${search.candidates.map((c) => c.problem).join('; ')}`);
      const plan = await packageInstallPlan();
      return plan
        ? warn(`haproxy is not on PATH; meshctl install will install it with ${plan.manager}`)
        : fail(`haproxy is not on PATH and none of ${SUPPORTED_MANAGERS.join(', ')} is available to install it`);
    },
  },
  {
    category: 'proxy runtime',
    description: `HAProxy is version ${MIN_VERSION_TEXT} or later, with Lua, OpenSSL and Prometheus`,
    hint: `install a distribution build of HAProxy ${MIN_VERSION_TEXT}+ and pass its path with meshctl install --proxy-bin PATH`,
    when: 'both',
    async run(ctx) {
      const bin = ctx.config?.proxy.bin ?? (await findRuntime({ proxyBin: ctx.proxyBin })).found?.bin;
      if (!bin) return warn('skipped: no HAProxy found');
      const { findHaproxy } = await import('../runtime/haproxy/binary.js');
      try {
        return ok((await findHaproxy({ proxyBin: bin })).version.text);
      } catch (err) {
        return fail((err as Error).message);
      }
    },
  },

  // ---------------------------------------------------------------- mesh home
  {
    category: 'mesh home',
    description: 'the mesh home can be created',
    hint: 'choose a --home (or MESHCTL_HOME) in a writable directory',
    when: 'pre',
    async run(ctx) {
      const home = ctx.layout.root;
      if (!socketPathFits(ctx.layout)) return fail(`${home} is too long for the UNIX sockets inside it`);
      if (ctx.config) return warn('a mesh is already installed there', home);
      let dir = home;
      for (;;) {
        const st = await fs.stat(dir).catch(() => null);
        if (st) {
          if (!st.isDirectory()) return fail(`${dir} is a file, not a directory`);
          if (dir === home && (await fs.readdir(dir)).length) return fail(`${home} exists, is not empty and holds no mesh`);
          const writable = await fs.access(dir, constants.W_OK | constants.X_OK).then(() => true, () => false);
          return writable ? ok(home) : fail(`${dir} is not writable`);
        }
        const parent = path.dirname(dir);
        if (parent === dir) return fail(`no part of ${home} exists`);
        dir = parent;
      }
    },
  },
  {
    category: 'mesh home',
    description: 'the mesh is installed',
    hint: 'run meshctl install',
    when: 'post',
    fatal: true,
    async run(ctx) {
      return ctx.config ? ok(ctx.layout.root) : fail(`no mesh configuration at ${ctx.layout.configFile}`);
    },
  },
  {
    category: 'mesh home',
    description: 'the mesh home is private to its owner',
    hint: 'run chmod 700 on the mesh home and chmod 600 on ca/ca.key',
    when: 'post',
    async run(ctx) {
      const problems: string[] = [];
      const home = await fs.stat(ctx.layout.root);
      if (home.mode & 0o022) problems.push(`${ctx.layout.root} is mode ${modeOf(home.mode)} (writable by others)`);
      const key = await fs.stat(path.join(ctx.layout.caDir, CA_KEY_FILE)).catch(() => null);
      if (!key) problems.push(`${path.join(ctx.layout.caDir, CA_KEY_FILE)} is missing`);
      else if (key.mode & 0o077) problems.push(`${path.join(ctx.layout.caDir, CA_KEY_FILE)} is mode ${modeOf(key.mode)}`);
      const socket = await fs.stat(ctx.layout.agentSocket).catch(() => null);
      if (socket && socket.mode & 0o077) problems.push(`${ctx.layout.agentSocket} is mode ${modeOf(socket.mode)}`);
      return problems.length ? fail(problems.join('; ')) : ok(`home ${modeOf(home.mode)}, CA key 0600`);
    },
  },

  // ---------------------------------------------------------------- certificates
  {
    category: 'certificates',
    description: 'the mesh CA is valid',
    hint: 'restore ca/ca.crt and ca/ca.key from a backup, or reinstall the mesh (meshctl uninstall, then meshctl install)',
    when: 'post',
    fatal: true,
    async run(ctx) {
      try {
        ctx.ca = await loadMeshCa(ctx.layout.caDir);
      } catch (err) {
        return fail((err as Error).message);
      }
      const now = Date.now();
      if (ctx.ca.notBefore.getTime() > now) return fail(`${path.join(ctx.layout.caDir, CA_CERT_FILE)} is not valid before ${ctx.ca.notBefore.toISOString()}`);
      if (ctx.ca.notAfter.getTime() <= now) return fail(`${path.join(ctx.layout.caDir, CA_CERT_FILE)} expired on ${ctx.ca.notAfter.toISOString()}`);
      return ok(`trust domain ${ctx.ca.trustDomain}`);
    },
  },
  {
    category: 'certificates',
    description: `the mesh CA is not about to expire (${CA_EXPIRY_WARNING_DAYS} days)`,
    hint: 'plan a CA rotation: reinstall the mesh before the root expires',
    when: 'post',
    async run(ctx) {
      const days = Math.floor((ctx.ca!.notAfter.getTime() - Date.now()) / DAY);
      const detail = `expires ${ctx.ca!.notAfter.toISOString().slice(0, 10)}, in ${days} days`;
      return days < CA_EXPIRY_WARNING_DAYS ? warn(detail) : ok(detail);
    },
  },

  // ---------------------------------------------------------------- agent
  {
    category: 'mesh agent',
    description: 'the mesh agent is running',
    hint: 'run meshctl status (any meshctl command restarts the agent), then see agent/agent.log in the mesh home',
    when: 'post',
    fatal: true,
    async run(ctx) {
      const agent = await runningAgent(ctx.layout);
      return agent ? ok(`pid ${agent.pid}`) : fail(`no agent process runs for ${ctx.layout.root}`);
    },
  },
  {
    category: 'mesh agent',
    description: 'the mesh agent answers on its socket',
    hint: 'see agent/agent.log in the mesh home; meshctl install restarts a stuck agent after it is stopped',
    when: 'post',
    fatal: true,
    async run(ctx) {
      if (!(await agentAnswers(ctx.layout, 5000))) return fail(`no answer on ${ctx.layout.agentSocket}`);
      ctx.status = await request(ctx.layout, 'status', {}, 30_000);
      if (ctx.status.problems.length) return fail(ctx.status.problems.join(' '));
      return ok(`revision ${ctx.status.revision}`);
    },
  },

  // ---------------------------------------------------------------- pods
  {
    category: 'pods',
    description: "every pod's app is up",
    hint: 'see meshctl logs POD for the app that is down',
    when: 'post',
    async run(ctx) {
      const pods = ctx.status!.pods.filter((p) => p.type === 'pod');
      const down = pods.filter((p) => !p.containers.find((c) => c.container === 'app')?.ready);
      return down.length ? fail(`not up: ${pendingNames(down)}`) : ok(`${pods.length} pod${pods.length === 1 ? '' : 's'}`);
    },
  },
  {
    category: 'pods',
    description: 'every sidecar and gateway proxy is up',
    hint: 'see meshctl logs POD --container proxy for the proxy that is down',
    when: 'post',
    async run(ctx) {
      const proxies = ctx.status!.pods;
      const down = proxies.filter((p) => !p.containers.find((c) => c.container === 'proxy')?.process || p.containers.find((c) => c.container === 'proxy')?.process?.phase !== 'Running');
      return down.length ? fail(`not up: ${pendingNames(down)}`) : ok(`${proxies.length} prox${proxies.length === 1 ? 'y' : 'ies'}`);
    },
  },
  {
    category: 'pods',
    description: 'every proxy serves the current revision',
    hint: 'run meshctl apply again; see meshctl logs POD --container proxy for a proxy that does not reload',
    when: 'post',
    async run(ctx) {
      const behind = ctx.status!.pods.filter((p) => !p.inSync);
      return behind.length
        ? fail(`not on revision ${ctx.status!.revision}: ${behind.map((p) => `${p.name} (${p.proxyRevision ?? 'no answer'})`).join(', ')}`)
        : ok(`revision ${ctx.status!.revision}`);
    },
  },
  {
    category: 'pods',
    description: 'no workload certificate is expired or about to expire',
    hint: 'see agent/agent.log in the mesh home for failed renewals; meshctl apply again re-issues a missing or expired certificate',
    when: 'post',
    async run(ctx) {
      const now = Date.now();
      const expired: string[] = [];
      const closeToEnd: string[] = [];
      const unreadable: string[] = [];
      let soonest: number | null = null;
      for (const pod of ctx.status!.pods) {
        const file = certificateFileOf(ctx.layout, pod);
        let cert;
        try {
          cert = readCertificate(await fs.readFile(file, 'utf8'));
        } catch {
          unreadable.push(`${pod.name} (${file})`);
          continue;
        }
        const left = cert.notAfter.getTime() - now;
        const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
        soonest = soonest === null ? left : Math.min(soonest, left);
        if (left <= 0) expired.push(`${pod.name} (expired ${roughly(-left)} ago)`);
        else if (left < lifetime * WORKLOAD_EXPIRY_WARNING_FRACTION) closeToEnd.push(`${pod.name} (expires in ${roughly(left)})`);
      }
      if (expired.length || unreadable.length) {
        return fail([expired.length ? `expired: ${expired.join(', ')}` : '', unreadable.length ? `no readable certificate: ${unreadable.join(', ')}` : ''].filter(Boolean).join('; '));
      }
      if (closeToEnd.length) return warn(`within ${WORKLOAD_EXPIRY_WARNING_FRACTION * 100}% of their lifetime from expiry, not renewed: ${closeToEnd.join(', ')}`);
      const count = ctx.status!.pods.length;
      return ok(soonest === null ? 'no proxies' : `${count} certificate${count === 1 ? '' : 's'}, the first expires in ${roughly(soonest)}`);
    },
  },
];

/** Runs one check; what it throws is its error. */
export async function runCheck(check: Check, ctx: CheckContext): Promise<CheckReport> {
  let outcome: CheckOutcome;
  try {
    outcome = await check.run(ctx);
  } catch (err) {
    outcome = fail((err as Error).message);
  }
  const report: CheckReport = { description: check.description, result: outcome.result };
  if (outcome.detail) report.detail = outcome.detail;
  if (outcome.error) report.error = outcome.error;
  if (outcome.result !== 'success') report.hint = check.hint;
  return report;
}

/** Runs the checks of a mode in order; a failed fatal check ends the run (what follows depends on it), as linkerd check does. */
export async function runChecks(ctx: CheckContext, options: { pre: boolean; onCheck?: (category: string, report: CheckReport) => void }): Promise<CheckRun> {
  const selected = CHECKS.filter((c) => c.when === 'both' || c.when === (options.pre ? 'pre' : 'post'));
  const categories: CategoryReport[] = [];
  for (const check of selected) {
    let category = categories.find((c) => c.categoryName === check.category);
    if (!category) categories.push((category = { categoryName: check.category, checks: [] }));
    const report = await runCheck(check, ctx);
    category.checks.push(report);
    options.onCheck?.(check.category, report);
    if (report.result === 'error' && check.fatal) break;
  }
  return { success: categories.every((c) => c.checks.every((x) => x.result !== 'error')), categories };
}

export async function checkContext(layout: HomeLayout, proxyBin?: string): Promise<CheckContext> {
  const config = await readMeshConfigFile(layout).catch(() => null);
  return { layout, proxyBin, config, ca: null, status: null };
}
