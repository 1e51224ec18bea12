// The mesh home's state store: the mesh configuration, the applied resources at the current revision,
// one snapshot per revision (history for diff --live and rollback) and the desired pods. Every write
// is atomic; writers hold the home's lock.
import { promises as fs } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { readJson, writeJsonAtomic } from '../system/atomic-file.js';
import type { HomeLayout } from './home.js';

export const STATE_API_VERSION = 'meshctl.dev/v1alpha1';

/** Bounds of `meshctl install --cert-lifetime`: shorter, renewals would outpace the proxies; Istio caps workload certificates at 90 days. */
export const MIN_WORKLOAD_CERT_LIFETIME = '10s';
export const MAX_WORKLOAD_CERT_LIFETIME = '2160h';
/** The range of install --log-max-size (bytes): small enough for a test to see a rotation, large enough to keep a day of a busy sidecar's log. */
export const MIN_LOG_ROTATE_BYTES = 64 * 1024;
/** Without --log-max-size. */
export const DEFAULT_LOG_ROTATE_BYTES = 20 * 1024 * 1024;
export const MAX_LOG_ROTATE_BYTES = 1024 ** 3;

/** What install writes into mesh.json. */
export interface MeshConfigFile {
  apiVersion: typeof STATE_API_VERSION;
  kind: 'MeshConfig';
  createdAt: string;
  trustDomain: string;
  /** The proxy runtime the sidecars run. */
  proxy: { runtime: 'haproxy'; bin: string; version: string };
  /** Environment every app and proxy starts with (PATH and HOME at install), before its own. */
  env: Record<string, string>;
  /** Version of meshctl that installed the mesh. */
  meshctlVersion: string;
  /** Lifetime of workload certificates in milliseconds (install --cert-lifetime); absent in homes installed before the setting: Istio's day. */
  workloadCertificateLifetimeMs?: number;
  /** The size past which a process's log is set aside as `<log>.1`, a running proxy's access log included (install --log-max-size); 20 MiB when absent. */
  logRotateBytes?: number;
}

/** A resource as applied: the user's object, with its namespace filled in. */
export interface StoredResource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: unknown;
  [k: string]: unknown;
}

export type ChangeAction = 'created' | 'configured' | 'unchanged' | 'deleted';

export interface ResourceChange {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  action: ChangeAction;
}

export interface AppliedState {
  revision: number;
  updatedAt: string | null;
  resources: StoredResource[];
}

export interface RevisionRecord extends AppliedState {
  /** What produced the revision. */
  action: 'apply' | 'delete' | 'rollback';
  changes: ResourceChange[];
}

/** How many revisions the history keeps. */
export const HISTORY_LIMIT = 100;

export async function readMeshConfigFile(layout: HomeLayout): Promise<MeshConfigFile | null> {
  return readJson<MeshConfigFile | null>(layout.configFile, null);
}

export async function writeMeshConfigFile(layout: HomeLayout, config: MeshConfigFile): Promise<void> {
  await writeJsonAtomic(layout.configFile, config, 0o644);
}

export async function readApplied(layout: HomeLayout): Promise<AppliedState> {
  return readJson<AppliedState>(layout.appliedFile, { revision: 0, updatedAt: null, resources: [] });
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Identity of a resource across API versions: group, kind, namespace, name. */
export function resourceKey(r: { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } }): string {
  return `${groupOf(r.apiVersion)}/${r.kind}/${r.metadata?.namespace ?? ''}/${r.metadata?.name ?? ''}`;
}

function changeOf(r: StoredResource, action: ChangeAction): ResourceChange {
  return { apiVersion: r.apiVersion, kind: r.kind, namespace: r.metadata.namespace ?? '', name: r.metadata.name, action };
}

/** The resources after applying `incoming` over `current`, and what changed for each incoming resource. */
export function planApply(current: StoredResource[], incoming: StoredResource[]): { resources: StoredResource[]; changes: ResourceChange[] } {
  const byKey = new Map(current.map((r) => [resourceKey(r), r]));
  const changes: ResourceChange[] = [];
  for (const r of incoming) {
    const key = resourceKey(r);
    const before = byKey.get(key);
    changes.push(changeOf(r, !before ? 'created' : isDeepStrictEqual(before, r) ? 'unchanged' : 'configured'));
    byKey.set(key, r);
  }
  return { resources: [...byKey.values()], changes };
}

export interface ResourceSelector {
  /** Kind as stored (VirtualService) — matched case-insensitively, with the group ignored. */
  kind: string;
  namespace?: string;
  name: string;
}

/** The resources after removing the selected ones; `missing` lists selectors that matched nothing. */
export function planDelete(current: StoredResource[], selectors: ResourceSelector[]): { resources: StoredResource[]; changes: ResourceChange[]; missing: ResourceSelector[] } {
  const removed = new Set<StoredResource>();
  const missing: ResourceSelector[] = [];
  for (const s of selectors) {
    const hits = current.filter(
      (r) => r.kind.toLowerCase() === s.kind.toLowerCase() && r.metadata.name === s.name && (s.namespace === undefined || (r.metadata.namespace ?? '') === s.namespace),
    );
    if (!hits.length) missing.push(s);
    for (const h of hits) removed.add(h);
  }
  return {
    resources: current.filter((r) => !removed.has(r)),
    changes: [...removed].map((r) => changeOf(r, 'deleted')),
    missing,
  };
}

/**
 * Records a new revision: the snapshot first, then the applied state (so a crash in between leaves the
 * old revision current and an orphan snapshot that the next commit overwrites). Caller holds the lock.
 */
export async function commitRevision(
  layout: HomeLayout,
  resources: StoredResource[],
  changes: ResourceChange[],
  action: RevisionRecord['action'],
): Promise<RevisionRecord> {
  const current = await readApplied(layout);
  const record: RevisionRecord = { revision: current.revision + 1, updatedAt: new Date().toISOString(), resources, action, changes };
  await fs.mkdir(layout.revisionsDir, { recursive: true, mode: 0o700 });
  await writeJsonAtomic(layout.revisionFile(record.revision), record, 0o600);
  await writeJsonAtomic(layout.appliedFile, { revision: record.revision, updatedAt: record.updatedAt, resources } satisfies AppliedState, 0o600);
  await pruneHistory(layout, record.revision);
  return record;
}

async function pruneHistory(layout: HomeLayout, newest: number): Promise<void> {
  for (const r of await listRevisions(layout)) {
    if (r <= newest - HISTORY_LIMIT) await fs.rm(layout.revisionFile(r), { force: true });
  }
}

/** Revision numbers kept in the history, oldest first. */
export async function listRevisions(layout: HomeLayout): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(layout.revisionsDir);
  } catch {
    return [];
  }
  return names.filter((n) => /^\d+\.json$/.test(n)).map((n) => Number(n.slice(0, -5))).sort((a, b) => a - b);
}

export async function readRevision(layout: HomeLayout, revision: number): Promise<RevisionRecord | null> {
  return readJson<RevisionRecord | null>(layout.revisionFile(revision), null);
}
