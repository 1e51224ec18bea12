// `meshctl install --mtls`: the mesh-wide mTLS mode as a resource the user sees (`get peerauthentications -A`),
// diffs and changes with apply, stored as the mesh's first revision — not a hidden setting.
import { EXIT, MeshctlError } from '../errors.js';
import { DEFAULT_ROOT_NAMESPACE } from '../policy/mesh-model.js';
import { meshWidePeerAuthentication } from '../policy/peer-authentication.js';
import type { HomeLayout } from './home.js';
import { commitRevision, readApplied, resourceKey, type StoredResource } from './state.js';

export function meshMtlsStepText(mode: 'STRICT' | 'PERMISSIVE'): string {
  return ` and the mesh-wide PeerAuthentication ${DEFAULT_ROOT_NAMESPACE}/default (mTLS ${mode})`;
}

/** Stores the mesh-wide PeerAuthentication as revision 1 of a home being created. */
export async function writeMeshMtls(layout: HomeLayout, mode: 'STRICT' | 'PERMISSIVE'): Promise<void> {
  const resource = meshWidePeerAuthentication(mode, DEFAULT_ROOT_NAMESPACE) as StoredResource;
  await commitRevision(layout, [resource], [{ apiVersion: resource.apiVersion, kind: resource.kind, namespace: DEFAULT_ROOT_NAMESPACE, name: 'default', action: 'created' }], 'apply');
}

/** On an installed mesh, --mtls may only repeat what is applied: a change of mode is apply's (it is a revision like any other). */
export async function checkInstalledMtls(layout: HomeLayout, mode: 'STRICT' | 'PERMISSIVE'): Promise<void> {
  const wanted = meshWidePeerAuthentication(mode, DEFAULT_ROOT_NAMESPACE);
  const applied = (await readApplied(layout)).resources.find((r) => resourceKey(r) === resourceKey(wanted));
  const current = (applied?.spec as { mtls?: { mode?: unknown } } | undefined)?.mtls?.mode;
  if (current === mode) return;
  const now = applied ? `its PeerAuthentication ${DEFAULT_ROOT_NAMESPACE}/default says ${String(current ?? 'UNSET')}` : `no mesh-wide PeerAuthentication is applied (Istio's PERMISSIVE)`;
  throw new MeshctlError(
    `The mesh at ${layout.root} is installed and ${now}, not --mtls ${mode.toLowerCase()}; change the mode with meshctl apply of PeerAuthentication ${DEFAULT_ROOT_NAMESPACE}/default (spec.mtls.mode: ${mode}), or drop --mtls.`,
    EXIT.usage,
  );
}
