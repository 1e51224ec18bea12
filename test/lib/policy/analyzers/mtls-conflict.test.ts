import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const run = (text: string) => validateText(text, { analyzers: ['meshctl.MtlsConflict'] });

const pa = (name: string, namespace: string, body: string) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
${body}`;

const reviews = `apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: shop
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 8080}
`;

test('mesh-wide STRICT and a DestinationRule that disables TLS conflict', async () => {
  const r = await run(`${pa('default', 'istio-system', '  mtls: {mode: STRICT}\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: shop
spec:
  host: reviews
  trafficPolicy:
    tls:
      mode: DISABLE
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2007@18']);
  assert.equal(r.findings[0]!.severity, 'error');
  assert.equal(
    r.findings[0]!.message,
    'DestinationRule reviews disables TLS for reviews, but PeerAuthentication istio-system/default requires mutual TLS (STRICT) there, so requests from clients will fail; remove the DISABLE or use ISTIO_MUTUAL.',
  );
});

test('namespace-wide STRICT conflicts with a port-level DISABLE', async () => {
  const r = await run(`${pa('strict', 'shop', '  mtls: {mode: STRICT}\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: shop
spec:
  host: reviews.shop.svc.cluster.local
  trafficPolicy:
    portLevelSettings:
    - port: {number: 9080}
      tls: {mode: DISABLE}
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2007@19']);
  assert.match(r.findings[0]!.message, /disables TLS for port 9080 of reviews\.shop\.svc\.cluster\.local, but PeerAuthentication shop\/strict/);
});

test('a workload policy\'s port-level STRICT reaches a subset through the Service\'s targetPort', async () => {
  const r = await run(`${pa('reviews-v1', 'shop', `  selector:
    matchLabels: {app: reviews, version: v1}
  mtls: {mode: PERMISSIVE}
  portLevelMtls:
    8080: {mode: STRICT}
`)}---\n${reviews}---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v1
  namespace: shop
spec:
  template:
    metadata:
      labels: {app: reviews, version: v1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: shop
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      tls: {mode: DISABLE}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      tls: {mode: DISABLE}
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2007@44']);
  assert.match(r.findings[0]!.message, /subset v1 of reviews, but PeerAuthentication shop\/reviews-v1 requires mutual TLS \(STRICT\) on port 8080/);
});

test('overridden, permissive, external and mutual-TLS settings have no finding', async () => {
  const r = await run(`${pa('default', 'istio-system', '  mtls: {mode: STRICT}\n')}---
${pa('shop', 'shop', '  mtls: {mode: PERMISSIVE}\n')}---
${pa('legacy', 'legacy', `  selector:
    matchLabels: {app: old}
  mtls: {mode: DISABLE}
`)}---\n${reviews}---
apiVersion: v1
kind: Service
metadata:
  name: old
  namespace: legacy
spec:
  selector: {app: old}
  ports: [{port: 80}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: shop
spec:
  host: reviews
  trafficPolicy:
    tls: {mode: DISABLE}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: old
  namespace: legacy
spec:
  host: old
  trafficPolicy:
    tls: {mode: DISABLE}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: external
  namespace: shop
spec:
  host: api.example.com
  trafficPolicy:
    tls: {mode: DISABLE}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
  namespace: legacy
spec:
  host: ratings
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
`);
  assert.deepEqual(codesAt(r.findings), []);
});
