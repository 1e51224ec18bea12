// Which mesh a command talks to: the local mesh of --home (or $MESHCTL_HOME, ~/.meshctl). A
// Kubernetes target, chosen by its own flags, is opened here too once it exists.
import type { MeshTarget } from './target.js';

export interface TargetFlags {
  home?: string;
}

/** The mesh the flags name; exit 3 with a sentence when no mesh is installed there. */
export async function openTarget(flags: TargetFlags): Promise<MeshTarget> {
  const [{ LocalTarget }, { openHome }] = await Promise.all([import('./local.js'), import('../mesh/home-flag.js')]);
  return new LocalTarget((await openHome(flags.home)).layout);
}
