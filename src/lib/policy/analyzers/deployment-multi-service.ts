// deployment.MultiServiceAnalyzer: the pods of a meshed Deployment must not sit behind Services that give one
// port different protocols (IST0116), nor behind Services whose different ports target one container port (IST0137).
import type { Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import type { RawGroup } from '../findings.js';
import { selectorMatches } from '../selectors.js';
import { asArray, asObject, deploymentPodShape, sidecarInjected, stringLabels } from './util.js';
import { fewOf, fewWords } from './groups.js';

/** Waypoint Deployments are Istio's own proxies. */
function isWaypoint(d: Resource): boolean {
  return d.labels['gateway.istio.io/managed'] === 'istio.io-mesh-controller';
}

/** Services in the Deployment's namespace whose (non-empty) selector matches its pod template. */
function servicesOf(services: Resource[], templateLabels: Record<string, string>): Resource[] {
  return services.filter((svc) => {
    const selector = stringLabels(asObject(svc.spec).selector);
    return Object.keys(selector).length > 0 && selectorMatches(selector, templateLabels);
  });
}

function fullName(r: Resource): string {
  return r.namespace ? `${r.namespace}/${r.name}` : r.name;
}

interface Conflict {
  code: 'IST0116' | 'IST0137';
  /** The Services in conflict, sorted. */
  names: string[];
  /** The message after the Services. */
  detail: string;
  group?: RawGroup;
}

/** What the Services selecting one set of pods disagree on. */
function conflictsOf(matching: Resource[]): Conflict[] {
  // Port number → protocol → Services.
  const protocols = new Map<number, Map<string, string[]>>();
  // Target port → Service port → Service (the last Service for a port wins, as in Istio).
  const targets = new Map<string, Map<number, string>>();
  for (const svc of matching) {
    for (const p of asArray(asObject(svc.spec).ports)) {
      const port = asObject(p);
      const number = Number(port.port ?? 0);
      const protocol = port.protocol === undefined || port.protocol === null || port.protocol === '' ? 'TCP' : String(port.protocol);
      let byProtocol = protocols.get(number);
      if (!byProtocol) protocols.set(number, (byProtocol = new Map()));
      const sharing = byProtocol.get(protocol);
      if (sharing) sharing.push(fullName(svc));
      else byProtocol.set(protocol, [fullName(svc)]);
      const rawTarget = port.targetPort === undefined || port.targetPort === null ? '' : String(port.targetPort);
      const target = rawTarget === '' || rawTarget === '0' ? String(number) : rawTarget;
      let byPort = targets.get(target);
      if (!byPort) targets.set(target, (byPort = new Map()));
      byPort.set(number, fullName(svc));
    }
  }
  const out: Conflict[] = [];
  for (const number of [...protocols.keys()].sort((a, b) => a - b)) {
    const byProtocol = protocols.get(number)!;
    if (byProtocol.size < 2) continue;
    const names = [...new Set([...byProtocol.values()].flat())].sort();
    const detail = `, which ${names.length > 1 ? 'give' : 'gives'} port ${number} different protocols (${fewWords([...byProtocol.keys()])}); use one protocol for that port in every Service selecting these pods.`;
    out.push({ code: 'IST0116', names, detail });
  }
  for (const [target, byPort] of targets) {
    if (byPort.size < 2) continue;
    const names = [...new Set(byPort.values())].sort();
    const ports = [...byPort.keys()].sort((a, b) => a - b);
    out.push({ code: 'IST0137', names, detail: `, whose ports ${fewWords(ports.map(String))} all target port ${target}; give ports that share a target port the same port number.` });
  }
  return out;
}

export const deploymentMultiService: Analyzer = {
  name: 'deployment.MultiServiceAnalyzer',
  description: 'Checks that the Services selecting a meshed Deployment agree on each port protocol and target port',
  inputs: [K.Deployment, K.Service, K.Namespace],
  codes: ['IST0116', 'IST0137'],
  run(ctx) {
    const byNamespace = new Map<string, Resource[]>();
    for (const svc of ctx.of(K.Service)) {
      const list = byNamespace.get(svc.namespace);
      if (list) list.push(svc);
      else byNamespace.set(svc.namespace, [svc]);
    }
    // Deployments behind the same Services share one group of them.
    const groups = new Map<string, RawGroup>();
    const groupOf = (code: string, names: string[], services: Resource[]): RawGroup | undefined => {
      if (names.length < 2) return undefined;
      const key = JSON.stringify([code, names]);
      let group = groups.get(key);
      if (!group) {
        const wanted = new Set(names);
        const members = services.filter((svc) => wanted.has(fullName(svc))).map((resource) => ({ resource, pointer: '/spec/ports' }));
        groups.set(key, (group = ctx.group(code, members)));
      }
      return group;
    };
    // Deployments with the same pod labels in one namespace sit behind the same Services: judged once.
    const judged = new Map<string, Conflict[]>();
    for (const d of ctx.of(K.Deployment)) {
      if (isWaypoint(d)) continue;
      const pod = deploymentPodShape(d);
      if (!sidecarInjected(ctx, pod)) continue;
      const key = JSON.stringify([d.namespace, Object.entries(pod.labels).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))]);
      let conflicts = judged.get(key);
      if (!conflicts) {
        const matching = servicesOf(byNamespace.get(d.namespace) ?? [], pod.labels);
        conflicts = conflictsOf(matching).map((c) => ({ ...c, group: groupOf(c.code, c.names, matching) }));
        judged.set(key, conflicts);
      }
      for (const c of conflicts) {
        ctx.report(c.code, d, '/spec/template/metadata/labels', `Deployment ${d.name} is selected by ${fewOf(c.names, c.names.length, 'Service')}${c.detail}`, c.group);
      }
    }
  },
};
