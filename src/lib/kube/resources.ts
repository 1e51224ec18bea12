// The kinds meshctl reads and writes on a cluster, where the API serves them, and reading them as the
// policy layer's resources (server-set metadata dropped). One list request per kind.
import { KubeApiError, resourcePath, type KubeClient, type RequestAbout } from './client.js';

export interface KindRef {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export const KINDS = {
  VirtualService: { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices', kind: 'VirtualService', namespaced: true },
  DestinationRule: { group: 'networking.istio.io', version: 'v1', plural: 'destinationrules', kind: 'DestinationRule', namespaced: true },
  Gateway: { group: 'networking.istio.io', version: 'v1', plural: 'gateways', kind: 'Gateway', namespaced: true },
  ServiceEntry: { group: 'networking.istio.io', version: 'v1', plural: 'serviceentries', kind: 'ServiceEntry', namespaced: true },
  Sidecar: { group: 'networking.istio.io', version: 'v1', plural: 'sidecars', kind: 'Sidecar', namespaced: true },
  PeerAuthentication: { group: 'security.istio.io', version: 'v1', plural: 'peerauthentications', kind: 'PeerAuthentication', namespaced: true },
  AuthorizationPolicy: { group: 'security.istio.io', version: 'v1', plural: 'authorizationpolicies', kind: 'AuthorizationPolicy', namespaced: true },
  HTTPRoute: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', kind: 'HTTPRoute', namespaced: true },
  Service: { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  Pod: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  Namespace: { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  CustomResourceDefinition: { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false },
} satisfies Record<string, KindRef>;

/** The policy kinds `validate --live`, `diff --live` and a shift read from a cluster. */
export const POLICY_KINDS: KindRef[] = [KINDS.VirtualService, KINDS.DestinationRule, KINDS.Gateway, KINDS.ServiceEntry, KINDS.Sidecar, KINDS.PeerAuthentication, KINDS.AuthorizationPolicy, KINDS.HTTPRoute];

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    managedFields?: ManagedFields[];
    [k: string]: unknown;
  };
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
}

export interface ManagedFields {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsV1?: Record<string, unknown>;
}

export function apiVersionOf(k: KindRef): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

export function about(verb: string, k: KindRef, namespace?: string, name?: string, subresource?: string): RequestAbout {
  return { verb, resource: subresource ? `${k.plural}/${subresource}` : k.plural, group: k.group, namespace, name };
}

export async function listObjects(client: KubeClient, k: KindRef, options: { namespace?: string; labelSelector?: string } = {}): Promise<KubeObject[]> {
  const list = await client.request<{ items: KubeObject[] }>('GET', resourcePath({ ...k, namespace: k.namespaced ? options.namespace : undefined }), {
    query: { labelSelector: options.labelSelector },
    about: about('list', k, options.namespace),
  });
  return list.items.map((o) => ({ ...o, apiVersion: apiVersionOf(k), kind: k.kind }));
}

export async function getObject(client: KubeClient, k: KindRef, namespace: string | undefined, name: string): Promise<KubeObject | null> {
  try {
    return await client.request<KubeObject>('GET', resourcePath({ ...k, namespace, name }), { about: about('get', k, namespace, name) });
  } catch (err) {
    if (err instanceof KubeApiError && err.statusCode === 404) return null;
    throw err;
  }
}

/** Server-side apply under `fieldManager` (the body is JSON, which is YAML). */
export function applyObject(client: KubeClient, k: KindRef, object: KubeObject, options: { fieldManager: string; force?: boolean }): Promise<KubeObject> {
  const namespace = k.namespaced ? object.metadata.namespace : undefined;
  return client.request<KubeObject>('PATCH', resourcePath({ ...k, namespace, name: object.metadata.name }), {
    body: object,
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: options.fieldManager, ...(options.force ? { force: 'true' } : {}) },
    about: about('patch', k, namespace, object.metadata.name),
  });
}

/** A JSON merge patch (never strategic: custom resources refuse it). */
export function mergePatchObject(client: KubeClient, k: KindRef, namespace: string | undefined, name: string, patch: unknown, fieldManager: string): Promise<KubeObject> {
  return client.request<KubeObject>('PATCH', resourcePath({ ...k, namespace, name }), {
    body: patch,
    contentType: 'application/merge-patch+json',
    query: { fieldManager },
    about: about('patch', k, namespace, name),
  });
}

/** Annotations that clients write for their own bookkeeping (kubectl's last applied copy, a shift's record), never policy. */
const BOOKKEEPING = /^(kubectl\.kubernetes\.io\/last-applied-configuration|meshctl\.dev\/.*)$/;

/** The object as policy files would hold it: no status, no server-set metadata, no bookkeeping annotations. */
export function asPolicyResource(o: KubeObject): KubeObject {
  const { name, namespace, labels } = o.metadata;
  const kept = Object.entries(o.metadata.annotations ?? {}).filter(([k]) => !BOOKKEEPING.test(k));
  const annotations = kept.length ? Object.fromEntries(kept) : undefined;
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name, ...(namespace ? { namespace } : {}), ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
    ...(o.spec !== undefined ? { spec: o.spec } : {}),
  };
}

/** Whether `manager`'s managedFields entries own the field at `path` (or a field under it). */
export function ownsField(o: KubeObject, manager: string, path: string[]): boolean {
  return (o.metadata.managedFields ?? []).some((e) => e.manager === manager && e.operation === 'Apply' && hasPath(e.fieldsV1 ?? {}, path));
}

export function hasPath(fields: Record<string, unknown>, path: string[]): boolean {
  let cur: unknown = fields;
  for (const k of path) {
    if (!cur || typeof cur !== 'object') return false;
    cur = (cur as Record<string, unknown>)[`f:${k}`];
    if (cur === undefined) return false;
  }
  return true;
}
