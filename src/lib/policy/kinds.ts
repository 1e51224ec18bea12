// The policy language meshctl reads: every kind, its API group, versions and scope.
export interface KindInfo {
  /** Stable id used across meshctl: `group/Kind` (core group as `core`). */
  id: string;
  group: string;
  kind: string;
  versions: string[];
  namespaced: boolean;
  /** File name (without .json) of its JSON Schema in schemas/, when meshctl checks its shape. */
  schema?: string;
  /** kubectl-style plural, for `get`. */
  plural: string;
  /** Short friendly names used by `meshctl get`. */
  aliases?: string[];
}

const ISTIO_NET = 'networking.istio.io';
const ISTIO_SEC = 'security.istio.io';
const GW = 'gateway.networking.k8s.io';

function k(group: string, kind: string, versions: string[], plural: string, opts: Partial<KindInfo> = {}): KindInfo {
  return {
    id: `${group || 'core'}/${kind}`,
    group,
    kind,
    versions,
    plural,
    namespaced: opts.namespaced ?? true,
    schema: opts.schema,
    aliases: opts.aliases,
  };
}

export const KINDS: KindInfo[] = [
  k(ISTIO_NET, 'VirtualService', ['v1', 'v1beta1', 'v1alpha3'], 'virtualservices', { schema: 'networking.istio.io.VirtualService', aliases: ['vs'] }),
  k(ISTIO_NET, 'DestinationRule', ['v1', 'v1beta1', 'v1alpha3'], 'destinationrules', { schema: 'networking.istio.io.DestinationRule', aliases: ['dr'] }),
  k(ISTIO_NET, 'Gateway', ['v1', 'v1beta1', 'v1alpha3'], 'gateways', { schema: 'networking.istio.io.Gateway', aliases: ['gw'] }),
  k(ISTIO_NET, 'ServiceEntry', ['v1', 'v1beta1', 'v1alpha3'], 'serviceentries', { schema: 'networking.istio.io.ServiceEntry', aliases: ['se'] }),
  k(ISTIO_NET, 'WorkloadEntry', ['v1', 'v1beta1', 'v1alpha3'], 'workloadentries', { schema: 'networking.istio.io.WorkloadEntry', aliases: ['we'] }),
  k(ISTIO_NET, 'Sidecar', ['v1', 'v1beta1', 'v1alpha3'], 'sidecars', { schema: 'networking.istio.io.Sidecar' }),
  k(ISTIO_SEC, 'AuthorizationPolicy', ['v1', 'v1beta1'], 'authorizationpolicies', { schema: 'security.istio.io.AuthorizationPolicy', aliases: ['ap'] }),
  k(ISTIO_SEC, 'PeerAuthentication', ['v1', 'v1beta1'], 'peerauthentications', { schema: 'security.istio.io.PeerAuthentication', aliases: ['pa'] }),
  k(ISTIO_SEC, 'RequestAuthentication', ['v1', 'v1beta1'], 'requestauthentications', { schema: 'security.istio.io.RequestAuthentication', aliases: ['ra'] }),
  k(GW, 'HTTPRoute', ['v1', 'v1beta1'], 'httproutes', { schema: 'gateway.networking.k8s.io.HTTPRoute' }),
  k(GW, 'GRPCRoute', ['v1'], 'grpcroutes', { schema: 'gateway.networking.k8s.io.GRPCRoute' }),
  k(GW, 'Gateway', ['v1', 'v1beta1'], 'gateways.gateway.networking.k8s.io', { schema: 'gateway.networking.k8s.io.Gateway' }),
  k(GW, 'ReferenceGrant', ['v1', 'v1beta1'], 'referencegrants', { schema: 'gateway.networking.k8s.io.ReferenceGrant' }),
  k('', 'Service', ['v1'], 'services', { aliases: ['svc'] }),
  k('', 'Namespace', ['v1'], 'namespaces', { namespaced: false, aliases: ['ns'] }),
  k('', 'Pod', ['v1'], 'pods', { aliases: ['po'] }),
  k('', 'Secret', ['v1'], 'secrets'),
  k('apps', 'Deployment', ['v1'], 'deployments', { aliases: ['deploy'] }),
  k('meshctl.dev', 'Workload', ['v1alpha1'], 'workloads', { schema: 'meshctl.dev.Workload', aliases: ['wl'] }),
  k('meshctl.dev', 'RateLimit', ['v1alpha1'], 'ratelimits', { schema: 'meshctl.dev.RateLimit', aliases: ['rl'] }),
];

