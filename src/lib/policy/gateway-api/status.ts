// HTTPRoute status as a Gateway API controller writes it: per parentRef, the Accepted and
// ResolvedRefs conditions with the specification's reasons, so that a user sees why a route routes
// nothing (no such parent, a listener that does not allow it, a hostname that does not meet the
// listener's, a backend that does not exist or may not be referred to).
import type { Resource } from '../load.js';
import type { BackendProblem } from './types.js';

/** The controller name the local mesh writes in route status. */
export const LOCAL_CONTROLLER_NAME = 'meshctl.dev/local-mesh';

export type AcceptedReason = 'Accepted' | 'NoMatchingParent' | 'NotAllowedByListeners' | 'NoMatchingListenerHostname';

export interface ParentOutcome {
  parent: { group: string; kind: string; namespace: string; name: string; sectionName?: string; port?: number };
  accepted: AcceptedReason;
}

export interface Condition {
  type: 'Accepted' | 'ResolvedRefs';
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface RouteStatus {
  kind: 'HTTPRoute';
  namespace: string;
  name: string;
  parents: { parentRef: ParentOutcome['parent']; controllerName: string; conditions: Condition[] }[];
}

const ACCEPTED_MESSAGE: Record<AcceptedReason, string> = {
  Accepted: 'Route was valid and attached to the parent',
  NoMatchingParent: 'no parent (Gateway, listener section or port, or Service) matches this parentRef',
  NotAllowedByListeners: "the listeners' allowedRoutes do not admit this route's namespace or kind",
  NoMatchingListenerHostname: "none of the route's hostnames meets a listener's hostname",
};

// When several backends fail, the reason reported is the first of this order (as controllers do).
const PROBLEM_ORDER: BackendProblem[] = ['RefNotPermitted', 'InvalidKind', 'BackendNotFound'];

function resolvedRefs(problems: { ref: string; problem: BackendProblem }[]): Condition {
  if (!problems.length) return { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'every backendRef resolved' };
  const reason = PROBLEM_ORDER.find((p) => problems.some((x) => x.problem === p)) as BackendProblem;
  const what: Record<BackendProblem, string> = {
    RefNotPermitted: 'is in another namespace and no ReferenceGrant there allows it',
    InvalidKind: 'is not a Service',
    BackendNotFound: 'names no Service',
  };
  const message = problems.map((p) => `backendRef ${p.ref} ${what[p.problem]}`).join('; ');
  return { type: 'ResolvedRefs', status: 'False', reason, message };
}

export function routeStatuses(
  routes: Resource[],
  outcomes: Map<Resource, ParentOutcome[]>,
  backendProblems: Map<Resource, { ref: string; problem: BackendProblem }[]>,
): RouteStatus[] {
  return routes.map((route) => ({
    kind: 'HTTPRoute',
    namespace: route.namespace || 'default',
    name: route.name,
    parents: (outcomes.get(route) ?? []).map((o) => ({
      parentRef: o.parent,
      controllerName: LOCAL_CONTROLLER_NAME,
      conditions: [
        { type: 'Accepted', status: o.accepted === 'Accepted' ? 'True' : 'False', reason: o.accepted, message: ACCEPTED_MESSAGE[o.accepted] },
        resolvedRefs(backendProblems.get(route) ?? []),
      ],
    })),
  }));
}

/** Stored HTTPRoutes with the status a controller would have written on them (other kinds unchanged). */
export function withRouteStatus<T extends { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }>(items: T[], statuses: RouteStatus[]): T[] {
  return items.map((item) => {
    if (item.kind !== 'HTTPRoute' || !item.apiVersion.startsWith('gateway.networking.k8s.io/')) return item;
    const s = statuses.find((x) => x.name === item.metadata.name && x.namespace === (item.metadata.namespace || 'default'));
    return s ? { ...item, status: { parents: s.parents } } : item;
  });
}

/** One line for the routes that route, one per condition that says why a route does not. */
export function routeStatusLines(statuses: RouteStatus[]): string[] {
  if (!statuses.length) return [];
  const bad = statuses.flatMap((s) => s.parents.flatMap((p) => p.conditions.filter((c) => c.status !== 'True').map((c) => {
    const parent = `${p.parentRef.kind} ${p.parentRef.namespace}/${p.parentRef.name}${p.parentRef.sectionName ? `/${p.parentRef.sectionName}` : ''}`;
    return `HTTPRoute ${s.namespace}/${s.name} on ${parent}: ${c.type} False (${c.reason}): ${c.message}`;
  })));
  const routed = statuses.filter((s) => s.parents.length && s.parents.every((p) => p.conditions.every((c) => c.status === 'True'))).length;
  return [`${routed}/${statuses.length} HTTPRoutes accepted with every reference resolved`, ...bad];
}
