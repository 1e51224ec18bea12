// Which lists in mesh policy have an order that means something. Hosts, gateways, subsets, ports and
// authorization rules are sets (or maps by a key field): reordering them changes nothing. Route lists are
// first-match, so their order is compared; everything not named here is compared position by position.
import { K } from '../kinds.js';

export type ListStrategy =
  /** Position by position. */
  | { type: 'ordered' }
  /** A set of values: membership counts, order does not. */
  | { type: 'set' }
  /** Items paired by a key (a subset's name, a port's number); unkeyed or duplicate keys fall back to order. */
  | { type: 'map'; key: (item: unknown) => string | undefined }
  /** First-match routes: paired by name or match, compared in order, a reorder reported as one change. */
  | { type: 'routes' };

const ORDERED: ListStrategy = { type: 'ordered' };
const SET: ListStrategy = { type: 'set' };
const ROUTES: ListStrategy = { type: 'routes' };

/** Scalar lists that are sets wherever they appear. */
const SCALAR_SETS = new Set([
  'hosts', 'gateways', 'exportTo', 'hostnames', 'addresses', 'sniHosts', 'destinationSubnets', 'subjectAltNames',
  'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces',
  'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks', 'methods', 'notMethods', 'paths', 'notPaths',
  'ports', 'notPorts', 'values', 'notValues', 'audiences', 'remove', 'allowMethods', 'allowHeaders', 'exposeHeaders',
  'allowOrigin', 'finalizers', 'mirrorPercentages', 'verifyCertificateSpki', 'verifyCertificateHash',
]);

/** A leaf as text, whether it was normalised (a duration, a host) or not. */
export type LeafText = (v: unknown) => string;

function field(item: unknown, ...names: string[]): unknown {
  let v: unknown = item;
  for (const n of names) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[n];
  }
  return v;
}

function keyBy(text: LeafText, ...paths: string[][]): (item: unknown) => string | undefined {
  return (item) => {
    const parts = paths.map((p) => field(item, ...p));
    if (parts.every((p) => p === undefined || p === null)) return undefined;
    return parts.map((p) => (p === undefined || p === null ? '' : text(p))).join('|');
  };
}

/**
 * The strategy for the list at `path` (object keys from the resource's root, `*` for list items) of a
 * resource of kind `kindId`. `scalar` says whether the list holds scalars only.
 */
export function listStrategy(kindId: string, path: readonly string[], scalar: boolean, text: LeafText): ListStrategy {
  const key = path[path.length - 1] ?? '';
  const depth = path.length;
  if (scalar) return SCALAR_SETS.has(key) ? SET : ORDERED;
  switch (kindId) {
    case K.VirtualService:
      if (depth === 2 && (key === 'http' || key === 'tcp' || key === 'tls')) return ROUTES;
      if (key === 'match') return SET;
      if (key === 'route' || key === 'mirrors') return { type: 'map', key: keyBy(text, ['destination', 'host'], ['destination', 'subset'], ['destination', 'port', 'number']) };
      break;
    case K.HTTPRoute:
    case K.GRPCRoute:
      if (depth === 2 && key === 'rules') return ROUTES;
      if (key === 'matches') return SET;
      break;
    case K.AuthorizationPolicy:
      if (key === 'rules' || key === 'from' || key === 'to' || key === 'targetRefs') return SET;
      if (key === 'when') return { type: 'map', key: keyBy(text, ['key']) };
      break;
    case K.DestinationRule:
      if (key === 'subsets') return { type: 'map', key: keyBy(text, ['name']) };
      if (key === 'portLevelSettings') return { type: 'map', key: keyBy(text, ['port', 'number']) };
      break;
    case K.Gateway:
      if (key === 'servers') return { type: 'map', key: keyBy(text, ['port', 'number'], ['port', 'name']) };
      break;
    case K.ServiceEntry:
      if (key === 'ports') return { type: 'map', key: keyBy(text, ['number']) };
      if (key === 'endpoints') return { type: 'map', key: keyBy(text, ['address']) };
      break;
    case K.Sidecar:
      if (key === 'ingress') return { type: 'map', key: keyBy(text, ['port', 'number']) };
      break;
    case K.RequestAuthentication:
      if (key === 'jwtRules') return { type: 'map', key: keyBy(text, ['issuer']) };
      break;
    case K.Service:
      if (key === 'ports') return { type: 'map', key: keyBy(text, ['port'], ['protocol']) };
      break;
    default:
      break;
  }
  switch (key) {
    case 'backendRefs':
      return { type: 'map', key: keyBy(text, ['group'], ['kind'], ['namespace'], ['name'], ['port']) };
    case 'parentRefs':
    case 'targetRefs':
      return SET;
    case 'containers':
    case 'initContainers':
    case 'env':
    case 'volumes':
      return { type: 'map', key: keyBy(text, ['name']) };
    case 'volumeMounts':
      return { type: 'map', key: keyBy(text, ['mountPath']) };
    case 'fromHeaders':
      return { type: 'map', key: keyBy(text, ['name']) };
    default:
      return ORDERED;
  }
}
