import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { validateText, codesAt } from '../../../support/policy.js';
import { SHARED } from '../../../support/shared.js';

const analyzers = ['gateway.SecretAnalyzer'];
const testdata = path.join(SHARED, 'conformance', 'istio-analyze', 'testdata');

/** `tls.crt`/`tls.key` data of a Secret in the corpus, as base64. */
async function corpusData(file: string, secret: string): Promise<{ crt: string; key: string }> {
  const text = await fs.readFile(path.join(testdata, file), 'utf8');
  const doc = text.split(/^---$/m).find((d) => d.includes(`name: ${secret}\n`))!;
  return { crt: /tls\.crt: (\S+)/.exec(doc)![1]!, key: /tls\.key: (\S+)/.exec(doc)![1]! };
}

const gateway = (credential: string, selector = 'istio: ingressgateway') => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web}
spec:
  selector:
    ${selector}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls:
      mode: SIMPLE
      credentialName: ${credential}
    hosts: ["web.example.com"]
`;

const secret = (ns: string, name: string, data: Record<string, string>) => `---
apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${ns}}
type: kubernetes.io/tls
data:
${Object.entries(data).map(([k, v]) => `  ${k}: ${v}`).join('\n')}
`;

test('a credentialName with no Secret in the workload namespace is IST0101 at credentialName', async () => {
  const valid = await corpusData('gateway-secrets.yaml', 'httpbin-credential');
  // The Secret sits in the Gateway's namespace, but the ingress gateway runs in istio-system.
  const text = gateway('web-cert') + secret('default', 'web-cert', { 'tls.crt': valid.crt, 'tls.key': valid.key });
  const r = await validateText(text, { analyzers, assumeIngressGateway: true });
  assert.deepEqual(codesAt(r.findings), ['IST0101@11']);
  assert.match(r.findings[0]!.message, /istio-system/);
});

test('a valid certificate and key is no finding; an expired certificate is IST0161 at credentialName', async () => {
  const valid = await corpusData('gateway-secrets.yaml', 'httpbin-credential');
  const good = gateway('web-cert') + secret('istio-system', 'web-cert', { 'tls.crt': valid.crt, 'tls.key': valid.key });
  assert.deepEqual(codesAt((await validateText(good, { analyzers, assumeIngressGateway: true })).findings), []);
  const expired = await corpusData('gateway-secrets-validation.yaml', 'expired-secret');
  const old = gateway('web-cert') + secret('istio-system', 'web-cert', { 'tls.crt': expired.crt, 'tls.key': expired.key });
  const r = await validateText(old, { analyzers, assumeIngressGateway: true });
  assert.deepEqual(codesAt(r.findings), ['IST0161@11']);
  assert.match(r.findings[0]!.message, /expired on 2023-03-14/);
});

test('a key that is not a PEM private key, or missing keys, is IST0161', async () => {
  const valid = await corpusData('gateway-secrets.yaml', 'httpbin-credential');
  const junkKey = Buffer.from('not a key\n').toString('base64');
  const text = gateway('web-cert') + secret('istio-system', 'web-cert', { 'tls.crt': valid.crt, 'tls.key': junkKey });
  const r = await validateText(text, { analyzers, assumeIngressGateway: true });
  assert.deepEqual(codesAt(r.findings), ['IST0161@11']);
  assert.match(r.findings[0]!.message, /tls\.key/);
  const missing = gateway('web-cert') + secret('istio-system', 'web-cert', { 'ca.crt': valid.crt });
  assert.deepEqual(codesAt((await validateText(missing, { analyzers, assumeIngressGateway: true })).findings), ['IST0161@11']);
});

test('a gateway Deployment decides the namespace credentials are read from', async () => {
  const valid = await corpusData('gateway-secrets.yaml', 'httpbin-credential');
  const deployment = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: edge, namespace: edge}
spec:
  selector: {matchLabels: {app: edge-gw}}
  template:
    metadata: {labels: {app: edge-gw}}
    spec: {containers: [{name: istio-proxy, image: proxyv2}]}
`;
  const inEdge = gateway('web-cert', 'app: edge-gw') + deployment + secret('edge', 'web-cert', { 'tls.crt': valid.crt, 'tls.key': valid.key });
  assert.deepEqual(codesAt((await validateText(inEdge, { analyzers })).findings), []);
  const elsewhere = inEdge.replace('metadata: {name: web-cert, namespace: edge}', 'metadata: {name: web-cert, namespace: default}');
  assert.deepEqual(codesAt((await validateText(elsewhere, { analyzers })).findings), ['IST0101@11']);
});

test('credentialProblem: a certificate not yet valid, and an empty PEM block, are problems', async () => {
  const { credentialProblem } = await import('../../../../src/lib/policy/analyzers/gateway-secret.js');
  const valid = await corpusData('gateway-secrets.yaml', 'httpbin-credential');
  const r = await validateText(secret('istio-system', 'c', { 'tls.crt': valid.crt, 'tls.key': valid.key }), { analyzers: [] });
  const resource = r.resources[0]!;
  assert.equal(credentialProblem(resource), undefined);
  assert.match(credentialProblem(resource, Date.parse('2020-01-01T00:00:00Z'))!, /not valid before 2023-03-14/);
  const empty = Buffer.from('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n').toString('base64');
  const r2 = await validateText(secret('istio-system', 'c', { 'tls.crt': empty, 'tls.key': valid.key }), { analyzers: [] });
  assert.match(credentialProblem(r2.resources[0]!)!, /empty certificate/);
});
