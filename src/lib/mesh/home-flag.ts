// The --home flag every local-mesh command takes, and opening an installed home from it.
import { Flags } from '@oclif/core';
import { EXIT, MeshctlError } from '../errors.js';
import { HOME_ENV, homeLayout, refuseFileHome, resolveHome, type HomeLayout } from './home.js';
import { readMeshConfigFile, type MeshConfigFile } from './state.js';

export const homeFlag = Flags.string({
  summary: `Mesh home directory (default: $${HOME_ENV}, else ~/.meshctl).`,
  helpValue: 'DIR',
});

/** The home's layout and configuration; exit 3 with a sentence when no mesh is installed there. */
export async function openHome(flag: string | undefined): Promise<{ layout: HomeLayout; config: MeshConfigFile }> {
  const layout = homeLayout(resolveHome(flag));
  refuseFileHome(layout);
  let config: MeshConfigFile | null;
  try {
    config = await readMeshConfigFile(layout);
  } catch (err) {
    throw new MeshctlError(`${layout.configFile} is unreadable (${(err as Error).message}); fix it, or remove the home and run meshctl install again.`, EXIT.environment);
  }
  if (!config) throw new MeshctlError(`No mesh is installed at ${layout.root}; run meshctl install${flag ? ` --home ${flag}` : ''} first.`, EXIT.environment);
  return { layout, config };
}
