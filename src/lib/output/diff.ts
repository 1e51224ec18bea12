// Renderings of a policy diff: text for people (grouped by host, then resource), JSON and YAML for
// scripts, GitHub workflow annotations, and a Markdown table a pipeline can post on a pull request.
import type { Change, DiffReport, FieldChange, ResourceId, Risk, SecurityImpact, TrafficImpact } from '../policy/diff/model.js';
import { describeResource, resourceKey } from '../policy/diff/model.js';
import { shortHost } from '../policy/hosts.js';
import { paint, type Paint } from './format.js';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function value(v: unknown): string {
  if (v === null || v === undefined) return 'unset';
  if (typeof v === 'string') return v;
  const s = JSON.stringify(v);
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

/** A field's value as written, or that the field is not there. */
function fieldValue(v: unknown): string {
  return v === null || v === undefined ? '(absent)' : value(v);
}

/** One line on what changed overall. */
export function summaryLine(report: DiffReport): string {
  const s = report.summary;
  const total = report.changes.length;
  if (!total) return `No changes: ${plural(s.unchanged, 'resource')} compared, all the same in meaning.`;
  const risks = (['high', 'medium', 'low'] as const).filter((r) => s.risk[r]).map((r) => `${s.risk[r]} ${r}`);
  return `${plural(total, 'change')} (${risks.join(', ')} risk): ${s.added} added, ${s.removed} removed, ${s.changed} changed; ${s.unchanged} unchanged.`;
}

function groupOfChange(c: Change): string {
  if (c.hosts.length) return `host:${c.hosts[0]}`;
  return c.resource.namespace ? `ns:${c.resource.namespace}` : 'cluster';
}

function groupTitle(group: string): string {
  if (group.startsWith('host:')) return shortHost(group.slice(5));
  if (group.startsWith('ns:')) return `namespace ${group.slice(3)}`;
  return 'cluster-wide';
}

interface Group {
  traffic?: TrafficImpact;
  security: SecurityImpact[];
  changes: Change[];
}

function grouped(report: DiffReport): Map<string, Group> {
  const groups = new Map<string, Group>();
  const get = (key: string): Group => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { security: [], changes: [] }));
    return g;
  };
  const groupByResource = new Map<string, string>();
  for (const c of report.changes) {
    const key = groupOfChange(c);
    groupByResource.set(resourceKey(c.resource), key);
    get(key).changes.push(c);
  }
  for (const t of report.impact.traffic) get(`host:${t.host}`).traffic = t;
  for (const s of report.impact.security) {
    const first = s.resources[0];
    get((first && groupByResource.get(resourceKey(first))) ?? (s.namespace ? `ns:${s.namespace}` : 'cluster')).security.push(s);
  }
  const order = (k: string) => (k.startsWith('host:') ? 0 : k.startsWith('ns:') ? 1 : 2);
  return new Map([...groups].sort(([a], [b]) => order(a) - order(b) || (a < b ? -1 : a > b ? 1 : 0)));
}

function riskTag(p: Paint, risk: Risk): string {
  return risk === 'high' ? p.bold(p.red('high')) : risk === 'medium' ? p.yellow('medium') : p.dim('low');
}

/** Destinations of the host itself read as their subset (`v1`); others keep their host. */
function sharesText(shares: TrafficImpact['routes'][number]['shares'], side: 'before' | 'after', host?: string): string {
  const name = (s: (typeof shares)[number]) => (host && s.host === host && s.subset ? `${s.subset}${s.port !== null ? `:${s.port}` : ''}` : s.destination);
  const list = shares.filter((s) => s[side] > 0).map((s) => `${name(s)} ${s[side]}%`);
  return list.length ? list.join(', ') : 'none';
}

