import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['gateway.CertificateAnalyzer'];

const gateway = (name: string, selector: string, credential: string) => `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: istio-system}
spec:
  selector: {${selector}}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls:
      mode: SIMPLE
      credentialName: ${credential}
    hosts: ["${name}.example.com"]
`;

test('two Gateways on the same workloads with one certificate are IST0138 at each credentialName', async () => {
  const text = gateway('a', 'istio: ingressgateway', 'wildcard') + gateway('b', 'istio: ingressgateway', 'wildcard');
  const r = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0138@11', 'IST0138@23']);
  assert.match(r.findings[0]!.message, /Gateway istio-system\/a serves the certificate wildcard on the same workloads as Gateway istio-system\/b,/);
  assert.deepEqual(r.findings.map((f) => f.group), [{ id: 'IST0138-1', size: 2 }, { id: 'IST0138-1', size: 2 }]);
});

test('different certificates, or a Gateway whose selector does not include the other, are fine', async () => {
  const distinct = gateway('a', 'istio: ingressgateway', 'a-cert') + gateway('b', 'istio: ingressgateway', 'b-cert');
  assert.deepEqual(codesAt((await validateText(distinct, { analyzers })).findings), []);
  // Only the broader Gateway is reported: the narrower one's selector is not a subset of the broader one's.
  const narrower = gateway('a', 'istio: ingressgateway', 'wildcard') + gateway('b', 'istio: ingressgateway, type: internal', 'wildcard');
  assert.deepEqual(codesAt((await validateText(narrower, { analyzers })).findings), ['IST0138@11']);
});
