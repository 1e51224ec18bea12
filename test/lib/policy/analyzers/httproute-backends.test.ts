import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const run = (text: string) => validateText(text, { analyzers: ['meshctl.HTTPRouteBackends'] });

const service = (name: string, namespace: string) => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  ports: [{port: 9080}]
`;

const route = (rules: string, kind = 'HTTPRoute') => `apiVersion: gateway.networking.k8s.io/v1
kind: ${kind}
metadata:
  name: bookinfo
  namespace: web
spec:
  parentRefs: [{name: gateway}]
  rules:
${rules}`;

test('a backendRef naming no Service is an error at its name', async () => {
  const r = await run(`${route(`  - backendRefs:
    - name: reviews
      port: 9080
    - name: reviewz
      port: 9080
`)}---\n${service('reviews', 'web')}`);
  assert.deepEqual(codesAt(r.findings), ['MSH2011@12']);
  assert.equal(r.findings[0]!.severity, 'error');
  assert.equal(r.findings[0]!.message, 'Rule 0 of HTTPRoute bookinfo sends traffic to Service web/reviewz (backendRefs[1]), which no input defines; fix the name or add the Service.');
});

test('a cross-namespace backendRef needs a ReferenceGrant in the target namespace', async () => {
  const r = await run(`${route(`  - backendRefs:
    - name: reviews
      namespace: shop
      port: 9080
`, 'GRPCRoute')}---\n${service('reviews', 'shop')}---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: from-web
  namespace: shop
spec:
  from:
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: web}
  to:
  - {group: "", kind: Service}
`);
  // The grant is for HTTPRoutes, not GRPCRoutes.
  assert.deepEqual(codesAt(r.findings), ['MSH2011@11']);
  assert.match(r.findings[0]!.message, /no ReferenceGrant there allows GRPCRoutes from namespace web; add a ReferenceGrant in shop from GRPCRoute in web to Service\.$/);
});

test('all-zero backend weights are an error at the first weight', async () => {
  const r = await run(`${route(`  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs:
    - name: reviews
      port: 9080
      weight: 0
    - name: reviews-v2
      port: 9080
      weight: 0
`)}---\n${service('reviews', 'web')}---\n${service('reviews-v2', 'web')}`);
  assert.deepEqual(codesAt(r.findings), ['MSH2012@13']);
  assert.equal(r.findings[0]!.severity, 'error');
});

test('existing Services, granted cross-namespace refs, default weights and other kinds have no finding', async () => {
  const r = await run(`${route(`  - backendRefs:
    - name: reviews
      port: 9080
    - name: ratings
      namespace: shop
      port: 9080
      weight: 0
    - group: networking.istio.io
      kind: Hostname
      name: example.com
`)}---\n${service('reviews', 'web')}---\n${service('ratings', 'shop')}---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: from-web
  namespace: shop
spec:
  from:
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: web}
  to:
  - {group: "", kind: Service, name: ratings}
`);
  assert.deepEqual(codesAt(r.findings), []);
});

test('a route bound to Services alone (GAMMA) needs no ReferenceGrant for a backend in another namespace; bound to a Gateway too, it does', async () => {
  const gamma = (parents: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop-view
  namespace: web
spec:
  parentRefs: ${parents}
  rules:
  - backendRefs:
    - name: reviews
      namespace: shop
      port: 9080
---
${service('reviews', 'shop')}`;
  const meshOnly = await run(gamma('[{group: "", kind: Service, name: reviews, namespace: shop}]'));
  assert.deepEqual(codesAt(meshOnly.findings), []);
  const withGateway = await run(gamma('[{group: "", kind: Service, name: reviews, namespace: shop}, {name: gateway}]'));
  assert.deepEqual(codesAt(withGateway.findings), ['MSH2011@11']);
});
