// The mesh CA: files and modes, SPIFFE identities, lifetimes and renewal.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { CA_KEY_FILE, createMeshCa, ensureMeshCa, issueWorkloadCertificate, issuedBy, loadMeshCa, readCertificate, renewalCheckIntervalMs, renewalDue, renewWorkloadCertificateIfDue, writeMeshCa } from '../../../src/lib/mesh/ca.js';
import { parseSpiffeId, spiffeId } from '../../../src/lib/policy/spiffe.js';

describe('mesh CA', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const d = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-ca-'));
    dirs.push(d);
    return d;
  };
  after(async () => {
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  it('writes the root key mode 0600, loads it back, and refuses to overwrite it', async () => {
    const dir = await tempDir();
    const { ca, created } = await ensureMeshCa(dir);
    assert.equal(created, true);
    assert.equal((await fs.stat(path.join(dir, CA_KEY_FILE))).mode & 0o777, 0o600);
    const again = await ensureMeshCa(dir);
    assert.equal(again.created, false);
    assert.equal(again.ca.certificatePem, ca.certificatePem);
    await assert.rejects(writeMeshCa(await createMeshCa(), dir), /already exists/);
    await fs.chmod(path.join(dir, CA_KEY_FILE), 0o644);
    await assert.rejects(loadMeshCa(dir), /readable by others.*chmod 600/);
  });

  it('issues short-lived workload certificates whose only identity is the SPIFFE ID', async () => {
    const ca = await createMeshCa();
    const now = new Date();
    const cert = await issueWorkloadCertificate(ca, { namespace: 'shop', serviceAccount: 'reviews' }, { ttlMs: 3_600_000, now });
    const info = readCertificate(cert.certificatePem);
    assert.deepEqual(info.spiffeIds, ['spiffe://cluster.local/ns/shop/sa/reviews']);
    assert.equal(info.subject, '');
    assert.equal(info.isCa, false);
    assert.ok(info.notAfter.getTime() - now.getTime() <= 3_600_000);
    assert.equal(await issuedBy(cert.certificatePem, ca), true);
    assert.equal(await issuedBy(cert.certificatePem, await createMeshCa()), false);
    assert.equal(readCertificate(ca.certificatePem).isCa, true);
  });

  it('OpenSSL accepts workload certificates as TLS client and server of the root, each with its own P-256 key and serial', async () => {
    const ca = await createMeshCa();
    const root = new X509Certificate(ca.certificatePem);
    const identity = { namespace: 'shop', serviceAccount: 'reviews' };
    const first = await issueWorkloadCertificate(ca, identity, { dnsNames: ['reviews.shop.svc'] });
    const second = await issueWorkloadCertificate(ca, identity, { dnsNames: ['reviews.shop.svc'] });
    const other = await issueWorkloadCertificate(ca, { namespace: 'shop', serviceAccount: 'ratings' });
    for (const cert of [first, second, other]) {
      const leaf = new X509Certificate(cert.certificatePem);
      assert.equal(leaf.checkIssued(root), true);
      assert.equal(leaf.verify(root.publicKey), true);
      assert.equal(leaf.checkPrivateKey(createPrivateKey(cert.privateKeyPem)), true);
      assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.equal(leaf.ca, false);
      assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
      assert.equal(leaf.serialNumber.toLowerCase(), cert.serialNumber);
    }
    assert.equal(new X509Certificate(first.certificatePem).subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/reviews, DNS:reviews.shop.svc');
    assert.equal(new X509Certificate(other.certificatePem).subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/ratings');
    assert.notEqual(first.serialNumber, second.serialNumber);
    assert.notEqual(first.privateKeyPem, second.privateKeyPem);
    // A CA loaded back from its files issues what the one that created it does.
    const loaded = await loadMeshCa((await ensureMeshCa(await tempDir())).ca.dir!);
    const fromLoaded = new X509Certificate((await issueWorkloadCertificate(loaded, identity)).certificatePem);
    assert.equal(fromLoaded.checkIssued(new X509Certificate(loaded.certificatePem)), true);
    assert.equal(fromLoaded.verify(new X509Certificate(loaded.certificatePem).publicKey), true);
  });

  it('writes the certificate @peculiar/x509 built from the same fields, byte for byte, and OpenSSL verifies it for TLS', async () => {
    const ca = await createMeshCa({ now: new Date('2030-01-01T00:00:00Z'), validityDays: 40 * 365 });
    const dir = await tempDir();
    const caFile = path.join(dir, 'ca.pem');
    await fs.writeFile(caFile, ca.certificatePem);
    const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    // The leaf meshctl issued before it wrote the DER itself: @peculiar/x509's generator with the same
    // serial, validity and public key. ECDSA signatures differ each time, so the signed part is compared.
    const peculiarLeaf = async (cert: Awaited<ReturnType<typeof issueWorkloadCertificate>>, dnsNames: string[]) => {
      x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
      const built = await x509.X509CertificateGenerator.create({
        serialNumber: cert.serialNumber,
        subject: '',
        issuer: ca.certificate.subjectName,
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        publicKey: createPublicKey(cert.privateKeyPem).export({ type: 'spki', format: 'der' }),
        signingKey: ca.privateKey,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
          await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
          new x509.SubjectAlternativeNameExtension([{ type: 'url', value: cert.spiffeId }, ...dnsNames.map((value) => ({ type: 'dns' as const, value }))], true),
        ],
      });
      return built.toString('pem') + '\n';
    };
    // What OpenSSL reads in a certificate, but for what differs by construction (the signature).
    const fields = (file: string) => openssl('x509', '-in', file, '-noout', '-text').split('Signature Value:')[0]!;
    // The TBSCertificate's bytes: the certificate's first element, after its 4-byte SEQUENCE header.
    const signedPart = (file: string) => execFileSync('openssl', ['asn1parse', '-in', file, '-strparse', '4', '-noout', '-out', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const cases: { now: Date; ttlMs: number; dnsNames: string[] }[] = [
      { now: new Date('2031-05-06T07:08:09.123Z'), ttlMs: 3_600_000, dnsNames: ['reviews.shop.svc'] },
      { now: new Date('2035-02-03T04:05:06.789Z'), ttlMs: 10_000, dnsNames: [] },
      // Past 2049 a validity is a GeneralizedTime (RFC 5280 4.1.2.5).
      { now: new Date('2049-12-31T23:30:00Z'), ttlMs: 24 * 3_600_000, dnsNames: ['a.shop.svc', 'b.shop.svc'] },
    ];
    for (const [i, { now, ttlMs, dnsNames }] of cases.entries()) {
      const cert = await issueWorkloadCertificate(ca, { namespace: 'shop', serviceAccount: 'reviews' }, { now, ttlMs, dnsNames });
      const ours = path.join(dir, `leaf-${i}.pem`);
      const theirs = path.join(dir, `peculiar-${i}.pem`);
      await fs.writeFile(ours, cert.certificatePem + cert.privateKeyPem);
      await fs.writeFile(theirs, await peculiarLeaf(cert, dnsNames));
      assert.equal(fields(ours), fields(theirs));
      assert.deepEqual(signedPart(ours), signedPart(theirs));
      assert.match(fields(ours), /X509v3 Basic Constraints: critical\s+CA:FALSE/);
      assert.match(fields(ours), /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
      assert.match(fields(ours), /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
      assert.match(fields(ours), new RegExp(`X509v3 Subject Alternative Name: critical\\s+${['URI:spiffe://cluster.local/ns/shop/sa/reviews', ...dnsNames.map((d) => `DNS:${d}`)].join(', ')}\\n`));
      assert.match(fields(ours), /Subject: *\n/);
      assert.equal(openssl('x509', '-in', ours, '-noout', '-serial').trim(), `serial=${cert.serialNumber.toUpperCase()}`);
      assert.equal(cert.certificatePem.split('\n').filter((l) => l.length > 64).length, 0);
      // Inside its validity, OpenSSL takes it as a TLS server and client of the root.
      const at = String(Math.floor(now.getTime() / 1000) + 1);
      for (const purpose of ['sslserver', 'sslclient']) {
        assert.match(openssl('verify', '-attime', at, '-purpose', purpose, '-CAfile', caFile, ours), /: OK/);
      }
    }
  });

  it('spells and parses SPIFFE IDs', () => {
    assert.equal(spiffeId({ namespace: 'default', serviceAccount: 'bookinfo-reviews' }), 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews');
    assert.deepEqual(parseSpiffeId('spiffe://example.org/ns/a/sa/b'), { trustDomain: 'example.org', namespace: 'a', serviceAccount: 'b' });
    assert.equal(parseSpiffeId('spiffe://example.org/workload'), null);
    assert.throws(() => spiffeId({ namespace: 'a/b', serviceAccount: 'x' }), /without slashes/);
  });

  it('a 10 s certificate is not due when issued, is due 5 s later, and the agent looks every second', async () => {
    const ca = await createMeshCa();
    const issuedAt = new Date();
    const cert = await issueWorkloadCertificate(ca, { namespace: 'default', serviceAccount: 'reviews' }, { ttlMs: 10_000, now: issuedAt });
    assert.equal(cert.notAfter.getTime() - issuedAt.getTime(), 10_000);
    assert.equal(renewalDue(cert, { now: issuedAt }), false);
    assert.equal(renewalDue(cert, { now: new Date(issuedAt.getTime() + 4000) }), false);
    assert.equal(renewalDue(cert, { now: new Date(issuedAt.getTime() + 5000) }), true);
    assert.deepEqual([10_000, 600_000, 24 * 3_600_000].map(renewalCheckIntervalMs), [1000, 60_000, 300_000]);
  });

  it('renews at half-life, and re-issues a certificate of another CA or identity', async () => {
    const ca = await createMeshCa();
    const start = new Date('2030-01-01T00:00:00Z');
    const cert = { notBefore: start, notAfter: new Date(start.getTime() + 24 * 3_600_000) };
    assert.equal(renewalDue(cert, { now: new Date(start.getTime() + 11 * 3_600_000) }), false);
    assert.equal(renewalDue(cert, { now: new Date(start.getTime() + 12 * 3_600_000) }), true);
    assert.equal(renewalDue(cert, { now: new Date(start.getTime() - 1) }), true);

    const dir = await tempDir();
    const files = { certificate: path.join(dir, 'proxy.pem'), caBundle: path.join(dir, 'ca.pem') };
    const identity = { namespace: 'default', serviceAccount: 'reviews' };
    const first = await renewWorkloadCertificateIfDue(ca, identity, files);
    assert.ok(first);
    assert.equal((await fs.stat(files.certificate)).mode & 0o777, 0o600);
    assert.equal(await renewWorkloadCertificateIfDue(ca, identity, files), null);
    const later = new Date(Date.now() + 13 * 3_600_000);
    assert.ok(await renewWorkloadCertificateIfDue(ca, identity, files, { now: later }));
    assert.ok(await renewWorkloadCertificateIfDue(ca, { namespace: 'default', serviceAccount: 'other' }, files));
    assert.ok(await renewWorkloadCertificateIfDue(await createMeshCa(), identity, files));
  });
});
