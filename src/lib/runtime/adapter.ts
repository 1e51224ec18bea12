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

/** The pods of a local mesh and an adapter for each one's sidecar. */
export interface LocalPodDirectory {
  /** Names of the pods that exist, sorted. */
  pods(): Promise<string[]>;
  /** The adapter for one pod's sidecar; only called with a name that `pods()` returned. */
  adapter(pod: string): Promise<ProxyAdapter>;
}

/** No local mesh has been created: no pods. */
const noLocalMesh: LocalPodDirectory = {
  async pods() {
    return [];
  },
  async adapter(pod: string): Promise<ProxyAdapter> {
    throw usageError(`Pod "${pod}" does not exist.`);
  },
};

let localPods: LocalPodDirectory = noLocalMesh;

/** Installs the local mesh's pod directory (the local runtime calls this when it loads). */
export function setLocalPodDirectory(directory: LocalPodDirectory): void {
  localPods = directory;
}

/** The adapter for a local pod's sidecar, or a usage error that names the pods that exist. */
export async function localPodAdapter(pod: string): Promise<ProxyAdapter> {
  const pods = await localPods.pods();
  if (!pods.includes(pod)) {
    const known = pods.length ? pods.join(', ') : 'none';
    throw usageError(
      `There is no local pod named "${pod}" (pods that exist: ${known}). ` +
        'To read an Envoy proxy instead, give --admin-url URL (its admin API) or --from-file FILE (a saved /config_dump).',
    );
  }
  return localPods.adapter(pod);
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
