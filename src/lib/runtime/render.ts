// Text renderings of a proxy snapshot: one table per section, columns named as istioctl proxy-config names
// them (so operators who know istioctl read meshctl at once), with meshctl's extra columns after them.
// A value the proxy does not expose prints as "-" and its reason is listed under the table, never as 0.
import { paint, type Paint } from '../output/format.js';
import { table as tableText } from '../output/table.js';
import type { ResilienceFigures } from './figures.js';
import type {
  Certificate,
  Cluster,
  Endpoint,
  Health,
  Listener,
  ProxySnapshot,
  RouteConfig,
  Section,
  Stats,
  TrafficStats,
} from './model.js';

export interface SectionTable {
  title: string;
  head: string[];
  rows: string[][];
  /** Sentences printed under the table. */
  notes: string[];
}

const UINT32_MAX = 4294967295;
const DASH = '-';

// ---------------------------------------------------------------- health

export function healthRows(health: Health): [string, string][] {
  const rows: [string, string][] = [];
  rows.push(['Ready', health.ready === null ? 'unknown' : health.ready ? 'yes' : 'no']);
  rows.push(['Reason', health.reason]);
  rows.push(['State', health.state ?? 'unknown']);
  rows.push(['Uptime', health.uptimeSeconds === null ? 'unknown' : duration(health.uptimeSeconds)]);
  rows.push(['Runtime', health.runtime]);
  rows.push([`${runtimeLabel(health.runtime)} Version`, health.version ?? 'unknown']);
  if (health.mesh?.name === 'istio') {
    rows.push(['Istio Version', health.mesh.version ?? 'unknown']);
    rows.push(['Istio Proxy Version', health.mesh.proxySha ?? 'unknown']);
  } else if (health.mesh) {
    rows.push([`${runtimeLabel(health.mesh.name)} Version`, health.mesh.version ?? 'unknown']);
  }
  const c = health.config;
  const against = c.status === 'UNKNOWN' ? '(no applied revision to compare with)' : `${c.status}${c.applied ? ` (applied: ${c.applied})` : ''}`;
  rows.push(['Config Revision', `${c.served ?? 'unknown'} ${against}`]);
  for (const [type, version] of Object.entries(c.byType)) rows.push([`  ${type}`, version]);
  return rows;
}

function runtimeLabel(runtime: string): string {
  return runtime === 'haproxy' ? 'HAProxy' : runtime === 'envoy' ? 'Envoy' : runtime.charAt(0).toUpperCase() + runtime.slice(1);
}

// ---------------------------------------------------------------- tables

/** Listeners without a socket (Envoy internal listeners) print port 0 and no address, as istioctl prints them. */
export function listenerTable(listeners: Listener[]): SectionTable {
  const rows: string[][] = [];
  for (const l of listeners) {
    const addresses = [l.address, ...l.additionalAddresses].filter(Boolean).join(',');
    // Chains by destination, descending, as istioctl lists them.
    const chains = [...l.filterChains].sort((a, b) => (a.destination < b.destination ? 1 : a.destination > b.destination ? -1 : 0));
    for (const chain of chains) {
      rows.push([l.name, addresses, String(l.port ?? 0), l.protocol, chain.match, chain.destination]);
    }
    if (!chains.length) rows.push([l.name, addresses, String(l.port ?? 0), l.protocol, '', '']);
  }
  return { title: 'Listeners', head: ['NAME', 'ADDRESSES', 'PORT', 'TYPE', 'MATCH', 'DESTINATION'], rows, notes: [] };
}

export function routeTable(routes: RouteConfig[]): SectionTable {
  const rows: string[][] = [];
  for (const rc of routes) {
    for (const vh of rc.virtualHosts) {
      for (const r of vh.routes) {
        if (r.passthrough) continue;
        rows.push([rc.name, vh.name, describeDomains(vh.domains), r.match, r.virtualService ?? '', describeDestinations(r)]);
      }
      if (!vh.routes.length) rows.push([rc.name, vh.name, describeDomains(vh.domains), '/*', '404', '']);
    }
  }
  return { title: 'Routes', head: ['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE', 'DESTINATIONS'], rows, notes: [] };
}

