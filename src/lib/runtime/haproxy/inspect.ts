// One local HAProxy proxy (a pod's sidecar or an ingress proxy) read into the normalized model: its
// runtime API (show info / stat / ssl cert, the mesh's weights and revision), admin port, and the files
// in its directory (haproxy.cfg, compiled.json, certificates, access log, the pid file's start and reloads).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { environmentError } from '../../errors.js';
import { ReadOnce, type ProxyAdapter } from '../adapter.js';
import type {
  CircuitBreakers,
  Certificate,
  Cluster,
  Endpoint,
  EndpointHealth,
  FilterChainSummary,
  Health,
  Listener,
  ProxySource,
  RouteConfig,
  Route,
  Stats,
  TrafficStats,
  VirtualHost,
} from '../model.js';
import { certificateFromPem, isoSeconds, secondsUntil, withinValidity } from '../x509.js';
import type { CompiledProxy, CompiledRoute, ProxyTarget } from './types.js';
import { adminGet, type AdminAnswer } from './admin.js';
import { RuntimeApi, statNumber, type MeshState, type StatRow } from './runtime-api.js';
import { readPidFile, type HandOverRecord } from '../../system/pid-file.js';
import {
  conditionOf,
  conditionTerms,
  findSection,
  frontendAnswers,
  hostAcls,
  parseBind,
  parseConfigText,
  routeChoices,
  sectionMode,
  serversOf,
  type ParsedSection,
  type ServerLine,
} from './config-parse.js';
import { NOT_ENOUGH_TRAFFIC, figuresOf, noRequests, resilienceFiguresOf, upstreamKey, type ResilienceFigures, type TrafficFigures, type TrafficWindow } from '../figures.js';
import { figuresByUpstream, isPolicyDenial } from './traffic.js';
import { isEjected } from './ejections.js';
import { readRecentAccessLog, type RecentLog } from './access-log.js';
import { isRateLimitTable } from './rate-limit.js';

/** A local proxy as inspect needs it: a proxy target (who it is, its files, its admin port), its kind and its app's port. */
export interface LocalProxyTarget extends ProxyTarget {
  kind: 'sidecar' | 'gateway';
  ports: { admin: number; app?: number };
}

/** What the control plane knows of a pod that a proxy routes to (its readiness, from its own sidecar). */
export interface PeerReadiness {
  /** null: the pod's sidecar did not answer. */
  ready: boolean | null;
  reason: string;
}

export interface HaproxyAdapterOptions {
  /** The revision the control plane applied; null when unknown. */
  appliedRevision?: number | null;
  /** The meshctl version that installed the mesh, shown beside HAProxy's. */
  meshVersion?: string | null;
  /** Readiness of the pod behind a server name; null when the server is not a pod of the mesh. */
  peer?: (server: string) => Promise<PeerReadiness | null>;
  timeoutMs?: number;
  now?: () => Date;
}

/** Requests per second are computed over this window, from the access log. */
export const RATE_WINDOW_SECONDS = 60;

/** The backend serving a sidecar's own app. */
const APP_BACKEND = 'inbound_app';

interface SslCertFacts {
  serial: string | null;
  notBefore: string | null;
  notAfter: string | null;
  issuer: string | null;
}

/** Parses the runtime API's `show ssl cert <file>`. */
export function parseShowSslCert(text: string): SslCertFacts {
  const field = (name: string): string | null => {
    const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text);
    const v = m?.[1]?.trim();
    return v ? v : null;
  };
  const date = (v: string | null) => {
    if (!v) return null;
    const t = Date.parse(v);
    return Number.isFinite(t) ? isoSeconds(new Date(t)) : null;
  };
  return { serial: field('Serial')?.toLowerCase() ?? null, notBefore: date(field('notBefore')), notAfter: date(field('notAfter')), issuer: field('Issuer') };
}

function sameSerial(a: string | null, b: string | null): boolean {
  if (!a || !b) return false;
  const norm = (s: string) => s.toLowerCase().replace(/[^0-9a-f]/g, '').replace(/^0+/, '');
  return norm(a) === norm(b);
}

