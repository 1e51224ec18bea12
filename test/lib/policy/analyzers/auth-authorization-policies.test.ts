import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['auth.AuthorizationPoliciesAnalyzer'];

const namespace = (name: string, labels = 'istio-injection: enabled') => `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
  labels: {${labels}}
`;

const deployment = (ns: string, labels: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  selector: {matchLabels: {${labels}}}
  template:
    metadata:
      labels: {${labels}}
    spec:
      containers: [{name: web, image: web:1}]
`;

const policy = (ns: string, selector: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-web
  namespace: ${ns}
spec:
  selector:
    matchLabels:
      ${selector}
  action: ALLOW
`;

test('a policy whose selector matches no meshed workload is IST0127 at its matchLabels', async () => {
  const text = [namespace('shop'), deployment('shop', 'app: web'), policy('shop', 'app: api')].join('---\n');
  const r = await validateText(text, { analyzers });
  // matchLabels is line 8 of the policy, line 25 of the file.
  assert.deepEqual(codesAt(r.findings), ['IST0127@25']);
  assert.equal(r.findings[0]!.severity, 'warning');
  assert.match(r.findings[0]!.message, /app=api/);
});

test("a Deployment's pod template satisfies the selector when its pods get a sidecar", async () => {
  const text = [namespace('shop'), deployment('shop', 'app: web'), policy('shop', 'app: web')].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), []);
  // Without injection in the namespace (and no sidecar), the Deployment is outside the mesh.
  const outside = [namespace('shop', 'team: a'), deployment('shop', 'app: web'), policy('shop', 'app: web')].join('---\n');
  assert.deepEqual(codesAt((await validateText(outside, { analyzers })).findings, 'IST0127'), ['IST0127@25']);
});

test('a WorkloadEntry satisfies the selector too', async () => {
  const we = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: shop}
spec:
  address: 10.0.0.7
  labels: {app: api}
`;
  const text = [we, policy('shop', 'app: api')].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), []);
});

test('with no workload in the input at all, selectors are not judged', async () => {
  assert.deepEqual(codesAt((await validateText(policy('shop', 'app: api'), { analyzers })).findings), []);
});

test('a source namespace pattern matching no namespace is IST0101 at that entry', async () => {
  const ap = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: from-front, namespace: shop}
spec:
  rules:
  - from:
    - source:
        namespaces: ["front*", "*-ops"]
    - source:
        notNamespaces:
        - legacy
`;
  const text = [namespace('shop'), namespace('frontend'), ap].join('---\n');
  const r = await validateText(text, { analyzers });
  // "*-ops" (file line 20) and "legacy" (line 23) match no namespace; "front*" matches frontend.
  assert.deepEqual(codesAt(r.findings, 'IST0101'), ['IST0101@20', 'IST0101@23']);
  assert.equal(r.findings.find((f) => f.code === 'IST0101')!.path, '/spec/rules/0/from/0/source/namespaces/1');
});

test('policies bound by targetRefs are not checked against workloads', async () => {
  const ap = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: waypoint, namespace: shop}
spec:
  targetRefs:
  - {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}
`;
  const text = [namespace('shop'), deployment('other', 'app: web'), ap].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), []);
});
