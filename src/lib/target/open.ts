// Which mesh a command talks to: the local mesh of --home (or $MESHCTL_HOME, ~/.meshctl), or an Istio
// cluster through the user's kubeconfig (--target kubernetes; --context or --kubeconfig imply it;
// $MESHCTL_TARGET sets the default). The Kubernetes client loads only when that target is chosen.
import { Flags } from '@oclif/core';
import { usageError } from '../errors.js';
import type { MeshTarget } from './target.js';

export const TARGET_ENV = 'MESHCTL_TARGET';

/** The flags every live command takes to choose its target (spread into its flags). */
export const targetFlags = {
  target: Flags.option({ summary: `The mesh to talk to: the local mesh, or an Istio cluster through the kubeconfig (default: $${TARGET_ENV}, else local; --context or --kubeconfig mean kubernetes).`, options: ['local', 'kubernetes'] as const })(),
  context: Flags.string({ summary: 'The kubeconfig context to use (as kubectl --context); implies --target kubernetes.', helpValue: 'NAME' }),
  kubeconfig: Flags.string({ summary: 'The kubeconfig file (as kubectl --kubeconfig; default $KUBECONFIG, else ~/.kube/config); implies --target kubernetes.', helpValue: 'FILE' }),
};

export interface TargetFlags {
  home?: string;
  target?: string;
  context?: string;
  kubeconfig?: string;
  namespace?: string;
  'all-namespaces'?: boolean;
  'prometheus-url'?: string;
  /** route shift's --metrics (a cluster's gates: prometheus, envoy or auto). */
  metrics?: string;
}

/** local or kubernetes, from the flags and $MESHCTL_TARGET. */
export function targetKind(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): 'local' | 'kubernetes' {
  const kube = flags.context !== undefined || flags.kubeconfig !== undefined;
  const chosen = flags.target ?? (kube ? 'kubernetes' : env[TARGET_ENV] || 'local');
  if (chosen !== 'local' && chosen !== 'kubernetes') throw usageError(`$${TARGET_ENV} is "${chosen}"; set it to local or kubernetes.`);
  if (chosen === 'local' && kube) throw usageError(`--${flags.context !== undefined ? 'context' : 'kubeconfig'} names a Kubernetes cluster, and --target is local; drop one of them.`);
  if (chosen === 'kubernetes' && flags.home !== undefined) throw usageError('--home names a local mesh, and the target is kubernetes; drop one of them.');
  return chosen;
}

/** The mesh the flags name; exit 3 with a sentence when no mesh is installed there or the cluster cannot be reached. */
export async function openTarget(flags: TargetFlags): Promise<MeshTarget> {
  if (targetKind(flags) === 'kubernetes') {
    const [{ KubeClient }, { KubernetesTarget }] = await Promise.all([import('../kube/client.js'), import('./kubernetes.js')]);
    const client = KubeClient.fromFlags({ kubeconfig: flags.kubeconfig, context: flags.context, namespace: flags.namespace });
    return new KubernetesTarget(client, { namespace: flags.namespace, allNamespaces: flags['all-namespaces'], prometheusUrl: flags['prometheus-url'], ...(flags.metrics === 'prometheus' || flags.metrics === 'envoy' ? { metrics: flags.metrics } : {}) });
  }
  const [{ LocalTarget }, { openHome }] = await Promise.all([import('./local.js'), import('../mesh/home-flag.js')]);
  return new LocalTarget((await openHome(flags.home)).layout);
}

/** The target flags a printed follow-up command must repeat (`--context prod`). */
export function targetFlagsText(flags: TargetFlags): string {
  return [flags.target ? `--target ${flags.target}` : '', flags.context ? `--context ${flags.context}` : '', flags.kubeconfig ? `--kubeconfig ${flags.kubeconfig}` : '', flags['prometheus-url'] ? `--prometheus-url ${flags['prometheus-url']}` : ''].filter(Boolean).join(' ');
}
