import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { validateText, codesAt } from '../../../support/policy.js';
import { SHARED } from '../../../support/shared.js';

const analyzers = ['gateway.IngressGatewayPortAnalyzer'];
const testdata = path.join(SHARED, 'conformance', 'istio-analyze', 'testdata');

const gateway = (selector: string, port: number) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web}
spec:
  selector:
    ${selector}
  servers:
  - port:
      number: ${port}
      name: http
      protocol: HTTP
    hosts: ["*"]
`;

test('a Gateway selecting no workload is IST0101 at the selector line (integration-pilot gateway.yaml:9)', async () => {
  const text = await fs.readFile(path.join(testdata, 'integration-pilot', 'gateway.yaml'), 'utf8');
  const r = await validateText(text, { analyzers, assumeIngressGateway: true }, 'gateway.yaml');
  assert.deepEqual(codesAt(r.findings), ['IST0101@9']);
  assert.match(r.findings[0]!.message, /istio: ingresstypo/);
});

test('without any modelled workload the selector is not judged (files carry no gateway pods)', async () => {
  const text = await fs.readFile(path.join(testdata, 'istioctl-analyze-cmd', 'public-gateway.yaml'), 'utf8');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), []);
  // Application Deployments beside a Gateway for an ingress gateway installed elsewhere stay quiet too.
  const app = `${gateway('istio: ingressgateway', 80)}---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews}
spec:
  selector: {matchLabels: {app: reviews}}
  template:
    metadata: {labels: {app: reviews}}
    spec: {containers: [{name: reviews, image: reviews}]}
`;
  assert.deepEqual(codesAt((await validateText(app, { analyzers })).findings), []);
});

test('a server port no Service exposes is IST0162 at the port number; an exposed one is fine', async () => {
  const r = await validateText(gateway('istio: ingressgateway', 8004), { analyzers, assumeIngressGateway: true });
  assert.deepEqual(codesAt(r.findings), ['IST0162@9']);
  assert.match(r.findings[0]!.message, /port 8004/);
  // 80 is a port of the modelled ingress gateway Service, 8443 the targetPort of its 443.
  assert.deepEqual(codesAt((await validateText(gateway('istio: ingressgateway', 80), { analyzers, assumeIngressGateway: true })).findings), []);
  assert.deepEqual(codesAt((await validateText(gateway('istio: ingressgateway', 8443), { analyzers, assumeIngressGateway: true })).findings), []);
});

test('a Deployment pod template satisfies the selector, and its named container port resolves a targetPort', async () => {
  const workload = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: edge, namespace: edge}
spec:
  selector: {matchLabels: {app: edge-gw}}
  template:
    metadata: {labels: {app: edge-gw}}
    spec:
      containers:
      - name: istio-proxy
        image: proxyv2
        ports: [{name: https-alt, containerPort: 9443}]
---
apiVersion: v1
kind: Service
metadata: {name: edge, namespace: edge}
spec:
  selector: {app: edge-gw}
  ports:
  - {name: https, port: 443, targetPort: https-alt}
`;
  const ok = await validateText(gateway('app: edge-gw', 9443) + workload, { analyzers });
  assert.deepEqual(codesAt(ok.findings), []);
  const bad = await validateText(gateway('app: edge-gw', 8080) + workload, { analyzers });
  assert.deepEqual(codesAt(bad.findings), ['IST0162@9']);
  const typo = await validateText(gateway('app: edge-gateway', 443) + workload, { analyzers });
  assert.deepEqual(codesAt(typo.findings), ['IST0101@6']);
});