/**
 * Kinds meshctl recognises but does not check or enforce: read without a finding, since Istio's own
 * analyzers consult some of them (a Telemetry selector, a WasmPlugin selector, a ConfigMap).
 */
export const TOLERATED_KINDS: KindInfo[] = [
  k('telemetry.istio.io', 'Telemetry', ['v1', 'v1alpha1'], 'telemetries'),
  k('extensions.istio.io', 'WasmPlugin', ['v1alpha1'], 'wasmplugins'),
  k(ISTIO_NET, 'EnvoyFilter', ['v1alpha3'], 'envoyfilters'),
  k(ISTIO_NET, 'WorkloadGroup', ['v1', 'v1beta1', 'v1alpha3'], 'workloadgroups'),
  k(GW, 'GatewayClass', ['v1', 'v1beta1'], 'gatewayclasses', { namespaced: false }),
  k(GW, 'TCPRoute', ['v1alpha2'], 'tcproutes'),
  k(GW, 'TLSRoute', ['v1alpha2', 'v1alpha3'], 'tlsroutes'),
  k(GW, 'ListenerSet', ['v1', 'v1alpha1'], 'listenersets'),
  k('', 'ConfigMap', ['v1'], 'configmaps'),
  k('', 'Node', ['v1'], 'nodes', { namespaced: false }),
  k('', 'Endpoints', ['v1'], 'endpoints'),
  k('', 'ServiceAccount', ['v1'], 'serviceaccounts'),
  k('apps', 'StatefulSet', ['v1'], 'statefulsets'),
  k('apps', 'DaemonSet', ['v1'], 'daemonsets'),
  k('apps', 'ReplicaSet', ['v1'], 'replicasets'),
];

const BY_GROUP_KIND = new Map<string, KindInfo>();
for (const info of [...KINDS, ...TOLERATED_KINDS]) BY_GROUP_KIND.set(`${info.group}/${info.kind}`, info);

export function kindInfo(group: string, kind: string): KindInfo | undefined {
  return BY_GROUP_KIND.get(`${group}/${kind}`);
}

/** Splits `group/version` (or a bare core `v1`) into its parts. */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  if (slash === -1) return { group: '', version: apiVersion };
  return { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** Kind ids used by analyzers. */
export const K = {
  VirtualService: `${ISTIO_NET}/VirtualService`,
  DestinationRule: `${ISTIO_NET}/DestinationRule`,
  Gateway: `${ISTIO_NET}/Gateway`,
  ServiceEntry: `${ISTIO_NET}/ServiceEntry`,
  WorkloadEntry: `${ISTIO_NET}/WorkloadEntry`,
  Sidecar: `${ISTIO_NET}/Sidecar`,
  EnvoyFilter: `${ISTIO_NET}/EnvoyFilter`,
  AuthorizationPolicy: `${ISTIO_SEC}/AuthorizationPolicy`,
  PeerAuthentication: `${ISTIO_SEC}/PeerAuthentication`,
  RequestAuthentication: `${ISTIO_SEC}/RequestAuthentication`,
  Telemetry: 'telemetry.istio.io/Telemetry',
  WasmPlugin: 'extensions.istio.io/WasmPlugin',
  HTTPRoute: `${GW}/HTTPRoute`,
  GRPCRoute: `${GW}/GRPCRoute`,
  KubernetesGateway: `${GW}/Gateway`,
  GatewayClass: `${GW}/GatewayClass`,
  ReferenceGrant: `${GW}/ReferenceGrant`,
  Service: 'core/Service',
  Namespace: 'core/Namespace',
  Pod: 'core/Pod',
  Secret: 'core/Secret',
  ConfigMap: 'core/ConfigMap',
  Node: 'core/Node',
  Deployment: 'apps/Deployment',
  Workload: 'meshctl.dev/Workload',
  RateLimit: 'meshctl.dev/RateLimit',
} as const;
