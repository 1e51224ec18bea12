// Certificate facts from PEM, for the certs section of every runtime (node:crypto does the parsing).
import { X509Certificate } from 'node:crypto';
import type { Certificate } from './model.js';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificates in `text`, in order. */
export function pemCertificates(text: string): string[] {
  return text.match(PEM_BLOCK) ?? [];
}

export interface CertificateFacts {
  ca: boolean;
  spiffeId: string | null;
  trustDomain: string | null;
  subject: string | null;
  issuer: string | null;
  serial: string;
  notBefore: string;
  notAfter: string;
}

/** Parses one PEM certificate; null when it is not a certificate node can read. */
export function certificateFacts(pem: string): CertificateFacts | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return null;
  }
  const spiffeId = spiffeIdOf(cert.subjectAltName ?? '');
  return {
    ca: cert.ca,
    spiffeId,
    trustDomain: spiffeId ? trustDomainOf(spiffeId) : null,
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    serial: cert.serialNumber.toLowerCase(),
    notBefore: isoSeconds(new Date(cert.validFrom)),
    notAfter: isoSeconds(new Date(cert.validTo)),
  };
}

/** The model's certificate for the first certificate in `pemText` (the leaf of a chain, or the first CA of a bundle). */
export function certificateFromPem(
  pemText: string,
  base: Pick<Certificate, 'resource' | 'status'> & { trustDomain?: string | null },
  now: Date,
): Certificate {
  const blocks = pemCertificates(pemText);
  const facts = blocks.length ? certificateFacts(blocks[0]!) : null;
  if (!facts) {
    return emptyCertificate(base, blocks.length ? 'the certificate could not be parsed' : 'the secret holds no PEM certificate');
  }
  return {
    resource: base.resource,
    kind: facts.ca ? 'ca' : 'cert_chain',
    status: base.status,
    spiffeId: facts.spiffeId,
    trustDomain: base.trustDomain ?? facts.trustDomain,
    subject: facts.subject,
    issuer: facts.issuer,
    serial: facts.serial,
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
    secondsLeft: secondsUntil(facts.notAfter, now),
    valid: withinValidity(facts.notBefore, facts.notAfter, now),
    chainLength: blocks.length,
    missing: {},
  };
}

/** A certificate slot that exists but holds nothing readable (e.g. a secret still warming). */
export function emptyCertificate(base: Pick<Certificate, 'resource' | 'status'> & { trustDomain?: string | null }, reason: string): Certificate {
  const missing: Record<string, string> = {};
  for (const f of ['kind', 'spiffeId', 'subject', 'issuer', 'serial', 'notBefore', 'notAfter', 'secondsLeft']) missing[f] = reason;
  return {
    resource: base.resource,
    kind: null,
    status: base.status,
    spiffeId: null,
    trustDomain: base.trustDomain ?? null,
    subject: null,
    issuer: null,
    serial: null,
    notBefore: null,
    notAfter: null,
    secondsLeft: null,
    valid: false,
    chainLength: 0,
    missing,
  };
}

export function spiffeIdOf(subjectAltName: string): string | null {
  for (const entry of subjectAltName.split(/,\s*/)) {
    const m = /^URI:(spiffe:\/\/\S+)$/.exec(entry.trim());
    if (m) return m[1]!;
  }
  return null;
}

export function trustDomainOf(spiffeId: string): string | null {
  const m = /^spiffe:\/\/([^/]+)/.exec(spiffeId);
  return m ? m[1]! : null;
}

export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function secondsUntil(iso: string, now: Date): number {
  return Math.floor((Date.parse(iso) - now.getTime()) / 1000);
}

export function withinValidity(notBefore: string, notAfter: string, now: Date): boolean {
  const t = now.getTime();
  return t > Date.parse(notBefore) && t < Date.parse(notAfter);
}

/** A distinguished name on one line; null when the certificate has none (SPIFFE leaves often have no subject). */
function oneLine(dn: string | undefined): string | null {
  const text = (dn ?? '').split('\n').filter(Boolean).join(', ');
  return text || null;
}
