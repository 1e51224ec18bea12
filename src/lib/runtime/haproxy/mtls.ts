// The caller's side of TLS on a sidecar's or gateway's server lines: auto mTLS toward meshed pods, or
// what a DestinationRule's `tls` asks (DISABLE, ISTIO_MUTUAL, SIMPLE, MUTUAL with its files).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ClientTls } from '../../policy/peer-authentication.js';
import type { PodPorts, ProxyPaths } from './types.js';
import { word } from './config.js';

/**
 * Session-cache blocks of a proxy's TLS listeners. A proxy's TLS peers are the mesh's other proxies,
 * which resume with stateless tickets; HAProxy's default (20000 blocks, some 4 MiB) is initialised at
 * every start and stays resident in the proxy.
 */
export const TLS_SESSION_CACHE_BLOCKS = 2000;

/**
 * The global lines of a proxy's TLS. HAProxy 2.6 builds an internal HTTPS client at every start whose
 * trust store is, unless told otherwise, the system's whole CA bundle (some 140 certificates parsed,
 * two fifths of the CPU of a sidecar's start); meshctl's proxies never use that client, so it trusts the
 * mesh root instead, a file the proxy loads anyway for its mTLS.
 */
export function tlsGlobalLines(self: ProxyPaths): string[] {
  return [
    'ssl-default-bind-options ssl-min-ver TLSv1.2',
    'ssl-default-server-options ssl-min-ver TLSv1.2',
    'tune.ssl.default-dh-param 2048',
    `tune.ssl.cachesize ${TLS_SESSION_CACHE_BLOCKS}`,
    `httpclient.ssl.ca-file ${word(self.caBundle)}`,
  ];
}

/** The mesh's own mTLS: this proxy's workload certificate, the peer verified against the mesh CA. */
export function meshTlsKeywords(self: ProxyPaths): string {
  return ` ssl crt ${word(self.certificate)} ca-file ${word(self.caBundle)} verify required`;
}

/**
 * The port a caller's server line names for a meshed pod: its mTLS-only listener when the caller speaks the
 * mesh's mTLS (`keywords` from serverTlsKeywords) to a pod that takes it, else the pod's inbound listener
 * (plain text, or TLS of a DestinationRule's own, go where PeerAuthentication decides what passes).
 */
export function meshPeerPort(ports: PodPorts, acceptsMtls: boolean, keywords: string, self: ProxyPaths): number {
  return acceptsMtls && ports.mtls !== undefined && keywords === meshTlsKeywords(self) ? ports.mtls : ports.inbound;
}

/** The bind keywords of a sidecar's mTLS listeners: its workload certificate, a client certificate from the mesh CA required. */
export function inboundTlsBind(self: ProxyPaths): string {
  return `ssl crt ${word(self.certificate)} ca-file ${word(self.caBundle)} verify required`;
}

export interface ServerTlsTarget {
  /** A meshed pod (null: a ServiceEntry endpoint outside the mesh). */
  pod: string | null;
  /** The pod's inbound listener takes mTLS (its mode is not DISABLE). */
  acceptsMtls: boolean;
}

/**
 * The TLS keywords of one server line. Without a DestinationRule `tls`, auto mTLS: meshed pods that take
 * mTLS get it, everything else plain text, as Istio. With one, its mode decides for every server of the
 * destination: DISABLE sends plain text (a STRICT pod then refuses it), ISTIO_MUTUAL the mesh certificate,
 * SIMPLE and MUTUAL originate TLS with the rule's files. `notes` gets a sentence for what cannot be honoured.
 */
export function serverTlsKeywords(tls: ClientTls | null, target: ServerTlsTarget, self: ProxyPaths, where: string, notes: string[]): string {
  if (!tls) return target.pod && target.acceptsMtls ? meshTlsKeywords(self) : '';
  switch (tls.mode) {
    case 'DISABLE':
      return '';
    case 'ISTIO_MUTUAL':
      return meshTlsKeywords(self);
    case 'SIMPLE':
    case 'MUTUAL': {
      // A file HAProxy cannot read would fail the whole proxy's configuration: the destination is taken
      // out of service instead (its requests get 503), and the note says which file.
      const files: [string, string | null][] = [['caCertificates', tls.insecureSkipVerify ? null : tls.caCertificates], ['clientCertificate', tls.mode === 'MUTUAL' ? tls.clientCertificate : null]];
      const unreadable = files.find(([, file]) => file !== null && (!path.isAbsolute(file) || !existsSync(file)));
      if (unreadable) {
        notes.push(`${where}: tls.${unreadable[0]} ${JSON.stringify(unreadable[1])} is not an absolute path to an existing file; the destination's requests get 503 until it is, then apply again.`);
        return ' disabled';
      }
      const out = [' ssl'];
      if (tls.credentialName) notes.push(`${where}: tls.credentialName ${JSON.stringify(tls.credentialName)} is not enforced by the local mesh (it keeps no Secrets); give caCertificates, clientCertificate and privateKey files instead.`);
      if (tls.insecureSkipVerify) out.push('verify none');
      else {
        // Without caCertificates Istio verifies against the system's roots.
        out.push(`verify required ca-file ${word(tls.caCertificates ?? '@system-ca')}`);
        if (tls.subjectAltNames.length) out.push(`verifyhost ${word(tls.subjectAltNames[0]!)}`);
        if (tls.subjectAltNames.length > 1) notes.push(`${where}: tls.subjectAltNames beyond the first (${tls.subjectAltNames.slice(1).join(', ')}) are not enforced by the local mesh (HAProxy checks one name).`);
      }
      // As Istio's auto SNI: the request's host unless the rule names one.
      if (tls.sni && !/^[A-Za-z0-9.-]+$/.test(tls.sni)) notes.push(`${where}: tls.sni ${JSON.stringify(tls.sni)} is not a host name; the request's host is sent instead.`);
      out.push(tls.sni && /^[A-Za-z0-9.-]+$/.test(tls.sni) ? `sni str(${tls.sni})` : 'sni req.hdr(host),field(1,:)');
      if (tls.mode === 'MUTUAL') {
        const crt = tls.clientCertificate;
        // HAProxy reads the key from the certificate file or from `<certificate>.key` beside it.
        if (crt && (!tls.privateKey || tls.privateKey === crt || tls.privateKey === `${crt}.key`)) out.push(`crt ${word(crt)}`);
        else notes.push(`${where}: tls.mode MUTUAL needs clientCertificate with privateKey in the same file or at <clientCertificate>.key for the local mesh; no client certificate is sent.`);
      }
      return out.join(' ');
    }
  }
}