export class HaproxyAdapter implements ProxyAdapter {
  readonly source: ProxySource;
  private readonly runtime: RuntimeApi;
  private readonly now: () => Date;
  private readonly timeoutMs: number;
  private readonly reads = new ReadOnce();

  constructor(readonly target: LocalProxyTarget, private readonly options: HaproxyAdapterOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.now = options.now ?? (() => new Date());
    this.runtime = new RuntimeApi(target.paths.runtimeSocket, this.timeoutMs);
    this.source = { runtime: 'haproxy', kind: 'local', target: `${target.namespace}/${target.name}` };
  }

  private get who(): string {
    return `${this.target.kind === 'gateway' ? 'gateway proxy' : 'sidecar of pod'} ${this.target.namespace}/${this.target.name}`;
  }

  /** `show info`; also the reachability check every section starts with. */
  private info(): Promise<Record<string, string>> {
    return this.reads.get('info', async () => {
      try {
        return await this.runtime.showInfo();
      } catch (err) {
        const message = (err as Error).message;
        const code = /\(([A-Z][A-Z0-9_]+)\)/.exec(message)?.[1];
        const why = code ?? (/within \d+ ms/.test(message) ? `no answer within ${this.timeoutMs} ms` : message.replace(/\.$/, ''));
        throw environmentError(`The ${this.who} does not answer on its runtime API socket ${this.target.paths.runtimeSocket} (${why}); check that it runs with meshctl status.`);
      }
    });
  }

  private stat(): Promise<StatRow[]> {
    return this.reads.get('stat', async () => {
      await this.info();
      return this.runtime.showStat();
    });
  }

  private meshState(): Promise<MeshState | null> {
    return this.reads.get('mesh', async () => {
      await this.info();
      try {
        return await this.runtime.meshState();
      } catch {
        return null;
      }
    });
  }

  private ready(): Promise<AdminAnswer | Error> {
    return this.reads.get('ready', () => adminGet(this.target.ports.admin, '/ready', this.timeoutMs).catch((err: Error) => err));
  }

  /** The proxy's pid file: its first start and its reloads since (a reload's successor carries them on). */
  private processRecord(): Promise<HandOverRecord | null> {
    return this.reads.get('pid', () => readPidFile<HandOverRecord>(this.target.paths.pid));
  }

  private configText(): Promise<string | null> {
    return this.reads.get('cfg', () => fs.readFile(this.target.paths.config, 'utf8').catch(() => null));
  }

  private async sections(): Promise<ParsedSection[]> {
    return this.reads.get('sections', async () => parseConfigText((await this.configText()) ?? ''));
  }

  private compiled(): Promise<CompiledProxy | null> {
    return this.reads.get('compiled', async () => {
      try {
        return JSON.parse(await fs.readFile(this.target.paths.state, 'utf8')) as CompiledProxy;
      } catch {
        return null;
      }
    });
  }

  private accessLog(): Promise<RecentLog> {
    return this.reads.get('log', () => readRecentAccessLog(this.target.paths.accessLog));
  }

  // ---------------------------------------------------------------- health