function describeDestinations(r: RouteConfig['virtualHosts'][number]['routes'][number]): string {
  if (r.action === 'redirect') return 'redirect';
  if (r.action === 'direct_response') return 'direct response';
  return r.destinations.map((d) => (d.weight === null ? d.cluster : `${d.cluster} (${d.weight})`)).join(', ');
}

/**
 * A virtual host's domains in a few words: the short names only (a domain with a port, or the same service
 * spelled with .svc or .svc.cluster.local, adds nothing), at most two and a count of the rest.
 */
export function describeDomains(domains: string[]): string {
  if (domains.length <= 1) return domains[0] ?? '';
  const withoutPort = domains.filter((d) => {
    if (!d.includes(':')) return true;
    // IPv6: keep a bare [addr], drop [addr]:port.
    return (d.match(/:/g)?.length ?? 0) > 2 && d.endsWith(']');
  });
  const present = new Set(withoutPort);
  const redundant = (d: string) =>
    ['.svc.cluster.local', '.svc'].some((suffix) => d.endsWith(suffix) && present.has(d.slice(0, -suffix.length)));
  const short = withoutPort.filter((d) => !redundant(d));
  if (short.length > 2) return `${short.slice(0, 2).join(', ')} + ${short.length - 2} more...`;
  return short.join(', ');
}

export function clusterTable(clusters: Cluster[]): SectionTable {
  const rows = clusters.map((c) => [
    c.name,
    c.host ?? c.name,
    c.port === null ? DASH : String(c.port),
    c.subset ?? DASH,
    c.direction ?? DASH,
    c.type ?? DASH,
    c.destinationRule ?? '',
    c.endpointCount === null ? DASH : String(c.endpointCount),
    describeBreakers(c),
  ]);
  const notes: string[] = [];
  const reasons = new Set(clusters.map((c) => c.circuitBreakers?.stateReason).filter((r): r is string => !!r));
  for (const r of reasons) notes.push(`Circuit-breaker state unknown: ${r}.`);
  notes.push('Circuit breakers: max connections / pending requests / requests / retries of the default priority.');
  return {
    title: 'Clusters',
    head: ['NAME', 'SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE', 'ENDPOINTS', 'CIRCUIT BREAKERS'],
    rows,
    notes,
  };
}

function limit(n: number | null): string {
  return n === null ? DASH : n >= UINT32_MAX ? 'max' : String(n);
}

function describeBreakers(c: Cluster): string {
  const cb = c.circuitBreakers;
  if (!cb) return DASH;
  const t = cb.thresholds.find((x) => x.priority === 'DEFAULT');
  const limits = t ? `${limit(t.maxConnections)}/${limit(t.maxPendingRequests)}/${limit(t.maxRequests)}/${limit(t.maxRetries)}` : DASH;
  const state = cb.state === 'open' ? `OPEN (${cb.open.join(', ')})` : cb.state === 'closed' ? 'closed' : '';
  return [limits, t?.defaulted ? '(Envoy defaults)' : '', state].filter(Boolean).join(' ');
}

export function endpointTable(endpoints: Endpoint[]): SectionTable {
  const rows = endpoints.map((e) => [
    e.port === null ? e.address : `${e.address.includes(':') && !e.address.includes('://') ? `[${e.address}]` : e.address}:${e.port}`,
    e.edsHealthStatus ?? DASH,
    e.locality,
    e.cluster,
    e.weight === null ? DASH : String(e.weight),
    e.flags.length ? `${healthWord(e.health)} (${e.flags.join(', ')})` : healthWord(e.health),
    e.activeConnections === null ? DASH : String(e.activeConnections),
    e.activeRequests === null ? DASH : String(e.activeRequests),
  ]);
  const notes: string[] = [];
  if (endpoints.some((e) => e.activeConnections === null)) notes.push('Active connections and requests are live figures: read them with --admin-url.');
  return { title: 'Endpoints', head: ['NAME', 'STATUS', 'LOCALITY', 'CLUSTER', 'WEIGHT', 'HEALTH', 'ACTIVE CX', 'ACTIVE RQ'], rows, notes };
}

function healthWord(h: Endpoint['health']): string {
  return h === 'failing_health_check' ? 'failing health check' : h;
}