function trafficLines(t: TrafficImpact, p: Paint): string[] {
  const out: string[] = [];
  for (const r of t.routes) {
    const mark = r.op === 'added' ? p.green('+') : r.op === 'removed' ? p.red('-') : p.yellow('~');
    const name = r.route === 'default' ? 'default route' : `route "${r.route}"`;
    const moved = r.shares.some((s) => s.before !== s.after);
    let line = `    ${mark} ${r.protocol === 'http' ? '' : `${r.protocol} `}${name}`;
    if (r.op === 'added') line += `: ${sharesText(r.shares, 'after', t.host)}`;
    else if (r.op === 'removed') line += `: was ${sharesText(r.shares, 'before', t.host)}`;
    else if (moved) line += `: ${sharesText(r.shares, 'before', t.host)} → ${sharesText(r.shares, 'after', t.host)}`;
    out.push(line);
    if (r.match) out.push(`        match ${r.match.before} → ${r.match.after}`);
    for (const s of r.settings) out.push(`        ${s.setting}: ${value(s.before)} → ${value(s.after)}`);
  }
  if (t.reorder) out.push(`    ${p.yellow('~')} route order: ${t.reorder.before.join(', ')} → ${t.reorder.after.join(', ')}`);
  for (const pol of t.policies) {
    const where = `${pol.subset ? `subset ${pol.subset}` : 'all subsets'}${pol.port !== null ? `, port ${pol.port}` : ''}`;
    out.push(`    ${p.yellow('~')} traffic policy (${where}):`);
    for (const s of pol.settings) out.push(`        ${s.setting}: ${value(s.before)} → ${value(s.after)}`);
  }
  return out;
}

function fieldLine(f: FieldChange, p: Paint): string {
  if (f.from === null) return `      ${p.green('+')} ${f.path || '/'}: ${value(f.to)}`;
  if (f.to === null) return `      ${p.red('-')} ${f.path || '/'}: ${value(f.from)}`;
  return `      ${p.yellow('~')} ${f.path || '/'}: ${value(f.from)} → ${value(f.to)}`;
}

function where(c: Change): string {
  const o = c.resource.old;
  const n = c.resource.new;
  if (o && n) return o.file === n.file ? `${n.file}:${n.line}` : `${o.file}:${o.line} → ${n.file}:${n.line}`;
  const l = n ?? o;
  return l ? `${l.file}:${l.line}` : '';
}

export interface TextOptions {
  color: boolean;
}

export function renderText(report: DiffReport, options: TextOptions): string {
  const p = paint(options.color);
  const out: string[] = [];
  const s = report.summary;
  out.push(p.dim(`OLD ${s.old.label} (${plural(s.old.resources, 'resource')}) → NEW ${s.new.label} (${plural(s.new.resources, 'resource')})`));
  for (const [key, g] of grouped(report)) {
    out.push('');
    out.push(p.bold(groupTitle(key)));
    if (g.traffic && (g.traffic.routes.length || g.traffic.policies.length || g.traffic.reorder)) {
      out.push(`  traffic`);
      out.push(...trafficLines(g.traffic, p));
    }
    if (g.security.length) {
      out.push('  security');
      for (const sec of g.security) {
        const mark = sec.before === null ? p.green('+') : sec.after === null ? p.red('-') : p.yellow('~');
        const change = sec.setting.endsWith(' rule') ? (sec.before === null ? 'added' : 'removed') : `${value(sec.before)} → ${value(sec.after)}`;
        out.push(`    ${mark} ${sec.scope}: ${sec.setting} ${change}  ${riskTag(p, sec.risk)}`);
      }
    }
    for (const c of g.changes) {
      const mark = c.op === 'added' ? p.green('+') : c.op === 'removed' ? p.red('-') : p.yellow('~');
      const at = where(c);
      out.push(`  ${mark} ${describeResource(c.resource)} ${c.op}  ${riskTag(p, c.risk)}${at ? p.dim(`  ${at}`) : ''}`);
      for (const r of c.reasons) out.push(`      ${r}`);
      for (const f of c.fields) out.push(fieldLine(f, p));
    }
  }
  out.push('');
  out.push(summaryLine(report));
  return `${out.join('\n')}\n`;
}

// ---- GitHub workflow commands ------------------------------------------------------------------------

function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

const GITHUB_LEVEL: Record<Risk, string> = { high: 'error', medium: 'warning', low: 'notice' };

export function renderGithub(report: DiffReport): string {
  const lines = report.changes.map((c) => {
    // A removed resource has no line in the new tree to annotate.
    const at = c.op === 'removed' ? undefined : c.resource.new;
    const props = [at ? `file=${escapeProperty(at.file)},line=${at.line}` : '', `title=${escapeProperty(`meshctl diff: ${describeResource(c.resource)} ${c.op} (${c.risk} risk)`)}`].filter(Boolean).join(',');
    const fields = c.fields.slice(0, 20).map((f) => `${f.path}: ${fieldValue(f.from)} → ${fieldValue(f.to)}`);
    const more = c.fields.length > 20 ? [`… and ${c.fields.length - 20} more field changes`] : [];
    return `::${GITHUB_LEVEL[c.risk]} ${props}::${escapeData([...c.reasons, ...fields, ...more].join('\n'))}\n`;
  });
  lines.push(`::notice title=${escapeProperty('meshctl diff')}::${escapeData(summaryLine(report))}\n`);
  return lines.join('');
}

