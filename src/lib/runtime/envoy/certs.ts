// Envoy's /certs: every certificate the proxy loaded, as details (no PEM), so the issuer is not known.
import type { Certificate } from '../model.js';
import { isoSeconds, secondsUntil, trustDomainOf, withinValidity } from '../x509.js';
import { asArray, asString, field } from './proto-json.js';

const NO_ISSUER = "Envoy's /certs does not report the issuer";

function timestamp(v: unknown): string | null {
  const s = asString(v);
  if (!s) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : isoSeconds(new Date(t));
}

function detailsToCertificate(details: unknown, kind: 'ca' | 'cert_chain', now: Date): Certificate {
  const uris = asArray(field(details, 'subject_alt_names'))
    .map((san) => asString(field(san, 'uri')))
    .filter((u): u is string => !!u);
  const spiffeId = uris.find((u) => u.startsWith('spiffe://')) ?? null;
  const notBefore = timestamp(field(details, 'valid_from'));
  const notAfter = timestamp(field(details, 'expiration_time'));
  const serial = asString(field(details, 'serial_number'));
  const missing: Record<string, string> = { issuer: NO_ISSUER, subject: "Envoy's /certs does not report the subject" };
  if (!notBefore) missing.notBefore = 'not reported';
  if (!notAfter) missing.notAfter = 'not reported';
  return {
    resource: asString(field(details, 'path')) ?? '<inline>',
    kind,
    status: 'ACTIVE',
    spiffeId,
    trustDomain: spiffeId ? trustDomainOf(spiffeId) : null,
    subject: null,
    issuer: null,
    serial: serial ? serial.toLowerCase() : null,
    notBefore,
    notAfter,
    secondsLeft: notAfter ? secondsUntil(notAfter, now) : null,
    valid: notBefore !== null && notAfter !== null && withinValidity(notBefore, notAfter, now),
    chainLength: 1,
    missing,
  };
}

/** Parses /certs: {"certificates": [{"ca_cert": [...], "cert_chain": [...]}]}. */
export function parseCertsJson(doc: unknown, now: Date): Certificate[] {
  const out: Certificate[] = [];
  for (const entry of asArray(field(doc, 'certificates'))) {
    const chain = asArray(field(entry, 'cert_chain'));
    if (chain.length) out.push({ ...detailsToCertificate(chain[0], 'cert_chain', now), chainLength: chain.length });
    for (const ca of asArray(field(entry, 'ca_cert'))) out.push(detailsToCertificate(ca, 'ca', now));
  }
  return out;
}
