import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['destinationrule.CaCertificateAnalyzer'];

const rule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db.example.com
  trafficPolicy:
    tls:
      mode: MUTUAL
      clientCertificate: /etc/certs/client.pem
      privateKey: /etc/certs/key.pem
    portLevelSettings:
    - port: {number: 5432}
      tls:
        mode: SIMPLE
`;

test('SIMPLE or MUTUAL TLS without caCertificates is IST0128 at the tls block, IST0129 at the port tls block', async () => {
  const r = await validateText(rule, { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0128@7', 'IST0129@13']);
  assert.match(r.findings[1]!.message, /port 5432/);
});

test('caCertificates, or a credentialName on a rule with a workloadSelector, verifies the server', async () => {
  const withCa = rule.replace('      privateKey: /etc/certs/key.pem\n', '      privateKey: /etc/certs/key.pem\n      caCertificates: /etc/certs/ca.pem\n')
    .replace('        mode: SIMPLE\n', '        mode: SIMPLE\n        caCertificates: /etc/certs/ca.pem\n');
  assert.deepEqual(codesAt((await validateText(withCa, { analyzers })).findings), []);
  const credential = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db.example.com
  workloadSelector: {matchLabels: {app: egress}}
  trafficPolicy:
    tls: {mode: SIMPLE, credentialName: db-ca}
`;
  assert.deepEqual(codesAt((await validateText(credential, { analyzers })).findings), []);
  const noSelector = credential.replace('  workloadSelector: {matchLabels: {app: egress}}\n', '');
  assert.deepEqual(codesAt((await validateText(noSelector, { analyzers })).findings), ['IST0128@7']);
});
