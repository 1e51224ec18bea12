// The Kubernetes side of `meshctl install`: --print-rbac, or the pre-flight checks and injection labels.
import { render } from '../output/render.js';
import { KubeClient } from './client.js';
import { clusterInstallText, installOnCluster, rbacYaml, type ClusterInstallReport } from './install.js';

export async function installOnClusterCommand(
  flags: { kubeconfig?: string; context?: string; namespace?: string[]; revision?: string; 'dry-run'?: boolean; 'print-rbac'?: boolean },
  format: string,
): Promise<ClusterInstallReport | string> {
  if (flags['print-rbac']) {
    process.stdout.write(rbacYaml());
    return rbacYaml();
  }
  const client = KubeClient.fromFlags({ kubeconfig: flags.kubeconfig, context: flags.context });
  try {
    const report = await installOnCluster(client, { namespaces: flags.namespace ?? [], revision: flags.revision, dryRun: Boolean(flags['dry-run']) });
    await render(format, { document: report, text: () => clusterInstallText(report) });
    return report;
  } finally {
    client.close();
  }
}