  async health(): Promise<Health> {
    const info = await this.info();
    const [ready, mesh, record, compiled, stat] = await Promise.all([this.ready(), this.meshState(), this.processRecord(), this.compiled(), this.stat()]);
    const stopping = info.Stopping === '1';
    // The proxy's own uptime restarts with each reload's successor; the pid file keeps the first start.
    const firstStart = record && String(record.pid) === info.Pid && record.startedAt ? Date.parse(record.startedAt) : NaN;
    const reloads = Number.isFinite(firstStart) ? record?.reloads ?? 0 : 0;
    const uptime = Number.isFinite(firstStart) ? Math.max(0, Math.floor((this.now().getTime() - firstStart) / 1000)) : info.Uptime_sec !== undefined ? Number(info.Uptime_sec) : null;
    const served = mesh && mesh.revision >= 0 ? mesh.revision : ready instanceof Error || ready.revision < 0 ? null : ready.revision;
    const applied = this.options.appliedRevision ?? null;
    const byType: Record<string, string> = {};
    if (served !== null) byType.runtime = String(served);
    if (compiled) byType['compiled.json'] = String(compiled.revision);
    let isReady: boolean;
    let reason: string;
    if (stopping) {
      isReady = false;
      reason = 'The proxy is stopping: it finishes its requests and takes no new ones.';
    } else if (ready instanceof Error) {
      isReady = false;
      reason = `The admin port 127.0.0.1:${this.target.ports.admin} does not answer (${ready.message.replace(/\.$/, '')}).`;
    } else if (ready.status === 200) {
      isReady = true;
      reason = this.target.kind === 'sidecar' && this.target.ports.app
        ? `The proxy runs and its app answers its health check on 127.0.0.1:${this.target.ports.app}.`
        : 'The proxy runs and answers on its admin port.';
    } else {
      isReady = false;
      const app = stat.find((r) => r.proxy === APP_BACKEND && r.type === 'server');
      const check = app ? [app.fields.check_status, app.fields.check_desc].filter(Boolean).join(' ') : '';
      reason = ready.status === 503 && this.target.kind === 'sidecar'
        ? `The app does not answer its health check on 127.0.0.1:${this.target.ports.app ?? '?'}${check ? ` (${check})` : ''}.`
        : `The admin port answered /ready with HTTP ${ready.status} ("${ready.body.trim()}").`;
    }
    if (reloads > 0 && isReady) reason = reason.replace(/\.$/, `; reloaded ${reloads} time${reloads === 1 ? '' : 's'} since it started.`);
    return {
      ready: isReady,
      reason,
      state: stopping ? 'DRAINING' : 'LIVE',
      uptimeSeconds: uptime,
      runtime: 'haproxy',
      version: info.Version ?? null,
      mesh: { name: 'meshctl', version: this.options.meshVersion ?? null, proxySha: null },
      config: {
        served: served === null ? null : String(served),
        applied: applied === null ? null : String(applied),
        status: served === null || applied === null ? 'UNKNOWN' : served === applied ? 'SYNCED' : 'STALE',
        byType,
      },
    };
  }

  // ---------------------------------------------------------------- listeners

  async listeners(): Promise<Listener[]> {
    const [stat, sections] = await Promise.all([this.stat(), this.sections()]);
    const live = new Set(stat.filter((r) => r.type === 'frontend').map((r) => r.proxy));
    const out: Listener[] = [];
    for (const s of sections) {
      if (s.kind !== 'frontend' || !live.has(s.name)) continue;
      const binds = s.lines.filter((l) => l[0] === 'bind').map(parseBind);
      const first = binds[0];
      out.push({
        name: s.name,
        address: first?.address ?? '',
        additionalAddresses: binds.slice(1).map((b) => (b.port === null ? b.address : `${b.address}:${b.port}`)),
        port: first?.port ?? null,
        internal: Boolean(first?.unix),
        protocol: sectionMode(sections, s) === 'tcp' ? 'TCP' : 'HTTP',
        direction: s.name === 'admin' ? null : s.name.startsWith('inbound') ? 'INBOUND' : 'OUTBOUND',
        filterChains: filterChains(s, sections),
      });
    }
    return out;
  }

  // ---------------------------------------------------------------- routes

