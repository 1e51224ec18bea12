// meshctl get: the kinds a user can list (pods beside every policy kind), and their kubectl-like rows.
import { KINDS, TOLERATED_KINDS, type KindInfo } from '../policy/kinds.js';
import { parseLabelSelector, selectorMatches } from '../policy/selectors.js';
import { usageError } from '../errors.js';
import type { StoredResource } from './state.js';
import type { MeshStatus, PodStatus } from './agent/protocol.js';
import { age, podPhase, resourceName } from './render.js';
import { table } from '../output/table.js';
import { K } from '../policy/kinds.js';
import { withRouteStatus } from '../policy/gateway-api/status.js';
import { modelOf } from './pods.js';
import { DEFAULT_OUTBOUND_TRAFFIC_MODE, sidecarFor } from '../policy/sidecar-scope.js';

export type GetTarget = { type: 'pods' } | { type: 'resources'; info: KindInfo };

/** Resolves `pods`, `po`, `virtualservices`, `vs`, `VirtualService`, `gateway` ... to what get lists. */
export function resolveType(word: string): GetTarget {
  const w = word.toLowerCase();
  if (['pods', 'pod', 'po'].includes(w)) return { type: 'pods' };
  const all = [...KINDS, ...TOLERATED_KINDS].filter((k) => k.id !== 'core/Pod');
  // Istio's Gateway wins over Gateway API's for the bare word, as in istioctl.
  const hit = all.find((k) => k.plural === w || k.kind.toLowerCase() === w || (k.aliases ?? []).includes(w) || `${k.plural}.${k.group}` === w || `${k.kind.toLowerCase()}.${k.group}` === w);
  if (hit) return { type: 'resources', info: hit };
  const known = ['pods', ...KINDS.filter((k) => k.id !== 'core/Pod').map((k) => k.plural)].join(', ');
  throw usageError(`"${word}" is not a resource type meshctl knows; use one of ${known}.`);
}

/** Refuses a bad TYPE list or -l selector before anything is read (a usage error comes before the home's state). */
export function checkGetRequest(request: Pick<GetRequest, 'types' | 'selector'>): void {
  resolveTypes(request.types);
  if (request.selector !== undefined) parseLabelSelector(request.selector);
}

/** `vs,dr` → both targets, in the order given, each once. */
export function resolveTypes(words: string): GetTarget[] {
  const targets: GetTarget[] = [];
  for (const word of words.split(',').map((w) => w.trim())) {
    if (!word) throw usageError(`"${words}" names an empty resource type; separate types with single commas, as in vs,dr.`);
    const t = resolveType(word);
    const same = (u: GetTarget) => (u.type === 'pods' ? t.type === 'pods' : t.type === 'resources' && u.info.id === t.info.id);
    if (!targets.some(same)) targets.push(t);
  }
  return targets;
}

export interface GetRequest {
  /** TYPE as typed: one type or several joined by commas. */
  types: string;
  name?: string;
  namespace?: string;
  /** A label selector (-l). */
  selector?: string;
  wide: boolean;
}

/** What get prints for each output format: the document (json, yaml), the tables (text, wide) and the names (-o name). */
export interface GetListing {
  document: unknown;
  text: string;
  names: string[];
  /** Sentences for stderr when nothing matched. */
  notes: string[];
}

/** Lists what `request` asks for from the agent's pod status and the applied resources. */
export async function getListing(request: GetRequest, pods: PodStatus[], applied: StoredResource[]): Promise<GetListing> {
  const targets = resolveTypes(request.types);
  const labelsMatch = request.selector !== undefined ? parseLabelSelector(request.selector) : () => true;
  const inScope = (ns: string | undefined, name: string) => (!request.namespace || (ns ?? '') === request.namespace) && (!request.name || name === request.name);
  const where = request.namespace ? ` in namespace ${request.namespace}` : '';
  const several = targets.length > 1;
  const items: unknown[] = [];
  const tables: string[] = [];
  const names: string[] = [];
  const notes: string[] = [];
  for (const target of targets) {
    let cols: Columns;
    let found: { name: string; shown: string }[];
    let plural: string;
    if (target.type === 'pods') {
      const chosen = pods.filter((p) => inScope(p.namespace, p.name) && labelsMatch(p.labels));
      items.push(...chosen);
      cols = podColumns(chosen, request.wide, new Set(chosen.map((p) => p.namespace)).size > 1);
      found = chosen.map((p) => ({ name: p.name, shown: `pod/${p.name}` }));
      plural = 'pods';
    } else {
      const chosen = applied.filter((r) => matchesKind(r, target.info) && inScope(r.metadata.namespace, r.metadata.name) && labelsMatch(r.metadata.labels));
      // HTTPRoutes carry the status a Gateway API controller would write, so -o yaml says why one routes nothing.
      items.push(...(target.info.id === K.HTTPRoute && chosen.length ? withRouteStatus(chosen, modelOf(applied).routeStatuses) : chosen));
      cols = resourceColumns(target.info, chosen, pods, request.wide, new Set(chosen.map((r) => r.metadata.namespace ?? '')).size > 1, applied);
      found = chosen.map((r) => ({ name: r.metadata.name, shown: resourceName({ apiVersion: r.apiVersion, kind: r.kind, name: r.metadata.name }) }));
      plural = target.info.plural;
    }
    names.push(...found.map((f) => f.shown));
    if (!found.length) {
      if (!several) notes.push(`No ${plural} found${where}.`);
      continue;
    }
    // Several kinds in one table set name each row by kind, as kubectl does.
    if (several) {
      const at = cols.head.indexOf('NAME');
      cols.rows.forEach((row, i) => (row[at] = found[i]!.shown));
    }
    tables.push(`${table(cols.head, cols.rows)}\n`);
  }
  if (request.name && !items.length) {
    const what = targets.length === 1 ? (targets[0]!.type === 'pods' ? 'pod' : (targets[0] as { info: KindInfo }).info.kind) : `${request.types} resource`;
    throw usageError(`There is no ${what} named "${request.name}"${where}${request.selector ? ` matching -l ${request.selector}` : ''} in the mesh; meshctl get ${request.types} lists them.`);
  }
  if (several && !items.length) notes.push(`No resources found${where}.`);
  const document = request.name && items.length === 1 ? items[0] : { apiVersion: 'v1', kind: 'List', items };
  return { document, text: tables.join('\n'), names, notes };
}