// ---- Markdown ----------------------------------------------------------------------------------------

function cell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

function code(s: string): string {
  return s ? `\`${s.replace(/`/g, "'")}\`` : '';
}

function ids(resources: ResourceId[]): string {
  return resources.map(describeResource).join(', ');
}

export function renderMarkdown(report: DiffReport): string {
  const out: string[] = [];
  out.push(`### meshctl diff`);
  out.push('');
  out.push(summaryLine(report));
  if (!report.changes.length) return `${out.join('\n')}\n`;
  out.push('');
  out.push('| Risk | Change | Resource | Why |');
  out.push('| --- | --- | --- | --- |');
  for (const c of report.changes) out.push(`| **${c.risk}** | ${c.op} | ${cell(describeResource(c.resource))} | ${cell(c.reasons.join('\n'))} |`);
  const routes = report.impact.traffic.flatMap((t) => t.routes.map((r) => ({ t, r })));
  const policies = report.impact.traffic.flatMap((t) => t.policies.map((pol) => ({ t, pol })));
  if (routes.length || policies.length || report.impact.traffic.some((t) => t.reorder)) {
    out.push('');
    out.push('#### Traffic');
    out.push('');
    out.push('| Host | Route | Before | After |');
    out.push('| --- | --- | --- | --- |');
    for (const { t, r } of routes) {
      const host = cell(shortHost(t.host));
      const name = cell(`${r.route}${r.op === 'changed' ? '' : ` (${r.op})`}`);
      if (r.op !== 'changed' || r.shares.some((s) => s.before !== s.after)) out.push(`| ${host} | ${name} | ${cell(sharesText(r.shares, 'before', t.host))} | ${cell(sharesText(r.shares, 'after', t.host))} |`);
      if (r.match) out.push(`| ${host} | ${name}: match | ${cell(r.match.before)} | ${cell(r.match.after)} |`);
      for (const s of r.settings) out.push(`| ${host} | ${name}: ${cell(code(s.setting))} | ${cell(value(s.before))} | ${cell(value(s.after))} |`);
    }
    for (const t of report.impact.traffic) if (t.reorder) out.push(`| ${cell(shortHost(t.host))} | route order | ${cell(t.reorder.before.join(', '))} | ${cell(t.reorder.after.join(', '))} |`);
    for (const { t, pol } of policies) {
      const scope = `${shortHost(t.host)}${pol.subset ? `/${pol.subset}` : ''}${pol.port !== null ? ` port ${pol.port}` : ''}`;
      for (const s of pol.settings) out.push(`| ${cell(scope)} | ${cell(code(s.setting))} | ${cell(value(s.before))} | ${cell(value(s.after))} |`);
    }
  }
  if (report.impact.security.length) {
    out.push('');
    out.push('#### Security');
    out.push('');
    out.push('| Risk | Scope | Setting | Before | After | Resources |');
    out.push('| --- | --- | --- | --- | --- | --- |');
    for (const s of report.impact.security) {
      out.push(`| **${s.risk}** | ${cell(s.scope)} | ${cell(s.setting)} | ${cell(value(s.before))} | ${cell(value(s.after))} | ${cell(ids(s.resources))} |`);
    }
  }
  const withFields = report.changes.filter((c) => c.fields.length);
  if (withFields.length) {
    out.push('');
    out.push('<details><summary>Field changes</summary>');
    out.push('');
    out.push('| Resource | Path | From | To |');
    out.push('| --- | --- | --- | --- |');
    const shown = (v: unknown) => (v === null ? '—' : code(value(v)));
    for (const c of withFields) for (const f of c.fields) out.push(`| ${cell(describeResource(c.resource))} | ${cell(code(f.path))} | ${cell(shown(f.from))} | ${cell(shown(f.to))} |`);
    out.push('');
    out.push('</details>');
  }
  return `${out.join('\n')}\n`;
}
