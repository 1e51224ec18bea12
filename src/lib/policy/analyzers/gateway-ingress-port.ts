// gateway.IngressGatewayPortAnalyzer: a Gateway's server ports must be reachable through a Service in front of
// the workloads it selects, and its selector must select something.
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { joinPointer } from '../locate.js';
import { listOf, objectOf, specOf } from '../spec.js';
import { asArray, asObject } from './util.js';
import { describeSelector, labelMap, namedPort, qualifiedName, reportUnmatchedGatewaySelector, selectWorkloads, servicesOf, type Workload } from './workloads.js';

/**
 * Ports a Gateway may listen on and still be reached through its workloads' Services: every TCP Service port,
 * and its targetPort (Istio translates a server port equal to a Service port into that port's targetPort).
 */
function reachablePorts(ctx: AnalysisContext, workloads: Workload[]): Set<number> {
  const ports = new Set<number>();
  for (const w of workloads) {
    for (const svc of servicesOf(ctx, w)) {
      for (const raw of asArray(asObject(svc.spec).ports)) {
        const p = asObject(raw);
        const protocol = p.protocol === undefined || p.protocol === null ? 'TCP' : String(p.protocol);
        if (protocol !== 'TCP') continue;
        const port = Number(p.port);
        if (Number.isInteger(port)) ports.add(port);
        const target = p.targetPort;
        if (target === undefined || target === null || target === '') continue;
        if (/^\d+$/.test(String(target))) ports.add(Number(target));
        else {
          const resolved = namedPort(w, String(target));
          if (resolved !== undefined) ports.add(resolved);
        }
      }
    }
  }
  return ports;
}

function analyzeGateway(ctx: AnalysisContext, gw: Resource): void {
  const spec = specOf(gw, K.Gateway);
  const selector = labelMap(spec.selector);
  const selected = selectWorkloads(ctx, selector);
  if (selected.length === 0) {
    reportUnmatchedGatewaySelector(ctx, gw, selector);
    return;
  }
  const reachable = reachablePorts(ctx, selected);
  listOf(spec.servers).forEach((raw, i) => {
    const server = objectOf(raw);
    if (server.port === undefined || server.port === null) return;
    const number = Number(objectOf(server.port).number ?? 0);
    if (reachable.has(number)) return;
    ctx.report(
      'IST0162',
      gw,
      joinPointer('/spec/servers', i, 'port', 'number'),
      `Gateway ${qualifiedName(gw)} listens on port ${number}, but no Service in front of its workloads (${describeSelector(selector)}) has it as a port or targetPort; add the port to the gateway's Service or use a port it exposes.`,
    );
  });
}

export const ingressGatewayPort: Analyzer = {
  name: 'gateway.IngressGatewayPortAnalyzer',
  description: "Checks that a Gateway's selector selects a workload and that its server ports are exposed by that workload's Services",
  inputs: [K.Gateway, K.Pod, K.Deployment, K.WorkloadEntry, K.Service],
  codes: ['IST0101', 'IST0162'],
  run(ctx) {
    for (const gw of ctx.of(K.Gateway)) analyzeGateway(ctx, gw);
  },
};