  async routes(): Promise<RouteConfig[]> {
    const [sections, compiled, mesh] = await Promise.all([this.sections(), this.compiled(), this.meshState()]);
    const routing = sections.filter((s) => s.kind === 'frontend' && s.lines.some((l) => l[1] === 'set-var(txn.route)'));
    return routing.map((frontend) => {
      const acls = hostAcls(frontend);
      const answers = frontendAnswers(frontend);
      const choices = routeChoices(frontend);
      const hosts: VirtualHost[] = [];
      const byAcl = new Map<string, VirtualHost>();
      const seen = new Set<string>();
      for (const choice of choices) {
        const acl = choice.acls[0] ?? '';
        let vh = byAcl.get(acl);
        const route = compiled?.routes.find((r) => r.id === choice.routeId) ?? null;
        if (!vh) {
          vh = { name: route?.hosts.join(',') || acl, domains: acls.get(acl) ?? [], routes: [] };
          byAcl.set(acl, vh);
          hosts.push(vh);
        }
        // A route with several matches has one directive each: one row, its matches joined.
        const existing = vh.routes.find((r) => r.name === choice.routeId);
        if (existing) {
          if (seen.has(`${choice.routeId}\0${choice.match}`)) continue;
          existing.match = `${existing.match} | ${choice.match}`;
        } else {
          vh.routes.push(modelRoute(choice.routeId, choice.match, route, answers.get(choice.routeId), mesh));
        }
        seen.add(`${choice.routeId}\0${choice.match}`);
      }
      return { name: frontend.name, source: 'dynamic', virtualHosts: hosts };
    });
  }

  // ---------------------------------------------------------------- clusters and endpoints

  /** Backends that are upstream clusters (not the UNIX-socket plumbing of a PERMISSIVE inbound listener, nor a rate limit's table). */
  private async clusterSections(): Promise<ParsedSection[]> {
    const sections = await this.sections();
    return sections.filter((s) => s.kind === 'backend' && !serversOf(s).some((v) => v.unix) && !isRateLimitTable(s.name));
  }

  async clusters(): Promise<Cluster[]> {
    const [stat, backends, compiled] = await Promise.all([this.stat(), this.clusterSections(), this.compiled()]);
    const destinations = destinationIndex(compiled);
    const out: Cluster[] = [];
    for (const b of backends) {
      const rows = stat.filter((r) => r.proxy === b.name && r.type === 'server');
      const lines = serversOf(b);
      const dest = destinations.get(b.name);
      const inbound = b.name === APP_BACKEND;
      out.push({
        name: b.name,
        host: dest?.host ?? null,
        subset: dest?.subset ? dest.subset : null,
        port: inbound ? (lines[0]?.port ?? null) : null,
        direction: inbound ? 'inbound' : 'outbound',
        type: 'STATIC',
        destinationRule: null,
        circuitBreakers: breakers(rows, lines),
        outlierDetection: lines.some((l) => l.observe),
        endpointCount: rows.length,
      });
    }
    return out;
  }

  async endpoints(): Promise<Endpoint[]> {
    const [stat, backends] = await Promise.all([this.stat(), this.clusterSections()]);
    const peers = new Map<string, Promise<PeerReadiness | null>>();
    const peerOf = (server: string) => {
      if (!this.options.peer) return Promise.resolve(null);
      let p = peers.get(server);
      if (!p) peers.set(server, (p = this.options.peer(server).catch(() => null)));
      return p;
    };
    const rows: { backend: ParsedSection; row: StatRow; line: ServerLine | undefined; inbound: boolean }[] = [];
    for (const b of backends) {
      const lines = serversOf(b);
      for (const row of stat.filter((r) => r.proxy === b.name && r.type === 'server')) {
        rows.push({ backend: b, row, line: lines.find((l) => l.name === row.name), inbound: b.name === APP_BACKEND });
      }
    }
    return Promise.all(rows.map(async ({ backend, row, line, inbound }) => {
      const peer = inbound ? null : await peerOf(row.name);
      const { health, flags } = endpointHealth(row, line, peer);
      const addr = row.fields.addr || (line ? `${line.address}:${line.port ?? ''}` : '');
      const colon = addr.lastIndexOf(':');
      const port = Number(addr.slice(colon + 1));
      const conns = ['used_conn_cur', 'idle_conn_cur', 'safe_conn_cur'].filter((f) => row.fields[f] !== undefined && row.fields[f] !== '');
      return {
        cluster: backend.name,
        address: colon > 0 ? addr.slice(0, colon) : addr,
        port: Number.isInteger(port) && colon > 0 ? port : null,
        weight: row.fields.weight === undefined || row.fields.weight === '' ? null : statNumber(row, 'weight'),
        health,
        flags,
        edsHealthStatus: peer === null ? null : peer.ready === true ? 'HEALTHY' : peer.ready === false ? 'UNHEALTHY' : 'UNKNOWN',
        activeConnections: conns.length ? conns.reduce((n, f) => n + statNumber(row, f), 0) : null,
        activeRequests: statNumber(row, 'scur') + statNumber(row, 'qcur'),
        locality: '',
        hostname: inbound ? null : row.name,
        priority: statNumber(row, 'bck') > 0 ? 1 : 0,
      } satisfies Endpoint;
    }));
  }

