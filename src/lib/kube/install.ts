// `meshctl install --target kubernetes`: pre-flight checks of the cluster (reachable, server version,
// RBAC for every verb meshctl uses, asked as `kubectl auth can-i` asks, Istio's CRDs and their served
// versions, istiod ready and its revision), then sidecar injection enabled on the namespaces given, and
// the pods that need a restart to get a sidecar. --dry-run sends no write and prints every request.
// meshctl never installs Istio itself here: without it, it stops with the exact steps (exit 3).
import { EXIT, MeshctlError } from '../errors.js';
import type { KubeClient } from './client.js';
import { KINDS, getObject, listObjects, mergePatchObject, type KubeObject } from './resources.js';

/** What meshctl does on a cluster, rule by rule (printed by --print-rbac, checked before install). */
export const RBAC_RULES: { group: string; resources: string[]; verbs: string[]; why: string; namespace?: string }[] = [
  { group: 'apiextensions.k8s.io', resources: ['customresourcedefinitions'], verbs: ['get'], why: "Istio's CRDs installed" },
  { group: 'networking.istio.io', resources: ['virtualservices'], verbs: ['get', 'list', 'patch'], why: 'route shift writes weights and its record' },
  { group: 'networking.istio.io', resources: ['destinationrules', 'gateways', 'serviceentries', 'sidecars'], verbs: ['list'], why: 'the policy a shift and diff --live read' },
  { group: 'security.istio.io', resources: ['peerauthentications', 'authorizationpolicies'], verbs: ['list'], why: 'the policy diff --live reads' },
  { group: 'gateway.networking.k8s.io', resources: ['httproutes'], verbs: ['get', 'list', 'patch'], why: "Gateway API routes; route shift writes an HTTPRoute's weights and its record" },
  { group: '', resources: ['namespaces'], verbs: ['get', 'patch'], why: 'install labels namespaces for sidecar injection' },
  { group: '', resources: ['pods', 'services'], verbs: ['list'], why: 'proxies, the pods that need a restart, and the Services and pods a shift resolves its route against' },
  { group: '', resources: ['pods/proxy'], verbs: ['get'], why: "istiod's sync status (proxy-status)", namespace: 'istio-system' },
  { group: '', resources: ['pods/proxy'], verbs: ['get'], why: "top, and a shift's gates without Prometheus: the sidecars' Istio metrics on port 15020" },
  { group: '', resources: ['pods/portforward'], verbs: ['get', 'create'], why: "inspect pod: the pod's Envoy admin API on port 15000" },
  { group: 'apps', resources: ['deployments'], verbs: ['list'], why: 'istiod ready', namespace: 'istio-system' },
  { group: '', resources: ['services/proxy'], verbs: ['get'], why: "Istio's Prometheus (without --prometheus-url)", namespace: 'istio-system' },
];

/** The ClusterRole granting every rule above, as YAML. */
export function rbacYaml(): string {
  const rules = RBAC_RULES.map((r) => `- apiGroups: ["${r.group}"]\n  resources: [${r.resources.map((x) => `"${x}"`).join(', ')}]\n  verbs: [${r.verbs.map((x) => `"${x}"`).join(', ')}]   # ${r.why}`).join('\n');
  return `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: meshctl\nrules:\n${rules}\n`;
}

export type CheckMark = 'ok' | 'warn' | 'fail';

export interface ClusterCheck {
  name: string;
  mark: CheckMark;
  detail: string;
}

export interface PlannedRequest {
  method: string;
  path: string;
  /** What it changes; '' for a read. */
  change: string;
}

export interface ClusterInstallReport {
  target: 'kubernetes';
  context: string;
  server: string;
  serverVersion: string | null;
  checks: ClusterCheck[];
  /** Namespaces labelled now (or that would be, with --dry-run). */
  labelled: string[];
  /** Pods of those namespaces without a sidecar, which get one once restarted. */
  restart: { namespace: string; name: string }[];
  dryRun: boolean;
  requests: PlannedRequest[];
}

/** The annotation saying meshctl added the injection label, so that uninstall removes only its own. */
export const INJECTION_ADDED = 'meshctl.dev/injection-label';

export interface ClusterInstallOptions {
  namespaces: string[];
  revision?: string;
  dryRun: boolean;
}

async function canI(client: KubeClient, verb: string, group: string, resource: string, namespace?: string): Promise<boolean> {
  const [plural, subresource] = resource.split('/');
  const review = await client.request<{ status?: { allowed?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb, group, resource: plural, ...(subresource ? { subresource } : {}), ...(namespace ? { namespace } : {}) } } },
    about: { verb: 'create', resource: 'selfsubjectaccessreviews', group: 'authorization.k8s.io' },
  });
  return review.status?.allowed === true;
}

