import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['service.PortNameAnalyzer'];

test('a port name without a protocol prefix is IST0118, at info level, at the name', async () => {
  const text = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
  - name: http-web
    port: 80
  - name: web
    port: 8080
  - name: anything
    port: 8443
    appProtocol: https
`;
  const r = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0118@9']);
  assert.equal(r.findings[0]!.severity, 'info');
});

test('an ExternalName Service port named tcp or without a protocol is IST0150', async () => {
  const text = `apiVersion: v1
kind: Service
metadata: {name: upstream}
spec:
  type: ExternalName
  externalName: api.example.com
  ports:
  - name: tcp
    port: 443
  - name: https
    port: 8443
`;
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), ['IST0150@8']);
});

test('named ports, system namespaces and gateway-managed Services give no finding', async () => {
  const text = `apiVersion: v1
kind: Service
metadata: {name: dns, namespace: kube-system}
spec:
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: gw-istio
  labels: {gateway.istio.io/managed: istio.io-gateway-controller}
spec:
  ports: [{name: default, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  ports: [{name: mysql, port: 3306}, {port: 27017}, {name: grpc-web-ui, port: 9000}]
`;
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), []);
});