  // ---------------------------------------------------------------- stats

  async stats(): Promise<Stats> {
    const [stat, log, backends, compiled] = await Promise.all([this.stat(), this.accessLog(), this.clusterSections(), this.compiled()]);
    const now = this.now().getTime();
    // Counts cover every request of the log read, like a proxy's counters; rates the last minute.
    const whole: TrafficWindow = { sinceMs: -Infinity, untilMs: Infinity };
    const lastMinute: TrafficWindow = { sinceMs: now - RATE_WINDOW_SECONDS * 1000, untilMs: now };
    const counted = new Map(figuresByUpstream(log.entries, whole).map((u) => [upstreamKey(u.host, u.subset), u]));
    const rates = new Map(figuresByUpstream(log.entries, lastMinute).map((u) => [upstreamKey(u.host, u.subset), u.ratePerSecond]));
    // Every upstream the proxy routes to has a row, with or without traffic.
    const upstreams = new Map<string, { host: string; subset: string; backends: string[] }>();
    const upstream = (host: string, subset: string) => {
      const key = upstreamKey(host, subset);
      let u = upstreams.get(key);
      if (!u) upstreams.set(key, (u = { host, subset, backends: [] }));
      return u;
    };
    for (const r of compiled?.routes ?? []) for (const d of r.destinations) upstream(d.host, d.subset).backends.push(d.backend);
    // Requests no route took are said in a note below, not as an upstream.
    for (const u of counted.values()) if (u.resilience?.noRoute !== u.requests) upstream(u.host, u.subset);
    const rows = [...upstreams.entries()].sort(([, a], [, b]) => a.host.localeCompare(b.host) || a.subset.localeCompare(b.subset)).map(([key, u]) => {
      const row = trafficRow(u.subset ? `${u.host}|${u.subset}` : u.host, 'outbound', u.host, u.subset || null, counted.get(key) ?? noRequests(), rates.get(key) ?? 0);
      const ejectedNow = new Set(stat.filter((r) => u.backends.includes(r.proxy) && isEjected(r)).map((r) => r.name)).size;
      row.resilience = resilienceOf(counted.get(key)?.resilience, ejectedNow);
      const servers = backends.filter((b) => u.backends.includes(b.name));
      const observed = servers.some((b) => serversOf(b).some((l) => l.observe));
      if (observed) {
        row.ejections = stat.filter((r) => r.type === 'server' && u.backends.includes(r.proxy)).reduce((n, r) => n + statNumber(r, 'chkdown'), 0);
      } else {
        row.missing.ejections = 'no outlier detection is configured for this upstream';
      }
      return row;
    });
    const incomingDirection = this.target.kind === 'gateway' ? 'ingress' : 'inbound';
    const incoming = log.entries.filter((e) => e.direction === incomingDirection);
    const inbound = trafficRow('inbound', 'inbound', null, null, figuresOf(incoming, whole), figuresOf(incoming, lastMinute).ratePerSecond);
    inbound.retries = null;
    inbound.missing.retries = 'retries are made by the proxies that call this one';
    inbound.ejections = null;
    inbound.missing.ejections = 'ejections apply to upstreams';
    inbound.resilience = resilienceOf(resilienceFiguresOf(incoming, whole, (e) => ({ denied: isPolicyDenial(e), rateLimited: false })), null);
    const notes: string[] = [];
    const first = log.entries.reduce<number | null>((m, e) => (m === null || e.startMs < m ? e.startMs : m), null);
    if (log.missing) notes.push('the proxy has written no access log yet');
    else if (first !== null) notes.push(`counts cover the requests logged since ${isoSeconds(new Date(first))}${log.truncated ? ' (the older part of the log was not read)' : ''}`);
    notes.push(`rates: requests per second over the last ${RATE_WINDOW_SECONDS}s`);
    const direction = this.target.kind === 'gateway' ? 'ingress' : 'outbound';
    const unrouted = log.entries.filter((e) => e.direction === direction && !e.destinationHost).length;
    if (unrouted) notes.push(`${unrouted} ${direction} request${unrouted === 1 ? '' : 's'} matched no route (404) and belong to no upstream`);
    return { upstreams: rows, inbound, source: `access log ${this.target.paths.accessLog} and the runtime API (show stat)`, notes };
  }

