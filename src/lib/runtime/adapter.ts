// One interface in front of every proxy runtime: `inspect` asks an adapter for sections of the normalized
// model and never knows whether HAProxy or Envoy answered.
import { usageError } from '../errors.js';
import type {
  Certificate,
  Cluster,
  Endpoint,
  Health,
  Listener,
  ProxySource,
  RouteConfig,
  Section,
  Stats,
} from './model.js';

export interface ProxyAdapter {
  readonly source: ProxySource;
  health(): Promise<Health>;
  listeners(): Promise<Listener[]>;
  routes(): Promise<RouteConfig[]>;
  clusters(): Promise<Cluster[]>;
  endpoints(): Promise<Endpoint[]>;
  stats(): Promise<Stats>;
  certs(): Promise<Certificate[]>;
  /** The effective configuration, raw. */
  config(): Promise<unknown>;
}

/**
 * Thrown by an adapter for a section its source cannot provide (a saved config dump has no stats). The
 * inspection goes on; the section is null and the message says why.
 */
export class SectionUnavailable extends Error {
  readonly section: Section;
  constructor(section: Section, reason: string) {
    super(reason);
    this.name = 'SectionUnavailable';
    this.section = section;
  }
}

/** The proxies of a mesh, by name, and each one's admin model (a mesh target is one). */
export interface ProxyDirectory {
  proxies(): Promise<{ name: string }[]>;
  proxyAdmin(name: string, options?: { timeoutMs?: number }): Promise<ProxyAdapter>;
}

/** The adapter for a pod of `mesh` (none: no mesh), or a usage error that names the pods that exist. */
export async function podAdapter(mesh: ProxyDirectory | undefined, pod: string, options: { timeoutMs?: number } = {}): Promise<ProxyAdapter> {
  const pods = mesh ? (await mesh.proxies()).map((p) => p.name).sort() : [];
  if (!mesh || !pods.includes(pod)) {
    const known = pods.length ? pods.join(', ') : 'none';
    throw usageError(
      `There is no local pod named "${pod}" (pods that exist: ${known}). ` +
        'To read an Envoy proxy instead, give --admin-url URL (its admin API) or --from-file FILE (a saved /config_dump).',
    );
  }
  return mesh.proxyAdmin(pod, options);
}

/**
 * Reads shared by the sections of one inspection: each source (an admin endpoint, a runtime API
 * command) is read once, however many sections need it, and every section awaits the same answer.
 */
export class ReadOnce {
  private readonly reads = new Map<string, Promise<unknown>>();

  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.reads.get(key) as Promise<T> | undefined;
    if (!p) {
      p = load();
      this.reads.set(key, p);
    }
    return p;
  }
}