/** The status of the pods and proxies in `namespace` only (status -n); all of them without one. */
export function statusInNamespace(status: MeshStatus, namespace: string | undefined): MeshStatus {
  return namespace === undefined ? status : { ...status, pods: status.pods.filter((p) => p.namespace === namespace) };
}

export function matchesKind(r: StoredResource, info: KindInfo): boolean {
  const slash = r.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : r.apiVersion.slice(0, slash);
  return r.kind === info.kind && group === info.group;
}

function selector(labels: Record<string, string> | null | undefined): string {
  return labels && Object.keys(labels).length ? Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',') : '<none>';
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

interface Columns {
  head: string[];
  rows: (string | number)[][];
}

export function podColumns(pods: PodStatus[], wide: boolean, showNamespace: boolean): Columns {
  const head = [...(showNamespace ? ['NAMESPACE'] : []), 'NAME', 'READY', 'STATUS', 'RESTARTS', 'REVISION', 'AGE'];
  if (wide) head.push('WORKLOAD', 'PORTS', 'PIDS');
  const rows = pods.map((p) => {
    const ready = `${p.containers.filter((c) => c.ready).length}/${p.containers.length}`;
    const row: (string | number)[] = [...(showNamespace ? [p.namespace] : []), p.name, ready, podPhase(p), p.restarts, p.proxyRevision ?? '-', age(p.createdAt)];
    if (wide) {
      row.push(p.workload ?? `<gateway>`, Object.entries(p.ports).map(([k, v]) => `${k}=${v}`).join(','), p.containers.map((c) => `${c.container}=${c.process?.pid ?? '-'}`).join(','));
    }
    return row;
  });
  return { head, rows };
}

/** A RateLimit's limit as `10/1s burst 20 /api per x-user`. */
function rateLimitText(limit: unknown): string {
  const l = (limit ?? {}) as { requests?: unknown; per?: unknown; burst?: unknown; match?: { pathPrefix?: unknown; header?: unknown } };
  return [`${String(l.requests)}/${String(l.per)}`, l.burst !== undefined ? `burst ${String(l.burst)}` : '', l.match?.pathPrefix ? String(l.match.pathPrefix) : '', l.match?.header ? `per ${String(l.match.header)}` : ''].filter(Boolean).join(' ');
}

