// The two ways meshctl reads an Envoy proxy: its live admin API, or a config dump saved to a file.
import { readFile } from 'node:fs/promises';
import { environmentError, usageError } from '../../errors.js';
import { ReadOnce, SectionUnavailable, type ProxyAdapter } from '../adapter.js';
import type { Certificate, Cluster, Endpoint, Health, Listener, ProxySource, RouteConfig, Stats } from '../model.js';
import { parsePrometheusText } from '../prometheus.js';
import { withRates } from '../rates.js';
import { AdminHttpError, EnvoyAdminClient, parseAdminJson } from './admin-client.js';
import { parseCertsJson } from './certs.js';
import { parseClustersJson, type ClusterStatus } from './clusters.js';
import {
  compareClusterNames,
  dumpCertificates,
  dumpClusters,
  dumpEndpoints,
  dumpListeners,
  dumpRoutes,
  envoyVersionOf,
  meshBuildOf,
  readConfigDump,
  revisionOf,
  type ConfigDump,
} from './config-dump.js';
import { trafficFromPrometheus } from './prometheus-stats.js';
import { healthFromServer, parseReady, parseServerInfo, type ServerInfo } from './server-info.js';
import { openBreakers, parseStatsJson, trafficFromStatSet, type StatSet } from './stats.js';

const ISTIO_HIDDEN =
  "Istio's default proxyStatsMatcher hides per-cluster request stats; to see them, annotate the pod with " +
  'proxy.istio.io/config: \'{"proxyStatsMatcher":{"inclusionPrefixes":["cluster.outbound"]}}\'';
const GENERIC_HIDDEN = 'the proxy exposes no request stats for this cluster (a stats_matcher may exclude them)';

/** Why a cluster's request stats are missing, for a proxy that is (or is not) an Istio sidecar. */
export function hiddenStatsReason(istio: boolean): string {
  return istio ? ISTIO_HIDDEN : GENERIC_HIDDEN;
}

// ---------------------------------------------------------------- a saved config dump

export class ConfigDumpAdapter implements ProxyAdapter {
  readonly source: ProxySource;
  private readonly dump: ConfigDump;
  private readonly now: () => Date;

  constructor(dump: ConfigDump, source: ProxySource, now: () => Date = () => new Date()) {
    this.dump = dump;
    this.source = source;
    this.now = now;
  }

  /** Reads a config dump file; unreadable, truncated or non-JSON files are usage errors naming the file. */
  static async fromFile(file: string, now?: () => Date): Promise<ConfigDumpAdapter> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw usageError(`Cannot read --from-file ${file} (${code === 'ENOENT' ? 'no such file' : code ?? String(err)}).`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      const what = /^\s*[[{]/.test(text) ? 'truncated or invalid JSON' : 'not JSON';
      throw usageError(`--from-file ${file} is ${what} (${(err as Error).message}); save the dump again with \`curl localhost:15000/config_dump?include_eds > ${file}\`.`);
    }
    return new ConfigDumpAdapter(readConfigDump(doc, file), { runtime: 'envoy', kind: 'config-dump', target: file }, now);
  }

  async health(): Promise<Health> {
    const node = this.dump.bootstrap ? (this.dump.bootstrap.node ?? null) : null;
    return {
      ready: null,
      reason: 'A saved config dump does not say whether the proxy was ready; read the live admin API with --admin-url for that.',
      state: null,
      uptimeSeconds: null,
      runtime: 'envoy',
      version: envoyVersionOf(node),
      mesh: meshBuildOf(node),
      config: revisionOf(this.dump.versions),
    };
  }

  async listeners(): Promise<Listener[]> {
    return dumpListeners(this.dump);
  }

  async routes(): Promise<RouteConfig[]> {
    return dumpRoutes(this.dump);
  }

  async clusters(): Promise<Cluster[]> {
    return dumpClusters(this.dump);
  }

  async endpoints(): Promise<Endpoint[]> {
    return dumpEndpoints(this.dump);
  }

  async stats(): Promise<Stats> {
    throw new SectionUnavailable('stats', 'a config dump holds configuration, not traffic; read the live admin API with --admin-url for stats');
  }

  async certs(): Promise<Certificate[]> {
    if (!this.dump.hasSecretsDump) throw new SectionUnavailable('certs', 'the config dump has no secrets (SecretsConfigDump)');
    return dumpCertificates(this.dump, this.now());
  }

  async config(): Promise<unknown> {
    return this.dump.raw;
  }
}

// ---------------------------------------------------------------- a live admin API

export class EnvoyAdminAdapter implements ProxyAdapter {
  readonly source: ProxySource;
  private readonly client: EnvoyAdminClient;
  private readonly now: () => Date;
  private readonly reads = new ReadOnce();