/** The policy's actions on a row's requests, only those that happened: `retried 36 (+41 attempts), denied 4, ejected 1`. */
export function resilienceSummary(r: { [K in keyof ResilienceFigures]?: number | null }): string {
  const parts: string[] = [];
  if (r.retried) parts.push(`retried ${r.retried}${r.retries ? ` (+${r.retries} attempt${r.retries === 1 ? '' : 's'})` : ''}`);
  else if (r.retries) parts.push(`retries ${r.retries}`);
  const counts: [number | null | undefined, string][] = [
    [r.denied, 'denied'],
    [r.rateLimited, 'rate-limited'],
    [r.overflows, 'overflow'],
    [r.timeouts, 'timed out'],
    [r.noRoute, 'no route'],
    [r.upstreamFailures, 'upstream failure'],
    [r.ejected, 'ejected'],
  ];
  for (const [n, word] of counts) if (n) parts.push(`${word} ${n}`);
  return parts.join(', ');
}

export function statsTable(stats: Stats): SectionTable {
  const all = [...(stats.inbound ? [stats.inbound] : []), ...stats.upstreams];
  // The policy's column, as in top: only when it did something.
  const actions = all.map((t) => (t.resilience ? resilienceSummary({ ...t.resilience, retries: t.retries }) : ''));
  const acted = actions.some(Boolean);
  const num = (n: number | null) => (n === null ? DASH : String(n));
  const ms = (n: number | null) => (n === null ? DASH : `${n}ms`);
  const rows = all.map((t, i) => [
    t.direction === 'inbound' ? 'inbound' : t.name,
    num(t.requests),
    t.ratePerSecond === null ? DASH : t.ratePerSecond.toFixed(1),
    num(t.responses['2xx']),
    num(t.responses['3xx']),
    num(t.responses['4xx']),
    num(t.responses['5xx']),
    t.successRate === null ? DASH : `${t.successRate}%`,
    ms(t.latencyMs.p50),
    ms(t.latencyMs.p90),
    ms(t.latencyMs.p99),
    num(t.retries),
    num(t.ejections),
    ...(acted ? [actions[i] || DASH] : []),
  ]);
  return {
    title: `Stats (from ${stats.source})`,
    head: ['UPSTREAM', 'REQUESTS', 'RPS', '2XX', '3XX', '4XX', '5XX', 'SUCCESS', 'P50', 'P90', 'P99', 'RETRIES', 'EJECTIONS', ...(acted ? ['POLICY'] : [])],
    rows,
    notes: [...stats.notes.filter((n) => !n.includes(' clusters: ')), ...missingNotes(all)],
  };
}

const STATS_COLUMNS: Record<string, string> = {
  requests: 'REQUESTS',
  ratePerSecond: 'RPS',
  responses: '2XX-5XX',
  successRate: 'SUCCESS',
  latencyMs: 'P50-P99',
  retries: 'RETRIES',
  ejections: 'EJECTIONS',
};

/** "-" cells explained: one line per distinct reason, with the fields and how many rows it covers. */
function missingNotes(rows: TrafficStats[]): string[] {
  const byReason = new Map<string, { fields: Set<string>; rows: Set<string> }>();
  for (const r of rows) {
    for (const [f, reason] of Object.entries(r.missing)) {
      const entry = byReason.get(reason) ?? { fields: new Set(), rows: new Set() };
      entry.fields.add(f);
      entry.rows.add(r.name);
      byReason.set(reason, entry);
    }
  }
  return [...byReason.entries()].map(([reason, e]) => {
    const who = e.rows.size === 1 ? [...e.rows][0] : `${e.rows.size} rows`;
    const columns = [...e.fields].map((f) => STATS_COLUMNS[f] ?? f);
    return `- ${columns.join(', ')} (${who}): ${reason}.`;
  });
}

export function certTable(certs: Certificate[]): SectionTable {
  const rows = certs.map((c) => [
    c.resource,
    c.kind === 'ca' ? 'CA' : c.kind === 'cert_chain' ? 'Cert Chain' : '',
    c.status,
    String(c.valid),
    c.serial ?? '',
    c.notAfter ?? '',
    c.notBefore ?? '',
    c.trustDomain ?? '',
    c.spiffeId ?? '',
    c.issuer ?? DASH,
    c.secondsLeft === null ? DASH : c.secondsLeft < 0 ? `expired ${duration(-c.secondsLeft)} ago` : duration(c.secondsLeft),
  ]);
  const notes = [...new Set(certs.flatMap((c) => (c.serial !== null ? Object.values(c.missing) : [])))].map((r) => `${r}.`);
  return {
    title: 'Certificates',
    head: ['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE', 'TRUST DOMAIN', 'SPIFFE ID', 'ISSUER', 'TIME LEFT'],
    rows,
    notes,
  };
}

