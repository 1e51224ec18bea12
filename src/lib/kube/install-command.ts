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

export async function uninstallOnClusterCommand(flags: { kubeconfig?: string; context?: string; namespace?: string[]; 'dry-run'?: boolean }, format: string): Promise<unknown> {
  const { uninstallOnCluster } = await import('./install.js');
  const client = KubeClient.fromFlags({ kubeconfig: flags.kubeconfig, context: flags.context });
  try {
    const result = await uninstallOnCluster(client, { namespaces: flags.namespace ?? [], dryRun: Boolean(flags['dry-run']) });
    const document = { target: 'kubernetes', context: client.access.context, ...result, dryRun: Boolean(flags['dry-run']) };
    await render(format, {
      document,
      text: () => {
        let text = result.unlabelled.length ? `${flags['dry-run'] ? 'Would take' : 'Took'} the sidecar injection label meshctl added off: ${result.unlabelled.join(', ')} (context "${client.access.context}"). Istio itself stays.\n` : `No namespace carries an injection label meshctl added (context "${client.access.context}"); nothing to do. Istio itself stays.\n`;
        if (result.kept.length) text += `Kept the labels of ${result.kept.join(', ')}: meshctl did not add them.\n`;
        return text;
      },
    });
    return document;
  } finally {
    client.close();
  }
}

/** `meshctl check --target kubernetes` through the target's client; resolves to whether every check passed. */
export async function checkClusterCommand(client: KubeClient, proxyStatus: Parameters<typeof import('./install.js').checkCluster>[1], namespaces: string[], format: string): Promise<{ success: boolean }> {
  const { checkCluster, clusterCheckText } = await import('./install.js');
  const run = await checkCluster(client, proxyStatus, namespaces);
  await render(format, { document: run, text: () => clusterCheckText(run) });
  return run;
}
