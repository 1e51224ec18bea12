// The mesh certificate authority: one self-signed ECDSA P-256 root per mesh home, and short-lived
// workload certificates that carry each pod's SPIFFE ID as their only identity (a URI SAN).
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import { KeyObject, X509Certificate, createHash, generateKeyPair, sign, webcrypto } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { DEFAULT_TRUST_DOMAIN, spiffeId, type WorkloadIdentity } from '../policy/spiffe.js';
import { writeFileAtomic, writeFilesAtomic } from '../system/atomic-file.js';
import {
  BASIC_CONSTRAINTS_NOT_CA, ECDSA_WITH_SHA256, EMPTY_NAME, KEY_USAGE_SIGNATURE_ENCIPHERMENT, OID, VERSION_3, certificatePem, derAuthorityKeyIdentifier,
  derBitString, derExtendedKeyUsage, derExtension, derExtensions, derPositiveInteger, derSequence, derSubjectAltNames, derTime, issuerParts,
} from './certificate-der.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/** Root lifetime: long, since rotating the root means re-issuing every workload certificate. */
export const DEFAULT_ROOT_VALIDITY_DAYS = 3650;
/** Workload lifetime, as Istio's default: one day, renewed at half-life. */
export const DEFAULT_WORKLOAD_TTL_MS = 24 * 60 * 60 * 1000;
/** The workload certificate lifetime a mesh configuration sets. */
export function workloadCertificateLifetimeMs(config: { workloadCertificateLifetimeMs?: number }): number {
  return config.workloadCertificateLifetimeMs ?? DEFAULT_WORKLOAD_TTL_MS;
}
/** Fraction of a workload certificate's lifetime after which it is due for renewal. */
export const DEFAULT_RENEW_AT = 0.5;
/** Allowed clock skew: certificates start this much in the past. */
const BACKDATE_MS = 60 * 1000;
/** The longest wait between two renewal checks, and the shortest. */
const MAX_RENEWAL_CHECK_MS = 5 * 60 * 1000;
const MIN_RENEWAL_CHECK_MS = 1000;

/**
 * How far a certificate of `ttlMs` starts in the past: a minute, but never more than a tenth of its
 * lifetime, else a short-lived certificate would be past half its life (due again) as soon as issued.
 */
function backdateMs(ttlMs: number): number {
  return Math.min(BACKDATE_MS, Math.floor(ttlMs / 10));
}

/**
 * How often the agent looks for certificates due for renewal, for workload certificates of `ttlMs`:
 * a tenth of the lifetime (renewal at half-life then happens within 60% of it), between 1 s and 5 minutes.
 */
export function renewalCheckIntervalMs(ttlMs: number): number {
  return Math.max(MIN_RENEWAL_CHECK_MS, Math.min(MAX_RENEWAL_CHECK_MS, Math.floor(ttlMs / 10)));
}

/** File names of the CA inside its directory (the mesh home). */
export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';

export interface MeshCa {
  trustDomain: string;
  /** PEM of the self-signed root certificate (the trust bundle every sidecar verifies peers against). */
  certificatePem: string;
  certificate: x509.X509Certificate;
  /** The root's signing key (never leaves the CA directory, where it is stored mode 0600). */
  privateKey: CryptoKey;
  notBefore: Date;
  notAfter: Date;
  /** Where the CA was loaded from or written to; null for an in-memory CA. */
  dir: string | null;
}

export interface WorkloadCertificate {
  spiffeId: string;
  /** Leaf certificate PEM. */
  certificatePem: string;
  /** PKCS#8 PEM of the leaf's private key. */
  privateKeyPem: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

/** What `inspect` and `check` show about a certificate. */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  serialNumber: string;
  spiffeIds: string[];
  dnsNames: string[];
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  /** Lower-case hex SHA-256 of the DER. */
  fingerprintSha256: string;
}

export class CaError extends Error {
  override name = 'CaError';
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key );
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importPrivateKey(pem: string, file: string): Promise<CryptoKey> {
  const blocks = x509.PemConverter.decodeWithHeaders(pem).filter((b) => b.type === 'PRIVATE KEY');
  if (blocks.length !== 1) throw new CaError(`${file} holds no PKCS#8 private key; restore it from a backup or re-create the mesh CA.`);
  return (await webcrypto.subtle.importKey('pkcs8', blocks[0].rawData, KEY_ALGORITHM, true, ['sign'])) as unknown as CryptoKey;
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  // A positive INTEGER whose first byte is never zero: every tool (OpenSSL, Node, the TLS peer) then
  // prints the same 32 hex digits, with no leading zeros dropped by some and kept by others.
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return Buffer.from(bytes).toString('hex');
}

