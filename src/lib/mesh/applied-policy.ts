// The policy a local mesh has applied, as the OLD side of `diff --live`: read from the mesh home's state
// store (the applied resources of the current revision), not from the proxies.
import type { SourceFile } from '../policy/source.js';

export interface LiveSource {
  source: SourceFile;
  revision: number;
}

/** Exit 3 with a sentence when no mesh is installed at the home (as every local-mesh command does). */
export async function readLive(home: string | undefined): Promise<LiveSource> {
  const { openHome } = await import('./home-flag.js');
  const { readApplied } = await import('./state.js');
  const { layout } = await openHome(home);
  const applied = await readApplied(layout);
  const text = `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: applied.resources }, null, 2)}\n`;
  return {
    source: { path: `<mesh revision ${applied.revision}>`, format: 'json', text, size: Buffer.byteLength(text) },
    revision: applied.revision,
  };
}
