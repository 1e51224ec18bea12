// The DER of the one certificate shape meshctl issues per pod (an ECDSA P-256 leaf of the mesh root),
// written directly: an ASN.1 object model costs several times the leaf's key pair and signature, and
// a start of many pods issues one certificate each. Only what that shape needs is here (definite
// lengths, positive INTEGERs, the two time types); anything else still goes through @peculiar/x509.

/** Tag numbers of the universal and context-specific types the leaf uses. */
const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  /** [0] EXPLICIT, constructed: the version of a TBSCertificate. */
  version: 0xa0,
  /** [3] EXPLICIT, constructed: the extensions of a TBSCertificate. */
  extensions: 0xa3,
  /** GeneralName choices, IMPLICIT IA5String. */
  dnsName: 0x82,
  uri: 0x86,
  /** KeyIdentifier inside AuthorityKeyIdentifier, IMPLICIT OCTET STRING. */
  keyIdentifier: 0x80,
} as const;

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One element: tag, definite length, contents. */
export function derElement(tag: number, ...contents: Uint8Array[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const derSequence = (...contents: Uint8Array[]): Buffer => derElement(TAG.sequence, ...contents);

/** A non-negative INTEGER from its big-endian magnitude: leading zeros dropped, one added when the high bit is set. */
export function derPositiveInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = magnitude.subarray(start);
  return derElement(TAG.integer, (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes.length ? bytes : Buffer.from([0]));
}

/**
 * An X.509 Time (RFC 5280 4.1.2.5): UTCTime through 2049, GeneralizedTime from 2050, to the second
 * (milliseconds dropped, as every other meshctl certificate has them).
 */
export function derTime(date: Date): Buffer {
  const two = (n: number) => String(n).padStart(2, '0');
  const year = date.getUTCFullYear();
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year > 2049
    ? derElement(TAG.generalizedTime, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'latin1'))
    : derElement(TAG.utcTime, Buffer.from(`${two(year % 100)}${rest}`, 'latin1'));
}

/** A BIT STRING of whole bytes (no unused bits), as signatures and key usages with full bytes are. */
export function derBitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  return derElement(TAG.bitString, Buffer.from([unusedBits]), bytes);
}

/** One Extension: its OID (pre-encoded), the criticality flag only when set (DER omits the default), the value. */
export function derExtension(oid: Buffer, critical: boolean, value: Uint8Array): Buffer {
  return derSequence(oid, ...(critical ? [Buffer.from([TAG.boolean, 0x01, 0xff])] : []), derElement(TAG.octetString, value));
}

const oid = (hex: string) => Buffer.from(`06${(hex.length / 2).toString(16).padStart(2, '0')}${hex}`, 'hex');

export const OID = {
  basicConstraints: oid('551d13'),
  keyUsage: oid('551d0f'),
  extendedKeyUsage: oid('551d25'),
  authorityKeyIdentifier: oid('551d23'),
  subjectAltName: oid('551d11'),
  serverAuth: oid('2b06010505070301'),
  clientAuth: oid('2b06010505070302'),
  ecdsaWithSha256: oid('2a8648ce3d040302'),
};

/** AlgorithmIdentifier of ecdsa-with-SHA256: no parameters (RFC 5758 3.2). */
export const ECDSA_WITH_SHA256 = derSequence(OID.ecdsaWithSha256);
/** Version v3, the only one with extensions. */
export const VERSION_3 = derElement(TAG.version, derElement(TAG.integer, Buffer.from([2])));
/** The empty Name: a workload's identity is its URI SAN alone. */
export const EMPTY_NAME = derSequence();

/** The extensions block of a TBSCertificate. */
export const derExtensions = (extensions: Uint8Array[]): Buffer => derElement(TAG.extensions, derSequence(...extensions));

/** KeyUsage digitalSignature (bit 0) and keyEncipherment (bit 2): one byte, the 5 low bits unused. */
export const KEY_USAGE_SIGNATURE_ENCIPHERMENT = derBitString(Buffer.from([0xa0]), 5);
/** BasicConstraints with cA false, the default, so an empty SEQUENCE. */
export const BASIC_CONSTRAINTS_NOT_CA = derSequence();

export const derExtendedKeyUsage = (...purposes: Buffer[]): Buffer => derSequence(...purposes);
export const derAuthorityKeyIdentifier = (keyIdentifier: Uint8Array): Buffer => derSequence(derElement(TAG.keyIdentifier, keyIdentifier));

/** GeneralNames of a URI first, then DNS names (IA5String: ASCII, as SPIFFE IDs and host names are). */
export function derSubjectAltNames(uri: string, dnsNames: string[]): Buffer {
  return derSequence(derElement(TAG.uri, Buffer.from(uri, 'ascii')), ...dnsNames.map((name) => derElement(TAG.dnsName, Buffer.from(name, 'ascii'))));
}

/** Where one element sits in a DER buffer. */
export interface DerSpan {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the contents. */
  end: number;
}

/** The element starting at `offset` (definite lengths only, as DER has); throws on a truncated buffer. */
export function readDerElement(der: Uint8Array, offset: number): DerSpan {
  if (offset + 2 > der.length) throw new Error('truncated DER');
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || contentStart + count > der.length) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[contentStart + i]!;
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) throw new Error('truncated DER');
  return { tag, start: offset, contentStart, end };
}

/** The elements directly inside a constructed element. */
export function derChildren(der: Uint8Array, parent: DerSpan): DerSpan[] {
  const children: DerSpan[] = [];
  for (let offset = parent.contentStart; offset < parent.end;) {
    const child = readDerElement(der, offset);
    children.push(child);
    offset = child.end;
  }
  return children;
}

/**
 * What a certificate that issues others hands down: its subject Name as encoded (a leaf's issuer must
 * be the same bytes) and its public key's bits (the SHA-1 of which is the leaf's authority key identifier,
 * RFC 5280 4.2.1.2 method 1).
 */
export function issuerParts(certificateDer: Uint8Array): { subject: Buffer; subjectPublicKey: Buffer } {
  const certificate = readDerElement(certificateDer, 0);
  const tbs = derChildren(certificateDer, derChildren(certificateDer, certificate)[0]!);
  // version [0], serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
  const fields = tbs[0]?.tag === TAG.version ? tbs.slice(1) : tbs;
  const subject = fields[4];
  const spki = fields[5];
  if (!subject || !spki) throw new Error('not an X.509 certificate');
  const bitString = derChildren(certificateDer, spki)[1];
  if (!bitString || bitString.tag !== TAG.bitString) throw new Error('not an X.509 certificate');
  return {
    subject: Buffer.from(certificateDer.subarray(subject.start, subject.end)),
    // The first content byte counts the unused bits (none for a key).
    subjectPublicKey: Buffer.from(certificateDer.subarray(bitString.contentStart + 1, bitString.end)),
  };
}

/** PEM of a DER certificate, 64 columns, as OpenSSL and @peculiar/x509 write it. */
export function certificatePem(der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
