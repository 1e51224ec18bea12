// meshctl get: the kinds a user can list (pods beside every policy kind), and their kubectl-like rows.
import { KINDS, TOLERATED_KINDS, type KindInfo } from '../policy/kinds.js';
import { usageError } from '../errors.js';
import type { StoredResource } from './state.js';
import type { PodStatus } from './agent/protocol.js';
import { age, podPhase } from './render.js';

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

/** Rows for stored resources of one kind; `pods` gives workloads their READY count. */
export function resourceColumns(info: KindInfo, resources: StoredResource[], pods: PodStatus[], wide: boolean, showNamespace: boolean): Columns {
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
          const endpoints = sel ? pods.filter((p) => p.type === 'pod' && p.namespace === (r.metadata.namespace ?? 'default') && Object.entries(sel).every(([k, v]) => p.labels[k] === v)).map((p) => p.name) : [];
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
    default:
      return { head: [...nsHead, 'NAME'], rows: resources.map((r) => [...ns(r), r.metadata.name]) };
  }
}
