// diff: two resource sets → resource pairs → field changes → traffic and security impact → risk per change.
import type { Resource } from '../load.js';
import { resourceLocation } from './location.js';
import { K } from '../kinds.js';
import { canonicalResource, comparableView, stableKey } from './canonical.js';
import { diffFields } from './fields.js';
import { pairResources, idOf, keyOf } from './pairing.js';
import { trafficImpact, routeHosts, policyHost, type ResourceChangePair } from './traffic.js';
import { hostKey, serviceHost } from '../hosts.js';
import { listOf, specOf } from '../spec.js';
import { securityImpact } from './security.js';
import { assessChanges, type PendingChange } from './risk.js';
import { RISK_RANK, type ChangedResource, type DiffReport, type Risk, type SideSummary } from './model.js';

export interface DiffSide {
  /** How the side is named to the reader: the paths, `<stdin>`, or `origin/main:policies/`. */
  label: string;
  files: number;
  resources: Resource[];
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

function changedResource(before: Resource | undefined, after: Resource | undefined): ChangedResource {
  const r = (after ?? before)!;
  const out: ChangedResource = { ...idOf(r), apiVersion: r.apiVersion };
  const o = before && resourceLocation(before);
  const n = after && resourceLocation(after);
  if (o) out.old = o;
  if (n) out.new = n;
  return out;
}

/** The hosts a resource is about: those it routes, sets policy for, or defines. */
function hostsOf(...versions: (Resource | undefined)[]): string[] {
  const out = new Set<string>();
  for (const r of versions) {
    if (!r) continue;
    for (const h of routeHosts(r)) out.add(h);
    if (r.kindId === K.DestinationRule) {
      const h = policyHost(r);
      if (h) out.add(h);
    } else if (r.kindId === K.Service) {
      out.add(serviceHost(r.name, r.namespace));
    } else if (r.kindId === K.ServiceEntry) {
      for (const h of listOf(specOf(r, K.ServiceEntry).hosts)) if (typeof h === 'string') out.add(hostKey(r.namespace, h));
    }
  }
  return [...out].sort();
}

const GATEWAY_API_ROUTES = new Set<string>([K.HTTPRoute, K.GRPCRoute]);

/** Same document text, read with the same options: the same resource, without comparing values. */
function sameText(a: Resource, b: Resource): boolean {
  return !!a.doc && !!b.doc && a.pointer === '' && b.pointer === '' && a.doc.text.length === b.doc.text.length && a.doc.text === b.doc.text;
}

export interface DiffResult {
  report: DiffReport;
  /** The resources behind the changes: OLD's versions of changed and removed ones, NEW's of changed and added ones. */
  touched: { before: Resource[]; after: Resource[] };
}

export function diffResources(before: DiffSide, after: DiffSide): DiffReport {
  return diffSides(before, after).report;
}

export function diffSides(before: DiffSide, after: DiffSide): DiffResult {
  const pairing = pairResources(before.resources, after.resources);
  const pending: PendingChange[] = [];
  const impacted: ResourceChangePair[] = [];
  let unchanged = 0;
  for (const r of pairing.removed) {
    pending.push({ key: keyOf(r), op: 'removed', resource: changedResource(r, undefined), fields: [], reordered: [], hosts: hostsOf(r) });
    impacted.push({ before: r });
  }
  for (const [o, n] of pairing.pairs) {
    if (sameText(o, n)) {
      unchanged++;
      continue;
    }
    const viewOld = comparableView(o);
    const viewNew = comparableView(n);
    if (sameValue(viewOld, viewNew)) {
      unchanged++;
      continue;
    }
    const co = canonicalResource(o);
    const cn = canonicalResource(n);
    if (stableKey(co) === stableKey(cn)) {
      unchanged++;
      continue;
    }
    const { fields, reordered } = diffFields(co, cn, viewOld, viewNew, GATEWAY_API_ROUTES.has(n.kindId));
    if (!fields.length) {
      unchanged++;
      continue;
    }
    pending.push({ key: keyOf(n), op: 'changed', resource: changedResource(o, n), fields, reordered, hosts: hostsOf(o, n) });
    impacted.push({ before: o, after: n });
  }
  for (const r of pairing.added) {
    pending.push({ key: keyOf(r), op: 'added', resource: changedResource(undefined, r), fields: [], reordered: [], hosts: hostsOf(r) });
    impacted.push({ after: r });
  }
  pending.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const traffic = trafficImpact(before.resources, after.resources, impacted);
  const security = securityImpact(before.resources, after.resources, impacted);
  const changes = assessChanges(pending, [...traffic.notes, ...security.notes]);

  const risk: Record<Risk, number> = { high: 0, medium: 0, low: 0 };
  let highest: Risk | null = null;
  for (const c of changes) {
    risk[c.risk]++;
    if (highest === null || RISK_RANK[c.risk] > RISK_RANK[highest]) highest = c.risk;
  }
  const side = (s: DiffSide): SideSummary => ({ label: s.label, files: s.files, resources: s.resources.length });
  const report: DiffReport = {
    changes,
    impact: { traffic: traffic.impacts, security: security.impacts },
    summary: {
      added: pairing.added.length,
      removed: pairing.removed.length,
      changed: changes.filter((c) => c.op === 'changed').length,
      unchanged,
      risk,
      highest,
      old: side(before),
      new: side(after),
    },
  };
  const touched = {
    before: impacted.flatMap((c) => (c.before ? [c.before] : [])),
    after: impacted.flatMap((c) => (c.after ? [c.after] : [])),
  };
  return { report, touched };
}

