// The diff report: what changed between two policy sets, what that does to traffic and security, and how
// risky each change is. Every output format renders this one structure.
export type Risk = 'high' | 'medium' | 'low';
export type ChangeOp = 'added' | 'removed' | 'changed';

export const RISK_RANK: Record<Risk, number> = { low: 0, medium: 1, high: 2 };

export function maxRisk(a: Risk | undefined, b: Risk): Risk {
  return a === undefined || RISK_RANK[b] > RISK_RANK[a] ? b : a;
}

export interface ResourceId {
  /** API group; '' for the core group (Service, Namespace…). */
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface SourceLocation {
  file: string;
  line: number;
}

export interface ChangedResource extends ResourceId {
  apiVersion: string;
  /** Where the resource was in OLD (absent for an added one). */
  old?: SourceLocation;
  /** Where the resource is in NEW (absent for a removed one). */
  new?: SourceLocation;
}

export interface FieldChange {
  /** JSON pointer from the resource's root: into NEW for added and changed values, into OLD for removed ones. */
  path: string;
  /** The value as written in OLD; null when absent. */
  from: unknown;
  /** The value as written in NEW; null when absent. */
  to: unknown;
}

export interface Change {
  op: ChangeOp;
  resource: ChangedResource;
  risk: Risk;
  /** One sentence per reason, the riskiest first. */
  reasons: string[];
  fields: FieldChange[];
  /** Hosts the resource routes, sets traffic policy for, or defines (fully qualified). */
  hosts: string[];
}

/** A setting of a route or a traffic policy, before and after (null when not set). */
export interface SettingChange {
  setting: string;
  before: unknown;
  after: unknown;
}

export interface DestinationShare {
  /** `host` or `host/subset`, with `:port` when the route names one; `redirect`/`direct response` for routes that answer themselves. */
  destination: string;
  host: string;
  subset: string | null;
  port: number | null;
  /** Percent of the route's requests, 0 when it gets none. */
  before: number;
  after: number;
}

export interface RouteImpact {
  /** The route's name, its match (`headers end-user exact jason`), or `default` for the route without a match. */
  route: string;
  protocol: 'http' | 'tcp' | 'tls';
  op: ChangeOp;
  shares: DestinationShare[];
  settings: SettingChange[];
  /** Set when a route kept its place but now matches other requests. */
  match?: { before: string; after: string };
  resources: ResourceId[];
}

export interface PolicyImpact {
  /** Subset the traffic policy applies to; null for the whole host. */
  subset: string | null;
  /** Port the policy applies to; null for every port. */
  port: number | null;
  settings: SettingChange[];
  resource: ResourceId;
}

export interface TrafficImpact {
  host: string;
  routes: RouteImpact[];
  /** Set when the order of the host's HTTP routes changed (route labels, in order). */
  reorder?: { before: string[]; after: string[] };
  policies: PolicyImpact[];
  risk: Risk;
  reasons: string[];
}

export interface SecurityImpact {
  kind: 'PeerAuthentication' | 'DestinationRule' | 'AuthorizationPolicy' | 'RequestAuthentication';
  /** `mesh`, `namespace shop`, `workload shop {app=reviews}`, or `host reviews.shop` (with subset and port). */
  scope: string;
  namespace: string;
  setting: string;
  before: unknown;
  after: unknown;
  risk: Risk;
  reason: string;
  resources: ResourceId[];
}

export interface SideSummary {
  label: string;
  files: number;
  resources: number;
}

export interface DiffSummary {
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
  risk: Record<Risk, number>;
  /** The riskiest change's level; null when nothing changed. */
  highest: Risk | null;
  old: SideSummary;
  new: SideSummary;
}

export interface DiffReport {
  changes: Change[];
  impact: { traffic: TrafficImpact[]; security: SecurityImpact[] };
  summary: DiffSummary;
}

/** A risk found while working out the impact, charged to the changed resources that caused it. */
export interface RiskNote {
  risk: Risk;
  reason: string;
  keys: string[];
}

export function resourceKey(id: ResourceId): string {
  return `${id.group}/${id.kind}/${id.namespace}/${id.name}`;
}

export function describeResource(id: ResourceId): string {
  return `${id.kind} ${id.namespace ? `${id.namespace}/` : ''}${id.name}`;
}
