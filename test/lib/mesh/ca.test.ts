// The mesh CA: files and modes, SPIFFE identities, lifetimes and renewal.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
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
