// The DER writer of workload certificates: lengths, integers, times and the reader that takes the
// root's subject and key apart, checked against OpenSSL's reading of the same bytes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { derChildren, derElement, derPositiveInteger, derTime, issuerParts, readDerElement } from '../../../src/lib/mesh/certificate-der.js';
import { createMeshCa } from '../../../src/lib/mesh/ca.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('certificate DER', () => {
  it('writes short and long definite lengths, and reads them back', () => {
    for (const [size, header] of [[0, '0400'], [127, '047f'], [128, '048180'], [255, '0481ff'], [256, '04820100'], [65_536, '0483010000']] as const) {
      const element = derElement(0x04, Buffer.alloc(size, 7));
      assert.equal(hex(element.subarray(0, header.length / 2)), header);
      assert.deepEqual(readDerElement(element, 0), { tag: 0x04, start: 0, contentStart: header.length / 2, end: element.length });
    }
    assert.throws(() => readDerElement(derElement(0x04, Buffer.alloc(300)).subarray(0, 200), 0), /truncated/);
  });

  it('writes positive INTEGERs in their fewest bytes, with a zero before a high bit', () => {
    assert.equal(hex(derPositiveInteger(Buffer.from('7f01', 'hex'))), '02027f01');
    assert.equal(hex(derPositiveInteger(Buffer.from('80', 'hex'))), '02020080');
    assert.equal(hex(derPositiveInteger(Buffer.from('000005', 'hex'))), '020105');
    assert.equal(hex(derPositiveInteger(Buffer.from('0000', 'hex'))), '020100');
  });

  it('writes UTCTime through 2049 and GeneralizedTime from 2050, to the second', () => {
    assert.equal(derTime(new Date('2049-12-31T23:59:59.999Z')).toString('latin1', 2), '491231235959Z');
    assert.equal(derTime(new Date('2049-12-31T23:59:59Z'))[0], 0x17);
    assert.equal(derTime(new Date('2050-01-01T00:00:00Z')).toString('latin1', 2), '20500101000000Z');
    assert.equal(derTime(new Date('2050-01-01T00:00:00Z'))[0], 0x18);
    assert.equal(derTime(new Date('2026-03-04T05:06:07Z')).toString('latin1', 2), '260304050607Z');
  });

  it('takes the root subject and key apart as OpenSSL reads them', async () => {
    const ca = await createMeshCa();
    const { subject, subjectPublicKey } = issuerParts(new X509Certificate(ca.certificatePem).raw);
    // The subject: a Name of two RDNs, the CN and the O OpenSSL prints.
    assert.equal(derChildren(subject, readDerElement(subject, 0)).length, 2);
    const printed = execFileSync('openssl', ['x509', '-noout', '-subject', '-ext', 'subjectKeyIdentifier'], { input: ca.certificatePem, encoding: 'utf8' });
    const [, cn, o] = /subject=CN = (.+), O = (.+)\n/.exec(printed)!;
    assert.ok(subject.includes(Buffer.from(cn!)) && subject.includes(Buffer.from(o!)));
    // The key's bits (an uncompressed P-256 point) hash to the identifier the root gives its own key.
    assert.deepEqual([subjectPublicKey.length, subjectPublicKey[0]], [65, 0x04]);
    const keyId = createHash('sha1').update(subjectPublicKey).digest('hex').toUpperCase().match(/../g)!.join(':');
    assert.match(printed, new RegExp(`Subject Key Identifier: *\\n *${keyId}\\n`));
    assert.throws(() => issuerParts(Buffer.from('3003020101', 'hex')), /not an X.509 certificate|truncated/);
  });
});