  // ---------------------------------------------------------------- certs

  async certs(): Promise<Certificate[]> {
    await this.info();
    const now = this.now();
    const file = this.target.paths.certificate;
    const [leafPem, caPem, live] = await Promise.all([
      fs.readFile(file, 'utf8').catch(() => null),
      fs.readFile(this.target.paths.caBundle, 'utf8').catch(() => null),
      this.runtime.command(`show ssl cert ${file}`).then(parseShowSslCert, () => null),
    ]);
    const out: Certificate[] = [];
    const resource = path.basename(file);
    if (leafPem === null) {
      out.push(missingCertificate(resource, `${file} cannot be read`));
    } else {
      const fromFile = certificateFromPem(leafPem, { resource, status: 'ACTIVE' }, now);
      if (live?.serial && fromFile.serial && !sameSerial(live.serial, fromFile.serial)) {
        // The file was renewed but the proxy still serves the certificate it loaded before.
        out.push({ ...fromFile, status: 'WARMING' });
        out.push(servedCertificate(resource, live, fromFile, now));
      } else {
        out.push(fromFile);
      }
    }
    if (caPem !== null) out.push(certificateFromPem(caPem, { resource: path.basename(this.target.paths.caBundle), status: 'ACTIVE' }, now));
    return out;
  }

  // ---------------------------------------------------------------- config

  async config(): Promise<unknown> {
    await this.info();
    const text = await this.configText();
    if (text === null) throw environmentError(`${this.target.paths.config} cannot be read.`);
    return { file: this.target.paths.config, format: 'haproxy', text };
  }
}

// ---------------------------------------------------------------- pieces

function destinationIndex(compiled: CompiledProxy | null): Map<string, { host: string; subset: string }> {
  const out = new Map<string, { host: string; subset: string }>();
  for (const r of compiled?.routes ?? []) {
    for (const d of r.destinations) out.set(d.backend, { host: d.host, subset: d.subset });
    // Mirror backends are clusters of the mirror destination too.
    for (const m of r.mirrors ?? []) out.set(m.backend, { host: m.host, subset: m.subset });
  }
  return out;
}

function modelRoute(id: string, match: string, route: CompiledRoute | null, answer: 'redirect' | 'direct_response' | undefined, mesh: MeshState | null): Route {
  const served = mesh?.routes.get(id);
  const destinations = (route?.destinations ?? []).map((d) => ({
    cluster: d.backend,
    weight: route && route.destinations.length > 1 ? (served?.find((s) => s.backend === d.backend)?.weight ?? d.weight) : null,
  }));
  const vs = route?.virtualService;
  return {
    name: id,
    match,
    action: destinations.length ? 'route' : answer ?? 'unknown',
    destinations,
    virtualService: vs ? `${vs.name}.${vs.namespace}` : null,
    passthrough: false,
  };
}

