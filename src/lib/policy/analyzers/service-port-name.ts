// service.PortNameAnalyzer: a Service port whose name (or appProtocol) names no protocol falls back to
// protocol sniffing (IST0118, info); on an ExternalName Service such a port, or one named plain `tcp`,
// may not be forwarded at all (IST0150).
import type { Analyzer } from '../analysis.js';
import { K } from '../kinds.js';
import { INJECTION_IGNORED_NAMESPACES, asArray, asObject } from './util.js';

/** Protocols Istio recognises as a port-name prefix (case-insensitive). */
const PROTOCOLS = new Set(['tcp', 'udp', 'grpc', 'grpc-web', 'http', 'http_proxy', 'http2', 'https', 'tls', 'mongo', 'redis', 'mysql']);

/** Ports that are TCP without a name: protocol sniffing would break their server-first protocols. */
const WELL_KNOWN_TCP_PORTS = new Set([25, 53, 3306, 27017]);

/** Kubernetes' standard appProtocol values, which Istio maps itself. */
const KUBERNETES_APP_PROTOCOLS = new Set(['kubernetes.io/h2c', 'kubernetes.io/ws', 'kubernetes.io/wss']);

/** Labels of Services that Istio's gateway controllers create (not written by users). */
const MANAGED_GATEWAY_VALUES = new Set(['istio.io-gateway-controller', 'istio.io-mesh-controller', 'istio.io-eastwest-controller']);

/** True when Istio can tell the port's protocol from its protocol field, appProtocol or name (Istio's ConvertProtocol). */
export function protocolDeclared(port: Record<string, unknown>): boolean {
  if (port.protocol === 'UDP') return true;
  const number = Number(port.port);
  let name = typeof port.name === 'string' ? port.name : '';
  if (port.appProtocol !== undefined && port.appProtocol !== null) {
    name = String(port.appProtocol);
    if (KUBERNETES_APP_PROTOCOLS.has(name)) return true;
  }
  if (name.length >= 8 && name.slice(0, 8).toLowerCase() === 'grpc-web') return true;
  const dash = name.indexOf('-');
  const prefix = (dash >= 0 ? name.slice(0, dash) : name).toLowerCase();
  return PROTOCOLS.has(prefix) || WELL_KNOWN_TCP_PORTS.has(number);
}

export const servicePortName: Analyzer = {
  name: 'service.PortNameAnalyzer',
  description: 'Checks that Service port names (or appProtocol) declare a protocol, as <protocol>[-<suffix>]',
  inputs: [K.Service],
  codes: ['IST0118', 'IST0150'],
  run(ctx) {
    for (const svc of ctx.of(K.Service)) {
      if (INJECTION_IGNORED_NAMESPACES.includes(svc.namespace)) continue;
      // Istio's own control plane and the Services its gateway controllers manage.
      if ('istio' in svc.labels || svc.labels.release === 'istio') continue;
      if (MANAGED_GATEWAY_VALUES.has(svc.labels['gateway.istio.io/managed'] ?? '')) continue;
      const spec = asObject(svc.spec);
      const externalName = spec.type === 'ExternalName';
      asArray(spec.ports).forEach((p, i) => {
        const port = asObject(p);
        const name = typeof port.name === 'string' ? port.name : '';
        const undeclared = !protocolDeclared(port);
        if (!undeclared && !(externalName && name === 'tcp')) return;
        const number = port.port === undefined ? `${i + 1}` : String(port.port);
        const pointer = `/spec/ports/${i}/name`;
        const what = name ? `is named '${name}'` : 'has no name';
        if (externalName) {
          ctx.report(
            'IST0150',
            svc,
            pointer,
            `Port ${number} of ExternalName Service ${svc.name} ${what}, so the proxy may not forward its traffic; name it after the protocol it carries (e.g. https, tls or http).`,
          );
          return;
        }
        const why = name ? ', which names no protocol' : '';
        ctx.report(
          'IST0118',
          svc,
          pointer,
          `Port ${number} of Service ${svc.name} ${what}${why}, so Istio sniffs its protocol; name it <protocol>[-<suffix>] (e.g. http-web) or set appProtocol.`,
        );
      });
    }
  },
};
