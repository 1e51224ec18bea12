// validate --live: the files given, analyzed together with what the mesh holds (a cluster's Istio and
// Gateway API resources with the Services, Deployments, Pods and Namespaces they reference, or the local
// mesh's applied policy). Each mesh object becomes a source of its own, named for the object, so a finding
// on it says `<context>/<namespace>/<Kind>/<name>` where a file's finding gives a path, in every format.
// An object the files also hold is the files' (the change under review).
import { expandPaths, readSource, type ReadOptions, type SourceFile } from '../policy/source.js';
import type { TargetFlags } from '../target/open.js';
import type { MeshResource } from '../target/target.js';

interface NamedObject {
  name: string;
  resource: MeshResource;
}

/** A resource's identity as files and cluster share it (group, kind, namespace, name). */
function identity(r: MeshResource): string {
  const group = r.apiVersion.includes('/') ? r.apiVersion.split('/')[0] : '';
  return `${group}|${r.kind}|${r.metadata.namespace ?? ''}|${r.metadata.name}`;
}

async function meshObjects(flags: TargetFlags): Promise<{ objects: NamedObject[]; from: string }> {
  const { openTarget } = await import('../target/open.js');
  const target = await openTarget(flags);
  if ('liveObjects' in target && typeof target.liveObjects === 'function') {
    const cluster = target as unknown as { liveObjects(): Promise<NamedObject[]>; liveFrom: string };
    return { objects: await cluster.liveObjects(), from: cluster.liveFrom };
  }
  const applied = await target.applied();
  const label = applied.label ?? `mesh revision ${applied.revision}`;
  const objects = applied.resources.map((resource) => ({ name: [label, resource.metadata.namespace, resource.kind, resource.metadata.name].filter((x) => x !== undefined).join('/'), resource }));
  return { objects, from: `the local mesh (revision ${applied.revision})` };
}

/** What validate --live read besides the files: how many mesh objects, and from where (`the cluster of context "prod"`). */
export interface LiveRead {
  sources: SourceFile[];
  /** Mesh objects analyzed (those the files also hold are the files'). */
  objects: number;
  from: string;
}

/** The sources validate analyzes: the files, then each mesh object the files do not hold. */
export async function liveSources(paths: string[], flags: TargetFlags, read: ReadOptions & { allowEmpty?: boolean }): Promise<LiveRead> {
  const [{ loadSources }, { objects, from }] = await Promise.all([import('../policy/load.js'), meshObjects(flags)]);
  const files: SourceFile[] = [];
  for (const p of paths.length ? await expandPaths(paths, read) : []) files.push(await readSource(p, read));
  const held = new Set(
    loadSources(files, { defaultNamespace: flags.namespace || 'default' }).resources.map((r) => `${r.group}|${r.kind}|${r.namespace}|${r.name}`),
  );
  const fromMesh = objects
    .filter((o) => !held.has(identity(o.resource)))
    .map((o): SourceFile => {
      const text = `${JSON.stringify(o.resource, null, 2)}\n`;
      return { path: o.name, format: 'json', text, size: Buffer.byteLength(text) };
    });
  return { sources: [...files, ...fromMesh], objects: fromMesh.length, from };
}