/** What each frontend matches and where it sends traffic, in istioctl's words. */
function filterChains(frontend: ParsedSection, sections: ParsedSection[]): FilterChainSummary[] {
  const binds = frontend.lines.filter((l) => l[0] === 'bind').map(parseBind);
  const tls = binds.some((b) => b.tls);
  const mtls = binds.some((b) => b.clientCertificate);
  const target = (backend: string): string => {
    const b = findSection(sections, 'backend', backend);
    const unix = b ? serversOf(b).find((s) => s.unix) : undefined;
    if (unix) {
      const listener = sections.find((s) => s.kind === 'frontend' && s.lines.some((l) => l[0] === 'bind' && parseBind(l).address === unix.address));
      if (listener) return `Listener: ${listener.name}`;
    }
    return `Cluster: ${backend}`;
  };
  const own = tls ? (mtls ? 'Trans: tls (client certificate required)' : 'Trans: tls') : 'ALL';
  const chains: FilterChainSummary[] = [];
  let sawTls = false;
  for (const l of frontend.lines) {
    if (l[0] === 'use_backend' && l[1] === '%[var(txn.backend)]') {
      chains.push({ name: null, match: own, destination: `Route: ${frontend.name}` });
    } else if (l[0] === 'use_backend' && l[1]) {
      const { terms } = conditionTerms(conditionOf(l)?.words ?? []);
      const isTls = terms.some((t) => t.fetch === 'req.ssl_hello_type');
      sawTls ||= isTls;
      chains.push({ name: null, match: isTls ? 'Trans: tls' : terms.map((t) => `${t.fetch} ${t.values.join(' ')}`).join('; ') || own, destination: target(l[1]) });
    }
  }
  const fallback = frontend.lines.find((l) => l[0] === 'default_backend')?.[1];
  if (fallback) chains.push({ name: null, match: sawTls ? 'Trans: raw_buffer' : own, destination: target(fallback) });
  if (!chains.length) {
    const paths = new Set<string>();
    for (const l of frontend.lines) {
      if (l[0] !== 'http-request') continue;
      for (const t of conditionTerms(conditionOf(l)?.words ?? []).terms) if (t.fetch === 'path' && !t.negated) paths.add(t.values[0] ?? '');
    }
    chains.push({ name: null, match: own, destination: paths.size ? `Inline Route: ${[...paths].join(' ')}` : 'Inline Route' });
  }
  return chains;
}

function breakers(rows: StatRow[], lines: ServerLine[]): CircuitBreakers {
  const maxconn = lines.map((l) => l.maxconn).filter((n): n is number => n !== null);
  const maxqueue = lines.map((l) => l.maxqueue).filter((n): n is number => n !== null);
  const open: string[] = [];
  for (const r of rows) {
    const slim = r.fields.slim ? Number(r.fields.slim) : null;
    const qlimit = r.fields.qlimit ? Number(r.fields.qlimit) : null;
    if (slim !== null && statNumber(r, 'scur') >= slim) open.push(`${r.name}.max_requests`);
    if (qlimit !== null && statNumber(r, 'qcur') >= qlimit) open.push(`${r.name}.max_pending_requests`);
  }
  const thresholds = maxconn.length || maxqueue.length
    ? [{ priority: 'DEFAULT' as const, maxConnections: null, maxPendingRequests: maxqueue.length ? Math.min(...maxqueue) : null, maxRequests: maxconn.length ? Math.min(...maxconn) : null, maxRetries: null, defaulted: false }]
    : [];
  return { thresholds, state: open.length ? 'open' : 'closed', open, stateReason: null };
}

/**
 * An endpoint's health from HAProxy's own view of the server (maintenance, drain, failed checks,
 * passive ejection) and, for a pod of the mesh, the pod's readiness as its own sidecar reports it.
 */
