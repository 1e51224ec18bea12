// Policy for traffic-shift tests: a caller and reviews versions as Workloads, reviews' subsets, a
// VirtualService whose catch-all route the shifts move, and a host (details) routed without subsets. Also as stored resources, for tests without a mesh.
import { loadSources } from '../../src/lib/policy/load.js';
import { toStored } from '../../src/lib/mesh/apply.js';
import type { StoredResource } from '../../src/lib/mesh/state.js';
import { serviceYaml, workloadYaml } from './policy-yaml.js';

export interface ShiftPolicyOptions {
  /** The catch-all route's destinations, subset → weight (omitted weight: as written without one). */
  route?: Record<string, number | null>;
  /** http routes before the catch-all one (YAML list items, indented by two spaces). */
  extraRoutes?: string;
  /** Command of every app (the same for all; behaviour comes from env). */
  command?: string[];
  /** The reviews versions that run (a Workload each), with their env; default v1, v2 and v3. */
  versions?: Record<string, Record<string, string>>;
  callerReplicas?: number;
  /** Add a subset "idle" that selects no pod (apply refuses it: for tests without a mesh). */
  idleSubset?: boolean;
  /**
   * Route reviews with an HTTPRoute attached to its Service instead of the VirtualService: one rule
   * whose backendRefs are the Services reviews-<version> (one per running version), `route` giving
   * their weights by version.
   */
  httpRoute?: boolean;
  /** With httpRoute: the HTTPRoute's rules as written (YAML list items, indented by two spaces) instead of the one split rule. */
  httpRouteRules?: string;
}

function reviewsHttpRoute(versions: string[], route: Record<string, number | null>, rules?: string): string {
  const services = versions.map((v) => `
apiVersion: v1
kind: Service
metadata: { name: reviews-${v}, namespace: default }
spec: { selector: { app: reviews, version: ${v} }, ports: [{ name: http, port: 9080 }] }
---`).join('');
  const backendRefs = Object.entries(route)
    .map(([v, weight]) => `    - { name: reviews-${v}, port: 9080${weight === null ? '' : `, weight: ${weight}`} }`)
    .join('\n');
  return `${services}
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews, namespace: default }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews, port: 9080 }]
  rules:
${rules ?? `  - backendRefs:\n${backendRefs}\n`}`;
}

export function shiftPolicy(o: ShiftPolicyOptions = {}): string {
  const route = o.route ?? { v1: 100, v2: 0 };
  const workload = (name: string, labels: string, serviceAccount: string, replicas = 1, env: Record<string, string> = {}) =>
    workloadYaml({ name, labels, serviceAccount, replicas, env, command: o.command });
  const running = o.versions ?? { v1: {}, v2: {}, v3: {} };
  const versions = Object.entries(running)
    .map(([v, env]) => workload(`reviews-${v}`, `app: reviews, version: ${v}`, 'reviews', 1, { VERSION: v, ...env }))
    .join('\n');
  const subsets = [...Object.keys(running), ...(o.idleSubset ? ['idle'] : [])].map((v) => `  - { name: ${v}, labels: { version: ${v} } }`).join('\n');
  const destinations = Object.entries(route)
    .map(([subset, weight]) => `    - { destination: { host: reviews, subset: ${subset} }${weight === null ? '' : `, weight: ${weight}`} }`)
    .join('\n');
  return `${workload('caller', 'app: caller, version: v1', 'caller', o.callerReplicas ?? 1, { VERSION: 'caller' })}
${versions}
${serviceYaml('caller')}
${serviceYaml('reviews')}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets:
${subsets}
---${serviceYaml('details', 'caller')}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: details, namespace: default }
spec: { host: details, subsets: [{ name: v1, labels: { version: v1 } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: details, namespace: default }
spec:
  hosts: [details]
  http:
  - route: [{ destination: { host: details } }]
---${o.httpRoute ? reviewsHttpRoute(Object.keys(running), route, o.httpRouteRules) : `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
${o.extraRoutes ?? ''}  - name: split
    route:
${destinations}
`}`;
}

/** The stored form of policy text, as the mesh home keeps it. */
export function storedResources(text: string): StoredResource[] {
  const { resources } = loadSources([{ path: 'mesh.yaml', text, format: 'yaml', size: Buffer.byteLength(text) }], { defaultNamespace: 'default' });
  return resources.map(toStored);
}
