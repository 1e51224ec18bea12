// deployment.MultiServiceAnalyzer: the pods of a meshed Deployment must not sit behind Services that give one
// port different protocols (IST0116), nor behind Services whose different ports target one container port (IST0137).
import type { Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { asArray, asObject, deploymentPodShape, selectorMatches, sidecarInjected, stringLabels } from './util.js';

/** Waypoint Deployments are Istio's own proxies. */
function isWaypoint(d: Resource): boolean {
  return d.labels['gateway.istio.io/managed'] === 'istio.io-mesh-controller';
}

/** Services in the Deployment's namespace whose (non-empty) selector matches its pod template. */
function servicesOf(services: Resource[], d: Resource, templateLabels: Record<string, string>): Resource[] {
  return services.filter((svc) => {
    if (svc.namespace !== d.namespace) return false;
    const selector = stringLabels(asObject(svc.spec).selector);
    return Object.keys(selector).length > 0 && selectorMatches(selector, templateLabels);
  });
}

function fullName(r: Resource): string {
  return r.namespace ? `${r.namespace}/${r.name}` : r.name;
}

export const deploymentMultiService: Analyzer = {
  name: 'deployment.MultiServiceAnalyzer',
  description: 'Checks that the Services selecting a meshed Deployment agree on each port protocol and target port',
  inputs: [K.Deployment, K.Service, K.Namespace],
  codes: ['IST0116', 'IST0137'],
  run(ctx) {
    const services = ctx.of(K.Service);
    for (const d of ctx.of(K.Deployment)) {
      if (isWaypoint(d)) continue;
      const pod = deploymentPodShape(d);
      if (!sidecarInjected(ctx, pod)) continue;
      const matching = servicesOf(services, d, pod.labels);
      if (matching.length === 0) continue;
      const pointer = '/spec/template/metadata/labels';

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
          byProtocol.set(protocol, [...(byProtocol.get(protocol) ?? []), fullName(svc)]);
          const rawTarget = port.targetPort === undefined || port.targetPort === null ? '' : String(port.targetPort);
          const target = rawTarget === '' || rawTarget === '0' ? String(number) : rawTarget;
          let byPort = targets.get(target);
          if (!byPort) targets.set(target, (byPort = new Map()));
          byPort.set(number, fullName(svc));
        }
      }

      for (const number of [...protocols.keys()].sort((a, b) => a - b)) {
        const byProtocol = protocols.get(number)!;
        if (byProtocol.size < 2) continue;
        const names = [...new Set([...byProtocol.values()].flat())].sort();
        ctx.report(
          'IST0116',
          d,
          pointer,
          `Deployment ${d.name} is selected by ${names.length > 1 ? 'Services' : 'Service'} ${names.join(', ')}, which ${names.length > 1 ? 'give' : 'gives'} port ${number} different protocols (${[...byProtocol.keys()].join(', ')}); use one protocol for that port in every Service selecting these pods.`,
        );
      }
      for (const [target, byPort] of targets) {
        if (byPort.size < 2) continue;
        const names = [...new Set(byPort.values())].sort();
        const ports = [...byPort.keys()].sort((a, b) => a - b);
        ctx.report(
          'IST0137',
          d,
          pointer,
          `Deployment ${d.name} is selected by ${names.length > 1 ? 'Services' : 'Service'} ${names.join(', ')}, whose ports ${ports.join(', ')} all target port ${target}; give ports that share a target port the same port number.`,
        );
      }
    }
  },
};
