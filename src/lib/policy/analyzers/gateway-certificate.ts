// gateway.CertificateAnalyzer: two Gateways on the same workloads should not serve the same certificate, since
// HTTP/2 clients reuse a connection for every host the certificate covers and then hit the wrong server (404).
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { joinPointer } from '../locate.js';
import { listOf, objectOf, specOf, type GatewaySpecServers, type Mistyped } from '../spec.js';
import type { RawGroup } from '../findings.js';
import { fewOf, NAMED_MEMBERS, othersOf, SelectorIndex, UnionFind } from './groups.js';
import { labelMap, qualifiedName, selectorString, type Labels } from './workloads.js';

interface Tls {
  credentialName: string;
  serverCertificate: string;
  privateKey: string;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function tlsOf(server: GatewaySpecServers | Mistyped | undefined): Tls | undefined {
  const s = objectOf(server);
  if (s.tls === undefined || s.tls === null) return undefined;
  const tls = objectOf(s.tls);
  return { credentialName: str(tls.credentialName), serverCertificate: str(tls.serverCertificate), privateKey: str(tls.privateKey) };
}

/**
 * Istio's rule for one certificate: the same credentialName, or (neither using one) the same certificate and key
 * files. Servers with the same key serve the same certificate; undefined for a server that matches none.
 */
function certificateKey(tls: Tls): string | undefined {
  if (tls.credentialName) return JSON.stringify(['credential', tls.credentialName]);
  if (tls.serverCertificate && tls.privateKey) return JSON.stringify(['files', tls.serverCertificate, tls.privateKey]);
  return undefined;
}

interface Server {
  gateway: Resource;
  index: number;
  /** The Gateway's place in the input, for listing group members in reading order. */
  order: number;
  pointer: string;
  certificate: string;
}

/** The Gateways serving one certificate, by selector; a Gateway counts once, at its first server with it. */
interface SelectorShare {
  selector: Labels;
  servers: Server[];
  /** Shares whose selector holds this one's: their Gateways run on workloads this one's run on. */
  wider?: SelectorShare[];
  sortedNames?: string[];
}

interface Certificate {
  shares: SelectorShare[];
  byKey: Map<string, SelectorShare>;
  index?: SelectorIndex<SelectorShare>;
  groupRoot?: Map<SelectorShare, SelectorShare>;
  groups: Map<SelectorShare, RawGroup>;
}

function widerShares(cert: Certificate, share: SelectorShare): SelectorShare[] {
  cert.index ??= new SelectorIndex(cert.shares);
  share.wider ??= cert.index.supersetsOf(share.selector);
  return share.wider;
}

/** The first names, sorted, of the Gateways of every wider share (this one's own included). */
function firstNames(cert: Certificate, share: SelectorShare): string[] {
  if (!share.sortedNames) {
    const all: string[] = [];
    for (const w of widerShares(cert, share)) for (const s of w.servers) all.push(qualifiedName(s.gateway));
    share.sortedNames = all.sort().slice(0, NAMED_MEMBERS + 1);
  }
  return share.sortedNames;
}

/** Every Gateway serving the certificate on selectors linked by inclusion to this one, directly or through others. */
function groupOf(ctx: AnalysisContext, cert: Certificate, share: SelectorShare): RawGroup {
  if (!cert.groupRoot) {
    const position = new Map(cert.shares.map((s, i) => [s, i]));
    const sets = new UnionFind(cert.shares.length);
    cert.shares.forEach((s, i) => {
      for (const w of widerShares(cert, s)) sets.union(i, position.get(w)!);
    });
    cert.groupRoot = new Map(cert.shares.map((s, i) => [s, cert.shares[sets.find(i)]!]));
  }
  const root = cert.groupRoot.get(share)!;
  let group = cert.groups.get(root);
  if (!group) {
    const members: Server[] = [];
    for (const s of cert.shares) if (cert.groupRoot.get(s) === root) members.push(...s.servers);
    members.sort((a, b) => a.order - b.order);
    group = ctx.group('IST0138', members.map((m) => ({ resource: m.gateway, pointer: m.pointer })));
    cert.groups.set(root, group);
  }
  return group;
}

function serversOf(gateways: Resource[]): Server[] {
  const out: Server[] = [];
  gateways.forEach((gateway, order) => {
    listOf(specOf(gateway, K.Gateway).servers).forEach((server, index) => {
      const tls = tlsOf(server);
      const certificate = tls && certificateKey(tls);
      if (!tls || !certificate) return;
      const field = tls.credentialName ? 'credentialName' : 'serverCertificate';
      out.push({ gateway, index, order, pointer: joinPointer('/spec/servers', index, 'tls', field), certificate });
    });
  });
  return out;
}

export const gatewayCertificate: Analyzer = {
  name: 'gateway.CertificateAnalyzer',
  description: 'Checks that Gateways on the same workloads do not serve the same certificate',
  inputs: [K.Gateway],
  codes: ['IST0138'],
  run(ctx) {
    const servers = serversOf(ctx.of(K.Gateway));
    const certificates = new Map<string, Certificate>();
    const shareOf = new Map<Server, SelectorShare>();
    for (const server of servers) {
      let cert = certificates.get(server.certificate);
      if (!cert) certificates.set(server.certificate, (cert = { shares: [], byKey: new Map(), groups: new Map() }));
      const selector = labelMap(specOf(server.gateway, K.Gateway).selector);
      const key = selectorString(selector);
      let share = cert.byKey.get(key);
      if (!share) {
        cert.byKey.set(key, (share = { selector, servers: [] }));
        cert.shares.push(share);
      }
      if (share.servers[share.servers.length - 1]?.gateway !== server.gateway) share.servers.push(server);
      shareOf.set(server, share);
    }
    for (const server of servers) {
      const cert = certificates.get(server.certificate)!;
      const share = shareOf.get(server)!;
      // Gateways whose selector includes this one's pick a subset of its workloads: they share every pod they run on.
      // (Gateway selectors are cluster-wide unless istiod scopes them to the namespace, which is not the default.)
      let others = -1;
      for (const w of widerShares(cert, share)) others += w.servers.length;
      if (others === 0) continue;
      const name = qualifiedName(server.gateway);
      const tls = tlsOf(listOf(specOf(server.gateway, K.Gateway).servers)[server.index])!;
      ctx.report(
        'IST0138',
        server.gateway,
        server.pointer,
        `Gateway ${name} serves the certificate ${tls.credentialName || tls.serverCertificate} on the same workloads as ${fewOf(othersOf(firstNames(cert, share), name), others, 'Gateway')}, so HTTP/2 clients reusing a connection may get 404s; give each Gateway its own certificate or merge their servers into one Gateway.`,
        groupOf(ctx, cert, share),
      );
    }
  },
};