/** 3d 4h, 5h 2m, 42s: the two largest units. */
export function duration(seconds: number): string {
  const s = Math.floor(seconds);
  const units: [string, number][] = [
    ['y', 365 * 86400],
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  let rest = s;
  for (const [u, size] of units) {
    if (rest >= size || (u === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(rest / size)}${u}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

// ---------------------------------------------------------------- text

export function sectionTable(snapshot: ProxySnapshot, section: Exclude<Section, 'health' | 'config'>): SectionTable | null {
  switch (section) {
    case 'listeners':
      return snapshot.listeners ? listenerTable(snapshot.listeners) : null;
    case 'routes':
      return snapshot.routes ? routeTable(snapshot.routes) : null;
    case 'clusters':
      return snapshot.clusters ? clusterTable(snapshot.clusters) : null;
    case 'endpoints':
      return snapshot.endpoints ? endpointTable(snapshot.endpoints) : null;
    case 'stats':
      return snapshot.stats ? statsTable(snapshot.stats) : null;
    case 'certs':
      return snapshot.certs ? certTable(snapshot.certs) : null;
  }
}

/** Renders one section's text (no heading); empty when the section is unavailable. */
export function renderSection(snapshot: ProxySnapshot, section: Section, p: Paint = paint(false)): string {
  if (section === 'health') {
    if (!snapshot.health) return '';
    const rows = healthRows(snapshot.health);
    const width = Math.max(...rows.map(([k]) => k.length)) + 1;
    return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}${v}`).join('\n');
  }
  if (section === 'config') return snapshot.config === undefined || snapshot.config === null ? '' : JSON.stringify(snapshot.config, null, 2);
  const table = sectionTable(snapshot, section);
  if (!table) return '';
  if (!table.rows.length) return `No ${table.title.toLowerCase().replace(/ \(.*$/, '')}.`;
  const notes = table.notes.length ? `\n${table.notes.map((n) => p.dim(n)).join('\n')}` : '';
  return tableText(table.head, table.rows, p) + notes;
}

const TITLES: Record<Section, string> = {
  health: 'Health',
  listeners: 'Listeners',
  routes: 'Routes',
  clusters: 'Clusters',
  endpoints: 'Endpoints',
  stats: 'Stats',
  certs: 'Certificates',
  config: 'Config',
};

export function renderSnapshotText(snapshot: ProxySnapshot, options: { color: boolean }): string {
  const p = paint(options.color);
  const out: string[] = [p.dim(`${snapshot.source.runtime} proxy, read from ${snapshot.source.target} at ${snapshot.readAt}`)];
  const headings = snapshot.sections.length > 1;
  for (const section of snapshot.sections) {
    const body = snapshot.unavailable[section] ? p.yellow(`Not available: ${snapshot.unavailable[section]}.`) : renderSection(snapshot, section, p);
    out.push(headings ? `${p.bold(`── ${TITLES[section]}`)}\n${body}` : body);
  }
  return `${out.join('\n\n')}\n`;
}

/** inspect pod as text: the sections' tables, then a configuration kept as text (HAProxy's) as itself. */
export function inspectText(snapshot: ProxySnapshot, color: boolean): string {
  const raw = rawConfigText(snapshot.config);
  const tables = raw === null ? snapshot : { ...snapshot, sections: snapshot.sections.filter((s) => s !== 'config') };
  let text = tables.sections.length ? renderSnapshotText(tables, { color }) : '';
  if (raw !== null) text += `${text ? '\n' : ''}${snapshot.sections.length > 1 ? '── Config\n' : ''}${raw.endsWith('\n') ? raw : `${raw}\n`}`;
  return text;
}

function rawConfigText(config: unknown): string | null {
  const text = (config as { text?: unknown } | null | undefined)?.text;
  return typeof text === 'string' ? text : null;
}