  private readonly rateWindowMs: number;

  /** With `rateWindowMs`, stats are read twice that far apart and request rates computed from the two readings. */
  constructor(client: EnvoyAdminClient, now: () => Date = () => new Date(), options: { rateWindowMs?: number } = {}) {
    this.client = client;
    this.now = now;
    this.rateWindowMs = options.rateWindowMs ?? 0;
    this.source = { runtime: 'envoy', kind: 'admin', target: client.baseUrl };
  }

  private configDump(): Promise<ConfigDump> {
    return this.reads.get('config_dump', async () => {
      const path = '/config_dump?include_eds';
      return readConfigDump(await this.client.json(path), `${this.client.baseUrl}${path}`);
    });
  }

  private clusterStatuses(): Promise<ClusterStatus[]> {
    return this.reads.get('clusters', async () => parseClustersJson(await this.client.json('/clusters?format=json')));
  }

  private statSet(): Promise<StatSet> {
    return this.reads.get('stats', async () => parseStatsJson(await this.client.json('/stats?format=json')));
  }

  private serverInfo(): Promise<ServerInfo> {
    return this.reads.get('server_info', async () => parseServerInfo(await this.client.json('/server_info')));
  }

  /**
   * Refuses an address that is not an Envoy admin API (another HTTP server answers every admin path with
   * 404): every section would otherwise read as "not available" and the command would pass.
   */
  async verify(): Promise<void> {
    try {
      await this.serverInfo();
    } catch (err) {
      if (!(err instanceof AdminHttpError) || err.status !== 404) throw err;
      throw environmentError(
        `${this.client.baseUrl} is not an Envoy admin API (it answered /server_info with HTTP 404); point --admin-url at an Envoy admin port (in an Istio pod: kubectl port-forward POD 15000, then --admin-url http://127.0.0.1:15000).`,
      );
    }
  }

  private async isIstio(): Promise<boolean> {
    const info = await this.serverInfo().catch(() => null);
    if (info && meshBuildOf(info.node)?.name === 'istio') return true;
    const statuses = await this.clusterStatuses().catch(() => []);
    return statuses.some((c) => c.name.startsWith('outbound|') || c.name === 'xds-grpc');
  }

  async health(): Promise<Health> {
    const [ready, info, dump] = await Promise.all([
      this.client.get('/ready', [200, 503]).then((r) => parseReady(r.status, r.body)),
      this.serverInfo(),
      this.configDump().catch(() => null),
    ]);
    const node = dump?.bootstrap?.node ?? null;
    const health = healthFromServer(info, ready, dump?.versions ?? {}, node);
    if (!health.version) health.version = envoyVersionOf(node);
    return health;
  }

  async listeners(): Promise<Listener[]> {
    return dumpListeners(await this.configDump());
  }

  async routes(): Promise<RouteConfig[]> {
    return dumpRoutes(await this.configDump());
  }

