// What the addon commands share: the installed home they act on, and the dashboard's URL (opened in a
// desktop browser when there is one).
import { EXIT, MeshctlError } from '../../errors.js';
import { ensureAgent } from '../agent/client.js';
import { homeLayout, resolveHome, type HomeLayout } from '../home.js';
import { readMeshConfigFile } from '../state.js';
import { which } from '../../system/executables.js';
import { spawnDetached } from '../../system/processes.js';
import { prometheusReady, prometheusUrl, readPrometheusSettings } from './prometheus.js';

/** The home of an installed mesh (its agent started when `needAgent`), or an environment error saying to install it. */
export async function requireInstalledLayout(homeFlag: string | undefined, needAgent: boolean): Promise<HomeLayout> {
  const layout = homeLayout(resolveHome(homeFlag));
  if (!(await readMeshConfigFile(layout).catch(() => null))) {
    throw new MeshctlError(`No mesh is installed at ${layout.root}; run meshctl install first (or pass the mesh's --home).`, EXIT.environment);
  }
  if (needAgent) await ensureAgent(layout);
  return layout;
}

export interface DashboardResult {
  addon: 'prometheus';
  url: string;
  /** The addon answered when asked. */
  ready: boolean;
  /** A desktop browser was asked to open the URL. */
  opened: boolean;
}

export async function dashboard(homeFlag: string | undefined, options: { open: boolean }): Promise<DashboardResult> {
  const layout = await requireInstalledLayout(homeFlag, false);
  const settings = await readPrometheusSettings(layout);
  if (!settings) throw new MeshctlError(`Prometheus is not enabled for the mesh at ${layout.root}; run meshctl addons enable prometheus first.`, EXIT.environment);
  const url = prometheusUrl(settings);
  const ready = await prometheusReady(url);
  const opened = options.open && ready ? await openInBrowser(url) : false;
  return { addon: 'prometheus', url, ready, opened };
}

/** Asks the desktop to open `url`; false where there is no desktop (no display, no opener). */
async function openInBrowser(url: string): Promise<boolean> {
  const opener = process.platform === 'darwin' ? 'open' : process.env.DISPLAY || process.env.WAYLAND_DISPLAY ? 'xdg-open' : null;
  if (!opener || !(await which(opener))) return false;
  const child = await spawnDetached({ command: opener, args: [url], cwd: process.cwd(), env: process.env as Record<string, string>, stdoutFile: '/dev/null', stderrFile: '/dev/null' }).catch(() => null);
  child?.unref();
  return child !== null;
}
