// Text renderings of the local-mesh commands (apply, delete, get, status, check, install, uninstall,
// proxy-status, top):
// kubectl-like lines and tables.
import { pushSummary } from './config-push.js';
import type { ResourceChange } from './state.js';
import type { ApplyResult, MeshStatus, PodStatus } from './agent/protocol.js';
import type { CheckReport, CheckRun } from './check.js';
import type { InstallResult } from './install.js';
import type { UninstallResult } from './uninstall.js';
import type { ProxyStatusReport } from './proxy-status.js';
import type { TopSnapshot } from './top.js';
import { duration, resilienceSummary } from '../runtime/render.js';
import { formatDuration } from '../policy/duration.js';
import { NOT_ENOUGH_TRAFFIC, type ResilienceFigures } from '../runtime/figures.js';
import { splitApiVersion } from '../policy/kinds.js';
import type { Paint } from '../output/format.js';
import { table } from '../output/table.js';

/** `virtualservice.networking.istio.io/reviews`, as kubectl names a resource. */
export function resourceName(r: { apiVersion: string; kind: string; name: string; namespace?: string }): string {
  const { group } = splitApiVersion(r.apiVersion);
  return `${r.kind.toLowerCase()}${group ? `.${group}` : ''}/${r.name}`;
}

export function changeLine(c: ResourceChange): string {
  const ns = c.namespace && c.namespace !== 'default' ? ` -n ${c.namespace}` : '';
  return `${resourceName(c)}${ns} ${c.action}`;
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** kubectl's AGE: 45s, 12m, 3h, 2d. */
export function age(since: string | null | undefined, now = Date.now()): string {
  if (!since) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** The pod's STATUS column: Running when ready, else what keeps it from being ready. */
export function podPhase(p: PodStatus): string {
  if (p.ready) return 'Running';
  const states = p.containers.map((c) => c.process?.phase ?? 'Stopped');
  // A container that died and is not ready again: waiting for its restart, or failing right after it.
  if (states.includes('BackOff') || p.containers.some((c) => !c.ready && (c.process?.restarts ?? 0) > 0 && c.process?.lastExit)) return 'CrashLoopBackOff';
  if (states.every((s) => s === 'Running')) return 'NotReady';
  return 'ContainerCreating';
}

export function applySummary(r: ApplyResult, verb: 'applied' | 'deleted'): string {
  const lines = r.changes.map(changeLine);
  for (const p of r.pods) lines.push(`pod/${p.name} ${p.action}`);
  // What the local mesh accepted but will not enforce is said in the text people read, not only in JSON.
  for (const n of r.notes) lines.push(`Note: ${n}`);
  if (!r.committed) {
    lines.push(`No change: the mesh stays at revision ${r.revision}.`);
    return `${lines.join('\n')}\n`;
  }
  // "Revision 12 deleted" would read as if the revision itself was removed: say what went, then where the mesh is.
  const deleted = r.changes.filter((c) => c.action === 'deleted').length;
  const head = verb === 'applied' ? `Revision ${r.revision} applied` : `Deleted ${deleted} resource${deleted === 1 ? '' : 's'}; the mesh is now at revision ${r.revision}`;
  lines.push(r.synced ? `${head}: every pod is ready and every proxy serves it (${seconds(r.elapsedMs)}).` : `${head} (${seconds(r.elapsedMs)}).`);
  const pushed = pushSummary(r.proxies ?? []);
  if (pushed) lines.push(pushed);
  return `${lines.join('\n')}\n`;
}

/** meshctl status as text: the mesh, its revision, and a row per pod and gateway proxy. */
export function meshStatusText(status: MeshStatus, home: { root: string; proxyVersion: string }, p: Paint): string {
  const pods = status.pods.filter((x) => x.type === 'pod');
  const proxies = status.pods;
  const lines = [
    `Mesh       ${home.root} (HAProxy ${home.proxyVersion}, agent pid ${status.agent.pid}, up ${age(status.agent.startedAt)})`,
    `Revision   ${status.revision}${status.updatedAt ? ` (applied ${age(status.updatedAt)} ago)` : ' (nothing applied yet)'}`,
    `Pods       ${pods.filter((x) => x.ready).length}/${pods.length} ready`,
    `Proxies    ${proxies.filter((x) => x.inSync).length}/${proxies.length} up to date with revision ${status.revision}`,
    `Certs      workload certificates live ${formatDuration(status.certificates.workloadLifetimeSeconds * 1000)}, renewed after ${formatDuration(status.certificates.renewAfterSeconds * 1000)}`,
  ];
  let text = `${lines.join('\n')}\n`;
  if (proxies.length) {
    text += `\n${table(['NAME', 'TYPE', 'READY', 'STATUS', 'RESTARTS', 'REVISION'], proxies.map((x) => [
      x.name,
      x.type,
      `${x.containers.filter((c) => c.ready).length}/${x.containers.length}`,
      podPhase(x),
      x.restarts,
      x.inSync ? String(x.proxyRevision) : p.yellow(`${x.proxyRevision ?? '-'} (want ${x.wantedRevision ?? status.revision})`),
    ]), p)}\n`;
  }
  for (const n of status.problems) text += `${p.red('Problem:')} ${n}\n`;
  for (const n of status.notes) text += `Note: ${n}\n`;
  return text;
}

/** meshctl check as text: a heading per category, a line per check as it completes, and the verdict. */
export function checkText(p: Paint): { check(category: string, r: CheckReport): string; summary(run: CheckRun): string } {
  let lastCategory = '';
  return {
    check(category, r) {
      let s = '';
      if (category !== lastCategory) {
        s += `${lastCategory ? '\n' : ''}${category}\n${'-'.repeat(category.length)}\n`;
        lastCategory = category;
      }
      const mark = r.result === 'success' ? p.green('√') : r.result === 'warning' ? p.yellow('‼') : p.red('×');
      s += `${mark} ${r.description}${r.detail ? p.dim(` (${r.detail})`) : ''}\n`;
      if (r.error) s += `    ${r.error}\n`;
      if (r.hint) s += `    ${p.dim(`hint: ${r.hint}`)}\n`;
      return s;
    },
    summary(run) {
      const warnings = run.categories.some((c) => c.checks.some((x) => x.result === 'warning'));
      return `\nStatus check results are ${run.success ? (warnings ? p.yellow('‼') : p.green('√')) : p.red('×')}\n`;
    },
  };
}

/** What install did, or its plan (--dry-run). */
export function installText(r: InstallResult, p: Paint): string {
  const lines: string[] = [];
  switch (r.status) {
    case 'already-installed':
      lines.push(`The mesh is already installed at ${r.home} (agent pid ${r.agent?.pid ?? 'unknown'}, HAProxy ${r.proxy?.version ?? '?'}); nothing to do.`);
      break;
    case 'agent-started':
      lines.push(`The mesh is already installed at ${r.home}; its agent was not running and was started (pid ${r.agent?.pid ?? 'unknown'}).`);
      break;
    case 'planned':
      lines.push(p.bold(`Plan for ${r.home} (dry run: nothing was changed):`));
      for (const [i, s] of r.steps.entries()) {
        lines.push(`  ${i + 1}. ${s.description}`);
        for (const c of s.commands) lines.push(`       $ ${c}`);
      }
      if (!r.steps.length) lines.push('  Nothing to do.');
      break;
    case 'installed':
      lines.push(`${p.green('✓')} Mesh installed at ${r.home}`);
      lines.push(`  proxy runtime  HAProxy ${r.proxy?.version} at ${r.proxy?.bin}${r.proxy?.installedNow ? ' (installed now)' : ''}`);
      if (r.ca) lines.push(`  mesh CA        ${r.ca.file}, valid until ${r.ca.notAfter.slice(0, 10)}; workload certificates live ${formatDuration(r.ca.workloadCertificateLifetimeSeconds * 1000)}`);
      lines.push(`  agent          pid ${r.agent?.pid ?? 'unknown'}, socket ${r.agent?.socket}`);
      lines.push('Next: meshctl apply -f <policy and workload files>, then meshctl status.');
      break;
  }
  return `${lines.join('\n')}\n`;
}

/** What uninstall stopped and removed. */
export function uninstallText(r: UninstallResult): string {
  if (r.status === 'not-installed') return `No mesh is installed at ${r.home}; nothing to do.\n`;
  const stopped = `${r.stopped.length} process${r.stopped.length === 1 ? '' : 'es'} stopped`;
  return r.removed ? `Mesh uninstalled: ${stopped}, ${r.home} removed.\n` : `Mesh stopped: ${stopped}; its state is kept in ${r.home} (meshctl install starts it again).\n`;
}

/** One line on how far the proxies are: `5/6 SYNCED, 1 STALE (applied revision 3)`. */
export function proxyStatusSummary(r: ProxyStatusReport): string {
  const { summary: s } = r;
  const parts = [`${s.synced}/${s.total} SYNCED`];
  if (s.stale) parts.push(`${s.stale} STALE`);
  if (s.unreachable) parts.push(`${s.unreachable} UNREACHABLE`);
  if (s.notReady) parts.push(`${s.notReady} not ready`);
  return `${parts.join(', ')} (applied revision ${r.appliedRevision ?? 'none'})`;
}

/** proxy-status as text: a row per proxy, the verdict, and what is wrong with each proxy that is not SYNCED and ready. */
export function proxyStatusText(r: ProxyStatusReport, p: Paint): string {
  if (!r.proxies.length) return `No proxies: the mesh at ${r.home} runs no pod yet (applied revision ${r.appliedRevision ?? 0}).\n`;
  const statusCell = (s: string) => (s === 'SYNCED' ? p.green(s) : s === 'STALE' ? p.yellow(s) : p.red(s));
  const rows = r.proxies.map((x) => [
    x.name,
    x.namespace,
    x.type,
    x.runtime,
    x.revision === null ? '-' : String(x.revision),
    statusCell(x.status),
    x.ready === null ? '-' : x.ready ? 'yes' : p.red('no'),
    x.certificate?.secondsLeft == null ? '-' : x.certificate.secondsLeft < 0 ? p.red(`expired ${duration(-x.certificate.secondsLeft)} ago`) : duration(x.certificate.secondsLeft),
  ]);
  let text = `${table(['NAME', 'NAMESPACE', 'TYPE', 'RUNTIME', 'REVISION', 'STATUS', 'READY', 'CERT EXPIRES'], rows, p)}\n`;
  const good = r.proxies.filter((x) => x.status === 'SYNCED' && x.ready === true).length;
  text += `\nApplied revision ${r.appliedRevision ?? 0}: ${good} of ${r.proxies.length} prox${r.proxies.length === 1 ? 'y is' : 'ies are'} SYNCED and ready.\n`;
  for (const x of r.proxies) if (x.problem) text += `- ${x.name}: ${x.problem}.\n`;
  return text;
}

/** One top snapshot as text: a row per service and subset over the window. */
const RESILIENCE_WORDS: Record<keyof ResilienceFigures, string> = {
  retried: 'retried requests',
  retries: 'retries',
  denied: 'denials',
  rateLimited: 'rate-limited requests',
  overflows: 'overflows',
  timeouts: 'timeouts',
  noRoute: 'requests without a route',
  upstreamFailures: 'upstream failures',
  ejected: 'ejected endpoints',
};

export function topText(s: TopSnapshot, p: Paint): string {
  const ms = (v: number | null) => (v === null ? '-' : `${v}ms`);
  const window = s.windowSeconds % 60 === 0 ? `${s.windowSeconds / 60}m` : `${s.windowSeconds}s`;
  const header = p.dim(`Traffic over the last ${window} until ${s.readAt}${s.host ? `, service ${s.host}` : ''}`);
  if (!s.rows.length) return `${header}\nNo services: the mesh routes to none yet.\n`;
  // The policy's column appears only when it did something: a healthy mesh's table stays as narrow as ever.
  const actions = s.rows.map((r) => resilienceSummary(r.resilience));
  const acted = actions.some(Boolean);
  const rows = s.rows.map((r, i) => [
    r.service,
    r.namespace ?? '-',
    r.subset ?? '-',
    String(r.requests),
    r.ratePerSecond.toFixed(1),
    r.successRate === null ? NOT_ENOUGH_TRAFFIC : r.successRate < 100 ? p.yellow(`${r.successRate.toFixed(2)}%`) : `${r.successRate.toFixed(2)}%`,
    ms(r.latencyMs.p50),
    ms(r.latencyMs.p95),
    ms(r.latencyMs.p99),
    ...(acted ? [actions[i] ? p.yellow(actions[i]!) : '-'] : []),
  ]);
  const unreported = (Object.keys(RESILIENCE_WORDS) as (keyof ResilienceFigures)[])
    .filter((k) => k !== 'ejected' && s.rows.some((r) => r.requests > 0 && r.resilience[k] === null));
  const notes = [...s.notes, ...(unreported.length ? [`not reported by this mesh's proxies: ${unreported.map((k) => RESILIENCE_WORDS[k]).join(', ')}`] : [])]
    .map((n) => `${p.dim(n)}\n`).join('');
  return `${header}\n${table(['SERVICE', 'NAMESPACE', 'SUBSET', 'REQUESTS', 'RPS', 'SUCCESS', 'P50', 'P95', 'P99', ...(acted ? ['POLICY'] : [])], rows, p)}\n${notes}`;
}