  /** Configured clusters (type, DestinationRule) with live state: thresholds and hosts from /clusters, open breakers from /stats. */
  async clusters(): Promise<Cluster[]> {
    const [dump, statuses, stats] = await Promise.all([
      this.configDump(),
      this.clusterStatuses(),
      this.statSet().catch(() => null),
    ]);
    const live = new Map(statuses.map((s) => [s.name, s]));
    const configured = dumpClusters(dump);
    const known = new Set(configured.map((c) => c.name));
    for (const s of statuses) {
      if (known.has(s.name)) continue;
      // Known to the proxy but not in its config dump (e.g. added since): what /clusters says, nothing more.
      const [extra] = dumpClusters({ ...dump, clusters: [{ cluster: { name: s.name }, dynamic: true }] });
      configured.push({ ...extra!, type: null, outlierDetection: null, circuitBreakers: { ...extra!.circuitBreakers!, thresholds: s.thresholds ?? [] } });
    }
    for (const c of configured) {
      const status = live.get(c.name);
      c.endpointCount = status ? status.hosts.length : 0;
      if (!c.circuitBreakers) continue;
      if (status?.thresholds) c.circuitBreakers.thresholds = status.thresholds;
      const open = stats ? openBreakers(stats, c.name) : null;
      if (open) {
        c.circuitBreakers.state = open.length ? 'open' : 'closed';
        c.circuitBreakers.open = open;
        c.circuitBreakers.stateReason = null;
      } else {
        c.circuitBreakers.state = null;
        c.circuitBreakers.stateReason = (await this.isIstio())
          ? "Istio's default proxyStatsMatcher hides the circuit_breakers gauges"
          : 'the proxy exposes no circuit_breakers gauges for this cluster';
      }
    }
    return configured.sort((a, b) => compareClusterNames(a.name, b.name));
  }

  /** Live endpoints from /clusters: health flags, weights, active connections and requests. */
  async endpoints(): Promise<Endpoint[]> {
    const statuses = await this.clusterStatuses();
    const groups = statuses.filter((s) => s.hosts.length > 0);
    groups.sort((a, b) => compareClusterNames(a.name, b.name));
    return groups.flatMap((g) => g.hosts);
  }

  async stats(): Promise<Stats> {
    const [statuses, istio] = await Promise.all([this.clusterStatuses(), this.isIstio()]);
    const clusters = statuses.map((s) => s.name).sort(compareClusterNames);
    const hiddenReason = hiddenStatsReason(istio);
    const first = await this.readTraffic(clusters, hiddenReason, true);
    if (this.rateWindowMs <= 0) return first;
    await new Promise((resolve) => setTimeout(resolve, this.rateWindowMs));
    const second = await this.readTraffic(clusters, hiddenReason, false);
    return withRates(second, first, this.rateWindowMs / 1000);
  }

  /** One reading of the traffic counters: /stats?format=json, or /stats/prometheus where the JSON is missing. */
  private async readTraffic(clusters: string[], hiddenReason: string, cached: boolean): Promise<Stats> {
    let set: StatSet;
    try {
      set = cached ? await this.statSet() : parseStatsJson(await this.client.json('/stats?format=json'));
    } catch (err) {
      if (!(err instanceof AdminHttpError && err.status === 404)) throw err;
      const families = parsePrometheusText(await this.client.text('/stats/prometheus'));
      return trafficFromPrometheus(families, { clusters, hiddenReason, source: '/stats/prometheus' });
    }
    return trafficFromStatSet(set, { clusters, hiddenReason, source: '/stats?format=json' });
  }

  /** Certificates from the config dump's secrets (full PEM, so issuer included), else from /certs. */
  async certs(): Promise<Certificate[]> {
    const dump = await this.configDump();
    const fromDump = dumpCertificates(dump, this.now()).filter((c) => c.serial !== null || c.status !== 'ACTIVE');
    if (fromDump.some((c) => c.serial !== null)) return fromDump;
    const path = '/certs';
    return parseCertsJson(parseAdminJson(await this.client.text(path), `${this.client.baseUrl}${path}`), this.now());
  }

  async config(): Promise<unknown> {
    return (await this.configDump()).raw;
  }
}