export async function installOnCluster(client: KubeClient, options: ClusterInstallOptions): Promise<ClusterInstallReport> {
  const checks: ClusterCheck[] = [];
  const planned: PlannedRequest[] = [];
  const stop = (sentence: string) => new MeshctlError(sentence, EXIT.environment);
  const version = await client.request<{ gitVersion?: string }>('GET', '/version');
  checks.push({ name: 'cluster reachable', mark: 'ok', detail: `${client.access.server}, Kubernetes ${version.gitVersion ?? 'unknown'}` });

  const denied: string[] = [];
  for (const rule of RBAC_RULES) {
    for (const resource of rule.resources) {
      for (const verb of rule.verbs) {
        const namespaces = rule.namespace ? [rule.namespace] : options.namespaces.length ? options.namespaces : [undefined];
        for (const ns of namespaces) if (!(await canI(client, verb, rule.group, resource, ns))) denied.push(`${verb} ${rule.group ? `${resource}.${rule.group}` : resource}${ns ? ` in ${ns}` : ''} (${rule.why})`);
      }
    }
  }
  checks.push({ name: 'RBAC for every verb meshctl uses', mark: denied.length ? 'fail' : 'ok', detail: denied.length ? `denied: ${denied.join('; ')}` : 'allowed (SelfSubjectAccessReview)' });

  const crds = await Promise.all(['virtualservices', 'destinationrules', 'gateways', 'serviceentries'].map((p) => getObject(client, KINDS.CustomResourceDefinition, undefined, `${p}.networking.istio.io`)));
  const missing = crds.map((c, i) => (c ? null : ['virtualservices', 'destinationrules', 'gateways', 'serviceentries'][i])).filter(Boolean);
  const served = crds[0] ? ((crds[0].spec as { versions?: { name: string; served: boolean }[] }).versions ?? []).filter((v) => v.served).map((v) => v.name) : [];
  checks.push({ name: "Istio's CRDs", mark: missing.length ? 'fail' : served.includes('v1') ? 'ok' : 'warn', detail: missing.length ? `missing: ${missing.join(', ')}.networking.istio.io` : `VirtualService served as ${served.join(', ')}${served.includes('v1') ? '' : ' (meshctl writes v1: upgrade Istio to 1.22 or later)'}` });

  const istiods = await listObjects(client, KINDS.Deployment, { namespace: 'istio-system', labelSelector: 'app=istiod' });
  const wanted = options.revision ?? 'default';
  const istiod = istiods.find((d) => (d.metadata.labels?.['istio.io/rev'] ?? 'default') === wanted);
  const ready = istiod ? ((istiod.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0) : 0;
  checks.push({ name: `istiod (revision ${wanted})`, mark: istiod && ready > 0 ? 'ok' : 'fail', detail: istiod ? `${istiod.metadata.name}: ${ready} ready` : istiods.length ? `no istiod of revision ${wanted} (revisions: ${istiods.map((d) => d.metadata.labels?.['istio.io/rev'] ?? 'default').join(', ')})` : 'no istiod Deployment in istio-system' });

  const report: ClusterInstallReport = { target: 'kubernetes', context: client.access.context, server: client.access.server, serverVersion: version.gitVersion ?? null, checks, labelled: [], restart: [], dryRun: options.dryRun, requests: planned };
  const failed = checks.find((c) => c.mark === 'fail');
  if (failed && !options.dryRun) {
    const steps = missing.length || !istiod
      ? "Install Istio first: istioctl install --set profile=default -y (istioctl from https://istio.io/latest/docs/setup/getting-started/), wait for kubectl -n istio-system rollout status deploy/istiod, then run meshctl install --target kubernetes again"
      : denied.length
        ? 'Grant the rules meshctl install --target kubernetes --print-rbac prints, then run it again'
        : 'Wait for istiod to be ready (kubectl -n istio-system rollout status deploy/istiod), then run it again';
    throw stop(`${failed.name} on the cluster of context "${client.access.context}": ${failed.detail}. ${steps}.`);
  }

  const label = options.revision ? { 'istio.io/rev': options.revision } : { 'istio-injection': 'enabled' };
  const [key, value] = Object.entries(label)[0]!;
  for (const ns of options.namespaces) {
    const namespace = await getObject(client, KINDS.Namespace, undefined, ns);
    if (!namespace) throw stop(`There is no namespace "${ns}" on the cluster of context "${client.access.context}"; create it (kubectl create namespace ${ns}) or name another with -n.`);
    if (namespace.metadata.labels?.[key] !== value) {
      planned.push({ method: 'PATCH', path: `/api/v1/namespaces/${ns}`, change: `label ${key}=${value} (merge patch, field manager meshctl)` });
      report.labelled.push(ns);
      if (!options.dryRun) await mergePatchObject(client, KINDS.Namespace, undefined, ns, { metadata: { labels: label, annotations: { [INJECTION_ADDED]: key } } }, 'meshctl');
    }
    const pods = await listObjects(client, KINDS.Pod, { namespace: ns });
    for (const pod of pods) if (!hasSidecar(pod)) report.restart.push({ namespace: ns, name: pod.metadata.name });
  }
  // Every read the install made, then the writes (made, or with --dry-run only planned).
  planned.unshift(...client.sent.filter((s) => s.method !== 'PATCH').map((s) => ({ method: s.method, path: s.path, change: '' })));
  return report;
}

function hasSidecar(pod: KubeObject): boolean {
  const spec = (pod.spec ?? {}) as { containers?: { name: string }[]; initContainers?: { name: string; restartPolicy?: string }[] };
  return [...(spec.containers ?? []), ...(spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')].some((c) => c.name === 'istio-proxy');
}

export function clusterInstallText(r: ClusterInstallReport): string {
  const mark = { ok: '√', warn: '‼', fail: '×' } as const;
  let text = `Kubernetes target, context "${r.context}" (${r.server})\n`;
  for (const c of r.checks) text += `${mark[c.mark]} ${c.name}: ${c.detail}\n`;
  if (r.dryRun) {
    text += `\nDry run: nothing was changed. The requests meshctl would make:\n`;
    for (const q of r.requests) text += `  ${q.method} ${q.path}${q.change ? `  → ${q.change}` : ''}\n`;
  } else {
    text += r.labelled.length ? `\nSidecar injection enabled on: ${r.labelled.join(', ')}.\n` : '\nSidecar injection was already enabled on every namespace given.\n';
  }
  if (r.restart.length) text += `Pods without a sidecar, which get one once restarted (kubectl rollout restart their Deployments): ${r.restart.map((p) => `${p.namespace}/${p.name}`).join(', ')}.\n`;
  return text;
}


/** `meshctl uninstall --target kubernetes`: takes off the injection labels meshctl added, and nothing else (never Istio). */
export async function uninstallOnCluster(client: KubeClient, options: { namespaces: string[]; dryRun: boolean }): Promise<{ unlabelled: string[]; kept: string[]; requests: PlannedRequest[] }> {
  const unlabelled: string[] = [];
  const kept: string[] = [];
  const requests: PlannedRequest[] = [];
  const namespaces = options.namespaces.length ? await Promise.all(options.namespaces.map((n) => getObject(client, KINDS.Namespace, undefined, n))) : await listObjects(client, KINDS.Namespace);
  for (const ns of namespaces) {
    if (!ns) continue;
    const added = ns.metadata.annotations?.[INJECTION_ADDED];
    if (!added) {
      if (options.namespaces.includes(ns.metadata.name)) kept.push(ns.metadata.name);
      continue;
    }
    requests.push({ method: 'PATCH', path: `/api/v1/namespaces/${ns.metadata.name}`, change: `remove label ${added} and annotation ${INJECTION_ADDED} (merge patch)` });
    unlabelled.push(ns.metadata.name);
    if (!options.dryRun) await mergePatchObject(client, KINDS.Namespace, undefined, ns.metadata.name, { metadata: { labels: { [added]: null }, annotations: { [INJECTION_ADDED]: null } } }, 'meshctl');
  }
  return { unlabelled, kept, requests };
}

export interface ClusterCheckRun {
  target: 'kubernetes';
  context: string;
  checks: ClusterCheck[];
  /** No check failed (warnings allowed). */
  success: boolean;
}

/**
 * `meshctl check --target kubernetes`: install's pre-flight (read only), then per pod of the
 * namespaces: sidecar present, ready, and in sync with istiod.
 */
export async function checkCluster(client: KubeClient, proxyStatus: () => Promise<{ proxies: { name: string; namespace: string; status: string; ready: boolean | null; problem: string | null }[] }>, namespaces: string[]): Promise<ClusterCheckRun> {
  const preflight = await installOnCluster(client, { namespaces, dryRun: true });
  const checks = [...preflight.checks];
  if (!checks.some((c) => c.mark === 'fail')) {
    const status = await proxyStatus();
    for (const p of status.proxies) {
      if (namespaces.length && !namespaces.includes(p.namespace)) continue;
      const good = p.status === 'SYNCED' && p.ready !== false;
      checks.push({ name: `pod ${p.namespace}/${p.name}`, mark: good ? 'ok' : 'fail', detail: good ? 'sidecar ready, in sync with istiod' : p.problem ?? p.status });
    }
    for (const pod of preflight.restart) checks.push({ name: `pod ${pod.namespace}/${pod.name}`, mark: 'warn', detail: 'no sidecar: restart it once injection is enabled on its namespace' });
  }
  return { target: 'kubernetes', context: client.access.context, checks, success: !checks.some((c) => c.mark === 'fail') };
}

export function clusterCheckText(r: ClusterCheckRun): string {
  const mark = { ok: '√', warn: '‼', fail: '×' } as const;
  let text = `Kubernetes target, context "${r.context}"\n`;
  for (const c of r.checks) text += `${mark[c.mark]} ${c.name}: ${c.detail}\n`;
  const failed = r.checks.filter((c) => c.mark === 'fail').length;
  const warned = r.checks.filter((c) => c.mark === 'warn').length;
  return `${text}\n${failed ? `${failed} check${failed === 1 ? '' : 's'} failed` : 'Every check passed'}${warned ? `, ${warned} warning${warned === 1 ? '' : 's'}` : ''}.\n`;
}