/** Rows for stored resources of one kind; `pods` gives workloads their READY count, `applied` Sidecars their pods. */
export function resourceColumns(info: KindInfo, resources: StoredResource[], pods: PodStatus[], wide: boolean, showNamespace: boolean, applied: StoredResource[] = resources): Columns {
  const ns = (r: StoredResource) => (showNamespace ? [r.metadata.namespace ?? ''] : []);
  const nsHead = showNamespace ? ['NAMESPACE'] : [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const spec = (r: StoredResource) => (r.spec ?? {}) as any;
  switch (info.id) {
    case 'meshctl.dev/Workload':
      return {
        head: [...nsHead, 'NAME', 'READY', 'LABELS', 'PORT', ...(wide ? ['COMMAND', 'SERVICE ACCOUNT'] : [])],
        rows: resources.map((r) => {
          const replicas = Number.isInteger(spec(r).replicas) ? spec(r).replicas : 1;
          const ready = pods.filter((p) => p.workload === r.metadata.name && p.namespace === (r.metadata.namespace ?? 'default') && p.ready).length;
          return [...ns(r), r.metadata.name, `${ready}/${replicas}`, selector(r.metadata.labels), spec(r).port ?? '-', ...(wide ? [list(spec(r).command).join(' '), spec(r).serviceAccount ?? 'default'] : [])];
        }),
      };
    case 'core/Service':
      return {
        head: [...nsHead, 'NAME', 'PORTS', 'SELECTOR', 'ENDPOINTS'],
        rows: resources.map((r) => {
          const sel = spec(r).selector as Record<string, string> | undefined;
          const endpoints = sel ? pods.filter((p) => p.type === 'pod' && p.namespace === (r.metadata.namespace ?? 'default') && selectorMatches(sel, p.labels)).map((p) => p.name) : [];
          return [...ns(r), r.metadata.name, list(spec(r).ports).map((p) => `${(p as { port?: number }).port}/${(p as { protocol?: string }).protocol ?? 'TCP'}`).join(','), selector(sel), endpoints.length ? (wide ? endpoints.join(',') : String(endpoints.length)) : '<none>'];
        }),
      };
    case 'networking.istio.io/VirtualService':
      return {
        head: [...nsHead, 'NAME', 'GATEWAYS', 'HOSTS', ...(wide ? ['ROUTES'] : [])],
        rows: resources.map((r) => [...ns(r), r.metadata.name, JSON.stringify(list(spec(r).gateways)), JSON.stringify(list(spec(r).hosts)), ...(wide ? [list(spec(r).http).length] : [])]),
      };
    case 'networking.istio.io/DestinationRule':
      return {
        head: [...nsHead, 'NAME', 'HOST', 'SUBSETS'],
        rows: resources.map((r) => [...ns(r), r.metadata.name, String(spec(r).host ?? ''), list(spec(r).subsets).map((s) => (s as { name?: string }).name).join(',') || '<none>']),
      };
    case 'networking.istio.io/Gateway':
      return {
        head: [...nsHead, 'NAME', 'PORTS', 'HOSTS', 'SELECTOR'],
        rows: resources.map((r) => {
          const servers = list(spec(r).servers) as { port?: { number?: number; protocol?: string }; hosts?: string[] }[];
          return [...ns(r), r.metadata.name, servers.map((s) => `${s.port?.number}/${s.port?.protocol ?? 'HTTP'}`).join(','), [...new Set(servers.flatMap((s) => s.hosts ?? []))].join(','), selector(spec(r).selector)];
        }),
      };
    case 'networking.istio.io/ServiceEntry':
      return {
        head: [...nsHead, 'NAME', 'HOSTS', 'LOCATION', 'RESOLUTION'],
        rows: resources.map((r) => [...ns(r), r.metadata.name, JSON.stringify(list(spec(r).hosts)), spec(r).location ?? '', spec(r).resolution ?? '']),
      };
    case 'security.istio.io/PeerAuthentication':
      return {
        head: [...nsHead, 'NAME', 'MODE', 'SELECTOR'],
        rows: resources.map((r) => [...ns(r), r.metadata.name, spec(r).mtls?.mode ?? 'UNSET', selector(spec(r).selector?.matchLabels)]),
      };
    case 'networking.istio.io/Sidecar': {
      // Which Sidecar a pod takes depends on every Sidecar applied (sidecar-scope.ts), not only the listed ones.
      const model = modelOf(applied);
      const podsOf = (r: StoredResource) => pods.filter((p) => {
        const chosen = p.type === 'pod' ? sidecarFor(model.sidecars, model.rootNamespace, p) : null;
        return chosen?.name === r.metadata.name && chosen.namespace === (r.metadata.namespace ?? 'default');
      }).map((p) => p.name);
      return {
        head: [...nsHead, 'NAME', 'SELECTOR', 'EGRESS HOSTS', 'OUTBOUND', 'PODS'],
        rows: resources.map((r) => {
          const egress = list(spec(r).egress).flatMap((e) => list((e as { hosts?: unknown }).hosts).map(String));
          const mode = spec(r).outboundTrafficPolicy ? String(spec(r).outboundTrafficPolicy.mode ?? 'REGISTRY_ONLY') : `${DEFAULT_OUTBOUND_TRAFFIC_MODE} (mesh default)`;
          const selected = podsOf(r);
          return [...ns(r), r.metadata.name, selector(spec(r).workloadSelector?.labels), egress.length ? egress.join(',') : '*/*', mode, wide ? selected.join(',') || '<none>' : selected.length];
        }),
      };
    }
    case 'meshctl.dev/RateLimit':
      return {
        head: [...nsHead, 'NAME', 'SELECTOR', 'LIMITS'],
        rows: resources.map((r) => [...ns(r), r.metadata.name, selector(spec(r).selector?.matchLabels), list(spec(r).limits).map(rateLimitText).join(', ')]),
      };
    default:
      return { head: [...nsHead, 'NAME'], rows: resources.map((r) => [...ns(r), r.metadata.name]) };
  }
}
