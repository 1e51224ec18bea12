import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const ANALYZER = ['deprecation.DeprecationAnalyzer'];

test('fault.delay.percent is deprecated in favour of percentage, at the field', async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: productpage
  namespace: foo
spec:
  hosts: [productpage]
  http:
  - route:
    - destination: {host: productpage}
  - fault:
      delay:
        percent: 50
        fixedDelay: 5s
    route:
    - destination: {host: productpage}
`;
  const r = await validateText(text, { analyzers: ANALYZER });
  assert.deepEqual(codesAt(r.findings), ['IST0002@13']);
  const f = r.findings[0]!;
  assert.equal(f.path, '/spec/http/1/fault/delay/percent');
  assert.equal(f.severity, 'warning');
  assert.equal(f.name, 'Deprecated');
  assert.match(f.message, /spec\.http\[1\]\.fault\.delay\.percent in VirtualService productpage is deprecated; use fault\.delay\.percentage\.value/);
});

test('a zero percent and the percentage field are not deprecated uses', async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a}
spec:
  hosts: [a]
  http:
  - fault:
      delay: {percent: 0, fixedDelay: 1s}
    route: [{destination: {host: a}}]
  - fault:
      delay: {percentage: {value: 10}, fixedDelay: 1s}
    route: [{destination: {host: a}}]
`;
  assert.deepEqual((await validateText(text, { analyzers: ANALYZER })).findings, []);
});

test("a Sidecar's outboundTrafficPolicy.egressProxy is reported as deprecated and ignored", async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: no-selector
  namespace: default
spec:
  egress:
  - hosts: ["./*"]
  outboundTrafficPolicy:
    mode: ALLOW_ANY
    egressProxy:
      host: example
      port:
        number: 9080
`;
  const r = await validateText(text, { analyzers: ANALYZER });
  assert.deepEqual(codesAt(r.findings), ['IST0002@11']);
  assert.equal(r.findings[0]!.path, '/spec/outboundTrafficPolicy/egressProxy');
});

test('CRDs of removed Istio RBAC kinds are reported; other CRDs are not', async () => {
  const crd = (group: string, kind: string) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${kind.toLowerCase()}s.${group}
spec:
  group: ${group}
  names:
    kind: ${kind}
    plural: ${kind.toLowerCase()}s
  scope: Namespaced
`;
  const text = `${crd('rbac.istio.io', 'ServiceRole')}---\n${crd('networking.istio.io', 'VirtualService')}`;
  const r = await validateText(text, { analyzers: ANALYZER });
  assert.deepEqual(codesAt(r.findings, 'IST0002'), ['IST0002@8']);
  assert.match(r.findings.find((f) => f.code === 'IST0002')!.message, /defines ServiceRole \(rbac\.istio\.io\), a type Istio removed/);
});

test('as in istioctl, old EnvoyFilter fields and Mixer kinds are not reported', async () => {
  const text = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: old
  namespace: istio-system
spec:
  workloadLabels:
    istio: egressgateway
---
apiVersion: config.istio.io/v1alpha2
kind: QuotaSpec
metadata:
  name: request-count
spec:
  rules: []
`;
  const r = await validateText(text, { analyzers: ANALYZER });
  assert.deepEqual(codesAt(r.findings, 'IST0002'), []);
});
