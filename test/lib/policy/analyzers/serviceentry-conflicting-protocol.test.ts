import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['serviceentry.ConflictingServiceEntryProtocolAnalyzer'];

const entry = (name: string, ns: string, protocol: string, exportTo = '') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [api.example.com]
  ports:
  - number: 8443
    name: p
    protocol: ${protocol}
  resolution: DNS${exportTo ? `\n  exportTo: [${exportTo}]` : ''}
`;

test('two ServiceEntries giving one host and port different protocols are each IST0177 at their protocol', async () => {
  const text = [entry('api-https', 'shop', 'HTTPS'), entry('api-tls', 'shop', 'TLS')].join('---\n');
  const r = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0177@9', 'IST0177@20']);
  assert.match(r.findings[0]!.message, /ServiceEntry shop\/api-https and ServiceEntry shop\/api-tls declare host api\.example\.com port 8443 with different protocols \(HTTPS, TLS\)/);
  assert.deepEqual(r.findings.map((f) => f.group), [{ id: 'IST0177-1', size: 2 }, { id: 'IST0177-1', size: 2 }]);
});

test('the same protocol, or entries visible in different namespaces only, give no finding', async () => {
  const same = [entry('a', 'shop', 'HTTPS'), entry('b', 'shop', 'https')].join('---\n');
  assert.deepEqual(codesAt((await validateText(same, { analyzers })).findings), []);
  const apart = [entry('a', 'shop', 'HTTPS', '"."'), entry('b', 'ops', 'TLS', '"."')].join('---\n');
  assert.deepEqual(codesAt((await validateText(apart, { analyzers })).findings), []);
});

test('one ServiceEntry giving its own port two protocols is IST0177 alone, with no group', async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: shop}
spec:
  hosts: [api.example.com]
  ports:
  - {number: 8443, name: a, protocol: HTTPS}
  - {number: 8443, name: b, protocol: TLS}
  resolution: DNS
`;
  const r = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0177@7']);
  assert.equal(r.findings[0]!.message, 'ServiceEntry shop/api declares host api.example.com port 8443 with different protocols (HTTPS, TLS); use one protocol for that host and port.');
  assert.equal(r.findings[0]!.group, undefined);
  assert.deepEqual(r.groups, []);
});