/** Creates a new root (in memory). Use `writeMeshCa` or `ensureMeshCa` to persist it. */
export async function createMeshCa(options: { trustDomain?: string; validityDays?: number; now?: Date } = {}): Promise<MeshCa> {
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const now = options.now ?? new Date();
  const keys = await generateKeys();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now.getTime() + (options.validityDays ?? DEFAULT_ROOT_VALIDITY_DAYS) * 86_400_000);
  const serialNumber = randomSerial();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber,
    // The serial's prefix keeps two meshes' roots apart by name as well as by key.
    name: `CN=meshctl mesh CA ${serialNumber.slice(0, 8)}, O=${trustDomain}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }]),
    ],
  });
  return { trustDomain, certificatePem: certificate.toString('pem') + '\n', certificate, privateKey: keys.privateKey, notBefore, notAfter, dir: null };
}

/** Writes the CA into `dir`: ca.crt (0644) and ca.key (0600). Refuses to overwrite an existing key. */
export async function writeMeshCa(ca: MeshCa, dir: string): Promise<MeshCa> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(dir, CA_KEY_FILE);
  if (await exists(keyFile)) throw new CaError(`${keyFile} already exists; a mesh has one CA, so load it (or remove the mesh home to start over).`);
  await writeFileAtomic(keyFile, await privateKeyPem(ca.privateKey), 0o600);
  await writeFileAtomic(path.join(dir, CA_CERT_FILE), ca.certificatePem, 0o644);
  return { ...ca, dir };
}

/** Loads the CA from `dir`; fails with a sentence naming the file when it is missing, unreadable or loose. */
export async function loadMeshCa(dir: string): Promise<MeshCa> {
  const keyFile = path.join(dir, CA_KEY_FILE);
  const certFile = path.join(dir, CA_CERT_FILE);
  let keyText: string;
  let certText: string;
  try {
    keyText = await fs.readFile(keyFile, 'utf8');
    certText = await fs.readFile(certFile, 'utf8');
  } catch (err) {
    throw new CaError(`Cannot read the mesh CA in ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run meshctl install to create it.`);
  }
  const mode = (await fs.stat(keyFile)).mode & 0o777;
  if (mode & 0o077) throw new CaError(`${keyFile} is readable by others (mode ${mode.toString(8)}); run chmod 600 on it.`);
  const privateKey = await importPrivateKey(keyText, keyFile);
  let certificate: x509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(certText);
  } catch {
    throw new CaError(`${certFile} is not a PEM certificate; restore it or re-create the mesh CA.`);
  }
  const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const td = san?.names.items.find((n) => n.type === 'url' && n.value.startsWith('spiffe://'))?.value.slice('spiffe://'.length);
  return {
    trustDomain: td || DEFAULT_TRUST_DOMAIN,
    certificatePem: certificate.toString('pem') + '\n',
    certificate,
    privateKey,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    dir,
  };
}

/** Loads the CA in `dir`, or creates and writes one when there is none. */
export async function ensureMeshCa(dir: string, options: { trustDomain?: string; validityDays?: number } = {}): Promise<{ ca: MeshCa; created: boolean }> {
  if (await exists(path.join(dir, CA_KEY_FILE))) return { ca: await loadMeshCa(dir), created: false };
  return { ca: await writeMeshCa(await createMeshCa(options), dir), created: true };
}

/**
 * What every workload certificate of one root shares, derived once per loaded CA: the issuer Name as
 * the root encodes it, the extensions every leaf carries, and the root key as a node:crypto key.
 */
interface IssuingContext {
  issuer: Buffer;
  /** BasicConstraints, KeyUsage, ExtendedKeyUsage, AuthorityKeyIdentifier, in this order, encoded. */
  sharedExtensions: Buffer[];
  /** Pods of one service account share their SAN; a mesh has few identities, so this stays small. */
  subjectAltNames: Map<string, Buffer>;
  rootKey: KeyObject;
  /** The root's subject as node:crypto prints it, for telling a leaf of this root by its issuer. */
  rootSubject: string;
}
const issuingContexts = new WeakMap<x509.X509Certificate, IssuingContext>();
function issuingContext(ca: MeshCa): IssuingContext {
  let known = issuingContexts.get(ca.certificate);
  if (!known) {
    const rootDer = new Uint8Array(ca.certificate.rawData);
    const root = issuerParts(rootDer);
    known = {
      issuer: root.subject,
      sharedExtensions: [
        derExtension(OID.basicConstraints, true, BASIC_CONSTRAINTS_NOT_CA),
        derExtension(OID.keyUsage, true, KEY_USAGE_SIGNATURE_ENCIPHERMENT),
        derExtension(OID.extendedKeyUsage, false, derExtendedKeyUsage(OID.serverAuth, OID.clientAuth)),
        derExtension(OID.authorityKeyIdentifier, false, derAuthorityKeyIdentifier(createHash('sha1').update(root.subjectPublicKey).digest())),
      ],
      subjectAltNames: new Map(),
      rootKey: KeyObject.from(ca.privateKey),
      rootSubject: new X509Certificate(rootDer).subject,
    };
    issuingContexts.set(ca.certificate, known);
  }
  return known;
}

function subjectAltName(context: IssuingContext, id: string, dnsNames: string[]): Buffer {
  const key = [id, ...dnsNames].join('\n');
  let known = context.subjectAltNames.get(key);
  if (!known) {
    // Like Istio's, the subject is empty: the identity is the URI SAN, which is then critical (RFC 5280 4.2.1.6).
    known = derExtension(OID.subjectAltName, true, derSubjectAltNames(id, dnsNames));
    context.subjectAltNames.set(key, known);
  }
  return known;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A leaf key pair straight in the encodings the certificate and the sidecar need (SPKI DER, PKCS#8
 * PEM): the leaf key never signs inside meshctl, so it needs no webcrypto key and no export.
 */
function generateWorkloadKeys(): Promise<{ publicKey: Buffer; privateKey: string }> {
  return generateKeyPairAsync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** Issues a workload certificate for `identity`, valid for `ttlMs` (default one day), usable as TLS client and server. */
export async function issueWorkloadCertificate(
  ca: MeshCa,
  identity: WorkloadIdentity,
  options: { ttlMs?: number; now?: Date; dnsNames?: string[] } = {},
): Promise<WorkloadCertificate> {
  const id = spiffeId({ trustDomain: ca.trustDomain, ...identity });
  const now = options.now ?? new Date();
  const ttlMs = options.ttlMs ?? DEFAULT_WORKLOAD_TTL_MS;
  const notBefore = new Date(now.getTime() - backdateMs(ttlMs));
  const notAfter = new Date(Math.min(now.getTime() + ttlMs, ca.notAfter.getTime()));
  const context = issuingContext(ca);
  const keys = await generateWorkloadKeys();
  const serialNumber = randomSerial();
  const tbsCertificate = derSequence(
    VERSION_3,
    derPositiveInteger(Buffer.from(serialNumber, 'hex')),
    ECDSA_WITH_SHA256,
    context.issuer,
    derSequence(derTime(notBefore), derTime(notAfter)),
    EMPTY_NAME,
    keys.publicKey,
    derExtensions([...context.sharedExtensions, subjectAltName(context, id, options.dnsNames ?? [])]),
  );
  // ECDSA over SHA-256 with the root key; node:crypto gives the signature DER-encoded, as X.509 carries it.
  const signature = sign('sha256', tbsCertificate, context.rootKey);
  const certificate = derSequence(tbsCertificate, ECDSA_WITH_SHA256, derBitString(signature));
  return {
    spiffeId: id,
    certificatePem: certificatePem(certificate),
    privateKeyPem: keys.privateKey,
    serialNumber,
    notBefore,
    notAfter,
  };
}

/**
 * Writes what a sidecar loads: `certificate` gets the leaf and its key in one PEM (HAProxy's `crt`
 * format, mode 0600), `caBundle` the mesh root (HAProxy's `ca-file`). Synced, unlike a proxy's compiled
 * files: the renewal check keeps a certificate file that reads whole and valid, and then writes neither
 * it nor the bundle beside it again, so both must have reached the disk before anything relies on them.
 */
export async function writeWorkloadCertificate(cert: WorkloadCertificate, ca: MeshCa, files: { certificate: string; caBundle: string }): Promise<void> {
  await fs.mkdir(path.dirname(files.certificate), { recursive: true, mode: 0o700 });
  await writeFilesAtomic([
    { file: files.certificate, data: sidecarPem(cert), mode: 0o600 },
    { file: files.caBundle, data: ca.certificatePem, mode: 0o644 },
  ]);
}

/** The leaf and its key in one PEM, as HAProxy's `crt` and its runtime API `set ssl cert` take it. */
export function sidecarPem(cert: WorkloadCertificate): string {
  return cert.certificatePem + cert.privateKeyPem + (cert.privateKeyPem.endsWith('\n') ? '' : '\n');
}

/** Reads the first certificate of a PEM text (a combined cert+key file is fine). */
export function readCertificate(pem: string): CertificateSummary {
  const block = x509.PemConverter.decodeWithHeaders(pem).find((b) => b.type === 'CERTIFICATE');
  if (!block) throw new CaError('The PEM text holds no certificate.');
  const cert = new x509.X509Certificate(block.rawData);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const items = san?.names.items ?? [];
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    spiffeIds: items.filter((n) => n.type === 'url' && n.value.startsWith('spiffe://')).map((n) => n.value),
    dnsNames: items.filter((n) => n.type === 'dns').map((n) => n.value),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    isCa: bc?.ca ?? false,
    fingerprintSha256: createHash('sha256').update(new Uint8Array(block.rawData)).digest('hex'),
  };
}

/** True when `cert` has passed `renewAt` (a fraction, default one half) of its lifetime, or is not yet/no longer valid. */
export function renewalDue(cert: Pick<CertificateSummary, 'notBefore' | 'notAfter'>, options: { now?: Date; renewAt?: number } = {}): boolean {
  const now = (options.now ?? new Date()).getTime();
  const start = cert.notBefore.getTime();
  const end = cert.notAfter.getTime();
  if (now < start || now >= end) return true;
  return now >= start + (end - start) * (options.renewAt ?? DEFAULT_RENEW_AT);
}

/**
 * Renewal helper for a sidecar's certificate file: when the file is missing, not issued by `ca`,
 * for another identity, or due for renewal, issues a new certificate, writes it, and returns it;
 * otherwise returns null. Callers push a renewed certificate to a running sidecar with
 * `updateCertificate` from the HAProxy runtime (no reload).
 */
export async function renewWorkloadCertificateIfDue(
  ca: MeshCa,
  identity: WorkloadIdentity,
  files: { certificate: string; caBundle: string },
  options: { ttlMs?: number; now?: Date; renewAt?: number; dnsNames?: string[] } = {},
): Promise<WorkloadCertificate | null> {
  const wanted = spiffeId({ trustDomain: ca.trustDomain, ...identity });
  const current = await currentWorkloadCertificate(files.certificate);
  const valid = current !== null
    && current.issuer === issuingContext(ca).rootSubject
    && current.spiffeIds.includes(wanted)
    && !renewalDue(current, options);
  if (valid) return null;
  const cert = await issueWorkloadCertificate(ca, identity, options);
  await writeWorkloadCertificate(cert, ca, files);
  return cert;
}

/**
 * What the renewal check needs of a sidecar's certificate file, read by node:crypto (OpenSSL) rather
 * than an ASN.1 object model, since the agent asks it of every pod at its start; null when the file
 * is missing or holds no certificate.
 */
async function currentWorkloadCertificate(file: string): Promise<{ issuer: string; spiffeIds: string[]; notBefore: Date; notAfter: Date } | null> {
  let cert: X509Certificate;
  try {
    // The first certificate of the file (the key that follows it is not read).
    cert = new X509Certificate(await fs.readFile(file));
  } catch {
    return null;
  }
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  // A validity not understood is no validity: the certificate is issued anew.
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) return null;
  // node:crypto lists the names as `URI:<id>, DNS:<name>`, quoting any that holds a separator.
  const names = cert.subjectAltName?.split(', ') ?? [];
  return {
    issuer: cert.issuer,
    spiffeIds: names.filter((n) => n.startsWith('URI:spiffe://')).map((n) => n.slice('URI:'.length)),
    notBefore,
    notAfter,
  };
}

/** True when `certPem` was signed by `ca`'s root key. */
export async function issuedBy(certPem: string, ca: MeshCa): Promise<boolean> {
  const block = x509.PemConverter.decodeWithHeaders(certPem).find((b) => b.type === 'CERTIFICATE');
  if (!block) return false;
  const cert = new x509.X509Certificate(block.rawData);
  return cert.verify({ publicKey: ca.certificate.publicKey, signatureOnly: true });
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