export function endpointHealth(row: StatRow, line: ServerLine | undefined, peer: PeerReadiness | null): { health: EndpointHealth; flags: string[] } {
  const status = (row.fields.status ?? '').trim();
  const check = [row.fields.check_status, row.fields.check_desc].filter(Boolean).join(': ');
  if (status.startsWith('MAINT')) return { health: 'down', flags: [`maintenance${status.length > 5 ? ` ${status.slice(5).trim()}` : ''}`] };
  if (status === 'DRAIN' || status === 'NOLB') return { health: 'draining', flags: [status === 'DRAIN' ? 'draining' : 'no new connections'] };
  if (status.startsWith('DOWN')) {
    if (line?.observe && statNumber(row, 'hanafail') > 0) return { health: 'ejected', flags: [`failed_outlier_check (${statNumber(row, 'hanafail')} failed responses)`] };
    return { health: 'failing_health_check', flags: [check || 'health check failed'] };
  }
  if (peer && peer.ready === false) return { health: 'down', flags: [peer.reason] };
  if (peer && peer.ready === null) return { health: 'down', flags: [peer.reason] };
  if (/^UP \d+\/\d+$/.test(status)) return { health: 'healthy', flags: [`health check failing ${status.slice(3)}${check ? ` (${check})` : ''}`] };
  if (status === 'UP' || status === 'no check' || status === 'OPEN') return { health: 'healthy', flags: [] };
  return { health: 'unknown', flags: status ? [status] : [] };
}

/** A row's resilience figures, as top counts them, with the endpoints this proxy has ejected now. */
function resilienceOf(f: ResilienceFigures | undefined, ejected: number | null): NonNullable<TrafficStats['resilience']> {
  return {
    retried: f?.retried ?? 0,
    overflows: f?.overflows ?? 0,
    rateLimited: f?.rateLimited ?? 0,
    denied: f?.denied ?? 0,
    timeouts: f?.timeouts ?? 0,
    noRoute: f?.noRoute ?? 0,
    upstreamFailures: f?.upstreamFailures ?? 0,
    ejected,
  };
}

/**
 * A row of the runtime-neutral stats model from the traffic pipeline's figures. The model has no class
 * for requests cut off without a status: they count as 5xx, as they do in the success rate.
 */
function trafficRow(name: string, direction: 'inbound' | 'outbound', host: string | null, subset: string | null, f: TrafficFigures, ratePerSecond: number): TrafficStats {
  const missing: Record<string, string> = {};
  if (f.successRate === null) missing.successRate = NOT_ENOUGH_TRAFFIC;
  if (f.latencyMs.p50 === null) missing.latencyMs = NOT_ENOUGH_TRAFFIC;
  const c = f.statusClasses;
  return {
    name,
    direction,
    host,
    subset,
    requests: f.requests,
    ratePerSecond,
    responses: { '2xx': c['2xx'], '3xx': c['3xx'], '4xx': c['4xx'], '5xx': c['5xx'] + c.other },
    successRate: f.successRate,
    latencyMs: { p50: f.latencyMs.p50, p90: f.latencyMs.p90, p99: f.latencyMs.p99 },
    retries: f.retries,
    ejections: null,
    missing,
  };
}

function missingCertificate(resource: string, reason: string): Certificate {
  const missing: Record<string, string> = {};
  for (const f of ['kind', 'spiffeId', 'subject', 'issuer', 'serial', 'notBefore', 'notAfter', 'secondsLeft']) missing[f] = reason;
  return { resource, kind: null, status: 'UNINITIALIZED', spiffeId: null, trustDomain: null, subject: null, issuer: null, serial: null, notBefore: null, notAfter: null, secondsLeft: null, valid: false, chainLength: 0, missing };
}

/** The certificate the proxy serves, from the runtime API, when it is not the one in the file. */
function servedCertificate(resource: string, live: SslCertFacts, file: Certificate, now: Date): Certificate {
  const reason = 'the runtime API does not show the SPIFFE ID of the certificate it serves';
  return {
    resource: `${resource} (served)`,
    kind: 'cert_chain',
    status: 'ACTIVE',
    spiffeId: null,
    trustDomain: file.trustDomain,
    subject: null,
    issuer: live.issuer,
    serial: live.serial,
    notBefore: live.notBefore,
    notAfter: live.notAfter,
    secondsLeft: live.notAfter ? secondsUntil(live.notAfter, now) : null,
    valid: live.notBefore && live.notAfter ? withinValidity(live.notBefore, live.notAfter, now) : false,
    chainLength: 1,
    missing: { spiffeId: reason, subject: reason },
  };
}
