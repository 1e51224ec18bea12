import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['k8sgateway.SelectorAnalyzer'];

const k8sGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP}]
`;

const policy = (ref: string) => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: gw-allow}
spec:
${ref}
  action: ALLOW
  rules: [{}]
`;

test('a policy selecting the pods Istio deploys for a Kubernetes Gateway is IST0166 at the selector', async () => {
  const text = k8sGateway + policy('  selector:\n    matchLabels: {gateway.networking.k8s.io/gateway-name: bookinfo-gateway}');
  const r = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0166@12']);
  assert.match(r.findings[0]!.message, /targetRefs/);
});

test('targetRefs, or a selector of other pods, is fine', async () => {
  const refs = k8sGateway + policy('  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: bookinfo-gateway}');
  assert.deepEqual(codesAt((await validateText(refs, { analyzers })).findings), []);
  const other = k8sGateway + policy('  selector:\n    matchLabels: {app: reviews}');
  assert.deepEqual(codesAt((await validateText(other, { analyzers })).findings), []);
});

test('a Deployment whose pods carry the gateway-name label counts as the Gateway\'s pods', async () => {
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: edge-istio}
spec:
  template:
    metadata: {labels: {gateway.networking.k8s.io/gateway-name: edge, app: edge}}
    spec: {containers: [{name: istio-proxy, image: proxyv2}]}
`;
  const r = await validateText(deployment + policy('  selector:\n    matchLabels: {app: edge}'), { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0166@13']);
  assert.match(r.findings[0]!.message, /Kubernetes Gateway edge/);
});
