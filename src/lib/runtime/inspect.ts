// `meshctl inspect pod`: pick the adapter for what the user named (a local pod, an admin URL, a saved
// config dump) and read the requested sections into one snapshot of the normalized model.
import { MeshctlError, usageError } from '../errors.js';
import { SectionUnavailable, podAdapter, type ProxyAdapter, type ProxyDirectory } from './adapter.js';
import { SECTIONS, type ProxySnapshot, type Section } from './model.js';

/** Sections read when none is asked for: all but the raw config, which is large. */
export const DEFAULT_SECTIONS: readonly Section[] = SECTIONS.filter((s) => s !== 'config');

export interface InspectTarget {
  pod?: string;
  adminUrl?: string;
  fromFile?: string;
  timeoutMs?: number;
  /** Read stats twice, this far apart, to compute request rates. */
  rateWindowMs?: number;
}

/** The adapter for a target; exactly one of a pod (of `mesh`), --admin-url and --from-file selects it. */
export async function openProxy(target: InspectTarget, now: () => Date = () => new Date(), mesh?: ProxyDirectory): Promise<ProxyAdapter> {
  if (target.adminUrl !== undefined && target.fromFile !== undefined) {
    throw usageError('Give either --admin-url or --from-file, not both.');
  }
  if (target.pod && (target.adminUrl !== undefined || target.fromFile !== undefined)) {
    const other = target.adminUrl !== undefined ? '--admin-url' : '--from-file';
    throw usageError(`Give either a pod (${target.pod}) or ${other}, not both: a pod is read from the local mesh, ${other} from ${other === '--admin-url' ? 'an Envoy admin API' : 'a saved config dump'}.`);
  }
  if (target.fromFile !== undefined) {
    const { ConfigDumpAdapter } = await import('./envoy/adapter.js');
    return ConfigDumpAdapter.fromFile(target.fromFile, now);
  }
  if (target.adminUrl !== undefined) {
    const [{ EnvoyAdminAdapter }, { EnvoyAdminClient }] = await Promise.all([import('./envoy/adapter.js'), import('./envoy/admin-client.js')]);
    const adapter = new EnvoyAdminAdapter(new EnvoyAdminClient(target.adminUrl, { timeoutMs: target.timeoutMs }), now, { rateWindowMs: target.rateWindowMs });
    await adapter.verify();
    return adapter;
  }
  if (target.pod === undefined || target.pod === '') {
    throw usageError('Name a pod, or give --admin-url URL (an Envoy admin API) or --from-file FILE (a saved /config_dump).');
  }
  return podAdapter(mesh, target.pod, { timeoutMs: target.timeoutMs });
}

/** Reads `sections` (concurrently; shared endpoints are fetched once) into a snapshot. */
export async function inspectProxy(adapter: ProxyAdapter, sections: readonly Section[], now: Date = new Date()): Promise<ProxySnapshot> {
  const wanted = SECTIONS.filter((s) => sections.includes(s));
  const snapshot: ProxySnapshot = { source: adapter.source, readAt: now.toISOString(), sections: wanted, unavailable: {} };
  const results = await Promise.allSettled(wanted.map((s) => readSection(adapter, s)));
  // An unreachable proxy fails every section the same way: report the first such error, once.
  for (const r of results) {
    if (r.status === 'rejected' && !isSectionGap(r.reason)) throw r.reason;
  }
  wanted.forEach((section, i) => {
    const r = results[i]!;
    if (r.status === 'fulfilled') {
      (snapshot as unknown as Record<string, unknown>)[section] = r.value;
    } else {
      (snapshot as unknown as Record<string, unknown>)[section] = null;
      snapshot.unavailable[section] = gapReason(r.reason);
    }
  });
  return snapshot;
}

function readSection(adapter: ProxyAdapter, section: Section): Promise<unknown> {
  switch (section) {
    case 'health':
      return adapter.health();
    case 'listeners':
      return adapter.listeners();
    case 'routes':
      return adapter.routes();
    case 'clusters':
      return adapter.clusters();
    case 'endpoints':
      return adapter.endpoints();
    case 'stats':
      return adapter.stats();
    case 'certs':
      return adapter.certs();
    case 'config':
      return adapter.config();
  }
}

/** A section this source cannot give (the rest of the inspection stands): a declared gap or an endpoint the proxy lacks. */
function isSectionGap(err: unknown): boolean {
  if (err instanceof SectionUnavailable) return true;
  return err instanceof MeshctlError && (err as { status?: number }).status === 404;
}

function gapReason(err: unknown): string {
  if (err instanceof SectionUnavailable) return err.message;
  const endpoint = (err as { endpoint?: string }).endpoint ?? 'the endpoint';
  return `the proxy has no ${endpoint} admin endpoint (HTTP 404)`;
}

/** Opens the target and reads it. */
export async function inspectTarget(target: InspectTarget, sections: readonly Section[] = DEFAULT_SECTIONS, now: Date = new Date(), mesh?: ProxyDirectory): Promise<ProxySnapshot> {
  const adapter = await openProxy(target, () => now, mesh);
  return inspectProxy(adapter, sections, now);
}
