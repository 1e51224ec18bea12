import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const run = (text: string, namespace?: string) => validateText(text, { analyzers: ['meshctl.AllowWithoutRules'], namespace });

test('spec: {} is allow-nothing for the whole namespace', async () => {
  const r = await run(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
  namespace: shop
spec: {}
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2008@6']);
  assert.equal(r.findings[0]!.severity, 'warning');
  assert.equal(
    r.findings[0]!.message,
    "AuthorizationPolicy allow-nothing allows with no rules, so every request to every workload in namespace shop is denied (Istio's allow-nothing pattern); add rules if that is not intended.",
  );
});

test('an explicit ALLOW with an empty rule list names the selected workloads', async () => {
  const r = await run(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  action: ALLOW
  rules: []
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2008@9']);
  assert.match(r.findings[0]!.message, /every request to workloads labelled app=web in namespace default is denied/);
});

test('in the root namespace it covers the whole mesh', async () => {
  const r = await run(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: mesh-lockdown
  namespace: istio-system
spec:
  action: ALLOW
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2008@6']);
  assert.match(r.findings[0]!.message, /every workload in the mesh/);
});

test('rules: [{}] allows everything, and DENY, CUSTOM and dry-run policies have no finding', async () => {
  const r = await run(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-all
spec:
  rules:
  - {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-all
spec:
  action: DENY
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: trial
  annotations:
    istio.io/dry-run: "true"
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reads
spec:
  selector:
    matchLabels: {app: web}
  rules:
  - to:
    - operation:
        methods: [GET]
`);
  assert.deepEqual(codesAt(r.findings), []);
});
