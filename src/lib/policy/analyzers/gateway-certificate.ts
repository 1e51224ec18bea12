// gateway.CertificateAnalyzer: two Gateways on the same workloads should not serve the same certificate, since
// HTTP/2 clients reuse a connection for every host the certificate covers and then hit the wrong server (404).
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { joinPointer } from '../locate.js';
import { asArray, asObject } from './util.js';
import { labelMap, qualifiedName, selectorSubset } from './workloads.js';

interface Tls {
  credentialName: string;
  serverCertificate: string;
  privateKey: string;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function tlsOf(server: unknown): Tls | undefined {
  const s = asObject(server);
  if (s.tls === undefined || s.tls === null) return undefined;
  const tls = asObject(s.tls);
  return { credentialName: str(tls.credentialName), serverCertificate: str(tls.serverCertificate), privateKey: str(tls.privateKey) };
}

/** Istio's rule: the same credentialName, or (neither using one) the same certificate and key files. */
function sameCertificate(a: Tls, b: Tls): boolean {
  if (a.credentialName && b.credentialName) return a.credentialName === b.credentialName;
  if (a.credentialName || b.credentialName) return false;
  return !!a.serverCertificate && a.serverCertificate === b.serverCertificate && !!a.privateKey && a.privateKey === b.privateKey;
}

function analyzeGateway(ctx: AnalysisContext, gw: Resource, all: Resource[]): void {
  const selector = labelMap(asObject(gw.spec).selector);
  // Gateways whose selector includes this one's pick a subset of its workloads: they share every pod they run on.
  // (Gateway selectors are cluster-wide unless istiod scopes them to the namespace, which is not the default.)
  const overlapping = all.filter((other) => other !== gw && selectorSubset(selector, labelMap(asObject(other.spec).selector)));
  asArray(asObject(gw.spec).servers).forEach((server, i) => {
    const tls = tlsOf(server);
    if (!tls) return;
    const reported = new Set<Resource>();
    for (const other of overlapping) {
      if (reported.has(other)) continue;
      const shared = asArray(asObject(other.spec).servers).some((s) => {
        const otherTls = tlsOf(s);
        return otherTls !== undefined && sameCertificate(tls, otherTls);
      });
      if (!shared) continue;
      reported.add(other);
      const field = tls.credentialName ? 'credentialName' : 'serverCertificate';
      const cert = tls.credentialName || tls.serverCertificate;
      ctx.report(
        'IST0138',
        gw,
        joinPointer('/spec/servers', i, 'tls', field),
        `Gateways ${qualifiedName(gw)} and ${qualifiedName(other)} serve the same certificate ${cert} on the same workloads, so HTTP/2 clients reusing a connection may get 404s; give each Gateway its own certificate or merge their servers into one Gateway.`,
      );
    }
  });
}

export const gatewayCertificate: Analyzer = {
  name: 'gateway.CertificateAnalyzer',
  description: 'Checks that Gateways on the same workloads do not serve the same certificate',
  inputs: [K.Gateway],
  codes: ['IST0138'],
  run(ctx) {
    const all = ctx.of(K.Gateway);
    for (const gw of all) analyzeGateway(ctx, gw, all);
  },
};
