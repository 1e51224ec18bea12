import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['gateway.ConflictingGatewayAnalyzer'];

const gateway = (name: string, selector: string, host: string, extra = '') => `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}}
spec:
  selector: {${selector}}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}${extra}
    hosts:
    - ${host}
`;

test('two Gateways binding one host and port on the same selector are IST0145 at the host', async () => {
  const r = await validateText(gateway('a', 'istio: ingressgateway', 'shop.example.com') + gateway('b', 'istio: ingressgateway', 'shop.example.com'), { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0145@10', 'IST0145@20']);
  assert.match(r.findings[0]!.message, /host shop\.example\.com on port 80 .* Gateway default\/b/);
});

test('other hosts, or another bind address, are no conflict', async () => {
  const hosts = gateway('a', 'istio: ingressgateway', 'a.example.com') + gateway('b', 'istio: ingressgateway', 'b.example.com');
  assert.deepEqual(codesAt((await validateText(hosts, { analyzers })).findings), []);
  const bind = gateway('a', 'istio: ingressgateway', 'shop.example.com', '\n    bind: 10.0.0.1') + gateway('b', 'istio: ingressgateway', 'shop.example.com');
  assert.deepEqual(codesAt((await validateText(bind, { analyzers })).findings), []);
});

test('a narrower selector conflicts when a Deployment in the inputs runs under both', async () => {
  const text = gateway('a', 'istio: ingressgateway', 'shop.example.com') + gateway('b', 'istio: ingressgateway, tier: edge', 'shop.example.com');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), []);
  const deployment = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: edge}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata: {labels: {istio: ingressgateway, tier: edge}}
    spec: {containers: [{name: istio-proxy, image: proxyv2}]}
`;
  assert.deepEqual(codesAt((await validateText(text + deployment, { analyzers })).findings), ['IST0145@10', 'IST0145@20']);
});

test('a Gateway without servers whose selector no other Gateway serves is IST0101 at the selector, once per run', async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: empty}
spec:
  selector:
    istio: ingresstypo
`;
  const alone = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(alone.findings), ['IST0101@6']);
  assert.match(alone.findings[0]!.message, /no servers/);
  const all = ['gateway.ConflictingGatewayAnalyzer', 'gateway.IngressGatewayPortAnalyzer', 'gateway.SecretAnalyzer'];
  const full = await validateText(text, { analyzers: all, assumeIngressGateway: true });
  assert.deepEqual(codesAt(full.findings), ['IST0101@6']);
  assert.match(full.findings[0]!.message, /selects no workload/);
});
