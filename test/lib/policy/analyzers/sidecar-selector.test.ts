import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['sidecar.SelectorAnalyzer'];

const sidecar = (name: string, labels?: string) => `---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ${name}, namespace: shop}
spec:${labels ? `\n  workloadSelector:\n    labels:\n      ${labels}` : ''}
  egress:
  - hosts: ["./*"]
`;

const deployment = (name: string, labels: string, ns = 'shop') => `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  template:
    metadata: {labels: {${labels}}}
    spec: {containers: [{name: ${name}, image: ${name}}]}
`;

test('a workloadSelector that selects nothing in its namespace is IST0101 at the label', async () => {
  const r = await validateText(sidecar('cart', 'app: kart') + deployment('cart', 'app: cart'), { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0101@8']);
  assert.match(r.findings[0]!.message, /app: kart/);
});

test('a Deployment pod template satisfies the selector; a namespace without modelled workloads is not judged', async () => {
  assert.deepEqual(codesAt((await validateText(sidecar('cart', 'app: cart') + deployment('cart', 'app: cart'), { analyzers })).findings), []);
  assert.deepEqual(codesAt((await validateText(sidecar('cart', 'app: cart') + deployment('cart', 'app: cart', 'other'), { analyzers })).findings), []);
});

test('two Sidecars selecting one workload are IST0110; two without a selector are IST0111', async () => {
  const overlap = sidecar('a', 'app: cart') + sidecar('b', 'app: cart') + deployment('cart', 'app: cart');
  const r = await validateText(overlap, { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0110@7', 'IST0110@17']);
  assert.match(r.findings[0]!.message, /Deployment shop\/cart/);
  assert.deepEqual(codesAt((await validateText(sidecar('a') + sidecar('b'), { analyzers })).findings), ['IST0111@5', 'IST0111@12']);
  assert.deepEqual(codesAt((await validateText(sidecar('a'), { analyzers })).findings), []);
});

test('a Sidecar in an ambient namespace is IST0167', async () => {
  const ns = `---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio.io/dataplane-mode: ambient}
`;
  assert.deepEqual(codesAt((await validateText(sidecar('a') + ns, { analyzers })).findings), ['IST0167@5']);
});

test('a WorkloadEntry satisfies a workloadSelector', async () => {
  const entry = `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: shop}
spec:
  address: 10.0.0.7
  labels: {app: legacy}
`;
  assert.deepEqual(codesAt((await validateText(sidecar('legacy', 'app: legacy') + entry, { analyzers })).findings), []);
  assert.deepEqual(codesAt((await validateText(sidecar('legacy', 'app: legacy-typo') + entry, { analyzers })).findings), ['IST0101@8']);
});
