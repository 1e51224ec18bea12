import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const run = (text: string) => validateText(text, { analyzers: ['meshctl.NotEnforcedLocally'] });

test('each DestinationRule field the local mesh does not enforce is a warning at that field', async () => {
  const r = await run(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      simple: PASSTHROUGH
    tls: {mode: ISTIO_MUTUAL}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer:
        localityLbSetting: {enabled: true}
      tls: {mode: SIMPLE, credentialName: reviews-ca}
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2015@8', 'MSH2015@15', 'MSH2015@16']);
  assert.match(r.findings[2]!.message, /^subsets\[0\]\.trafficPolicy\.tls\.credentialName of DestinationRule shop\/reviews is not enforced by the local mesh \(the local mesh keeps no Secrets/);
  assert.equal(r.findings[0]!.severity, 'warning');
  assert.equal(
    r.findings[0]!.message,
    'trafficPolicy.loadBalancer.simple of DestinationRule shop/reviews is not enforced by the local mesh (the sidecar always balances over the pods it knows); it takes effect on Istio.',
  );
  assert.match(r.findings[1]!.message, /^subsets\[0\]\.trafficPolicy\.loadBalancer\.localityLbSetting of DestinationRule shop\/reviews/);
});

test('a whole EnvoyFilter is a warning at the resource, a CUSTOM AuthorizationPolicy at its action; enforced policy has none', async () => {
  const r = await run(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}, tls: {mode: ISTIO_MUTUAL}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-get}
spec:
  rules: [{to: [{operation: {methods: [GET]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-check}
spec:
  action: CUSTOM
  provider: {name: ext-authz}
  rules: [{to: [{operation: {paths: [/admin/*]}}], when: [{key: "request.auth.claims[group]", values: [admin]}]}]
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: local-ratelimit}
spec:
  configPatches: []
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2015@18', 'MSH2015@20', 'MSH2015@22']);
  assert.match(r.findings[0]!.message, /^action of AuthorizationPolicy default\/ext-check is not enforced by the local mesh \(CUSTOM needs an external authorizer, which the local mesh does not run; the requests it names are let through\); it takes effect on Istio\.$/);
  assert.match(r.findings[1]!.message, /^rules\[0\]\.when\[0\] of AuthorizationPolicy default\/ext-check is not enforced by the local mesh \(no JWT is validated without RequestAuthentication/);
  assert.match(r.findings[2]!.message, /^EnvoyFilter default\/local-ratelimit is not enforced by the local mesh/);
});

test('the same unenforced field in many resources of one file is one warning, at its first place, with the count', async () => {
  const policies = Array.from({ length: 250 }, (_, i) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-${i}}
spec:
  action: CUSTOM
  provider: {name: ext-authz}
  rules: [{to: [{operation: {methods: [GET]}}]}]
`).join('---\n');
  const routes = Array.from({ length: 3 }, (_, i) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web-${i}}
spec:
  hosts: [web-${i}]
  http:
  - route: [{destination: {host: web-${i}}}]
    corsPolicy: {allowOrigins: [{exact: "https://a.example"}]}
  - route: [{destination: {host: web-${i}}}]
    corsPolicy: {allowOrigins: [{exact: "https://b.example"}]}
`).join('---\n');
  const r = await run(`${policies}---\n${routes}`);
  assert.equal(r.findings.length, 2);
  assert.match(r.findings[0]!.message, /^action of AuthorizationPolicy default\/allow-0 is not enforced by the local mesh .*; it takes effect on Istio\. The same holds for 249 more AuthorizationPolicy resources in this file\.$/);
  assert.match(r.findings[1]!.message, /^http\[0\]\.corsPolicy of VirtualService default\/web-0 is not enforced .* The same holds for 2 more VirtualService resources in this file\.$/);
});

test('exportTo narrower than every namespace is a warning; exportTo "*" is enforced as written', async () => {
  const r = await run(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  exportTo: ["."]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  exportTo: ["*"]
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2015@6']);
  assert.match(r.findings[0]!.message, /^exportTo of VirtualService shop\/reviews is not enforced by the local mesh \(every local sidecar sees every VirtualService, whatever its namespace\)/);
});

test('a count past a thousand is written with a thousands separator', async () => {
  const policies = Array.from({ length: 1235 }, (_, i) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-${i}}
spec:
  action: CUSTOM
  provider: {name: ext-authz}
  rules: [{to: [{operation: {methods: [GET]}}]}]
`).join('---\n');
  const r = await run(policies);
  assert.equal(r.findings.length, 1);
  assert.match(r.findings[0]!.message, /^action of AuthorizationPolicy default\/allow-0 is not enforced .* The same holds for 1,234 more AuthorizationPolicy resources in this file\.$/);
});

test('a retryOn condition the sidecars cannot retry on is a warning; perTryTimeout and plain codes HAProxy retries on are not', async () => {
  const vs = (retryOn: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: shop}
spec:
  hosts: [ratings]
  http:
  - route: [{destination: {host: ratings}}]
    retries: {attempts: 2, perTryTimeout: 200ms, retryOn: "${retryOn}"}
`;
  assert.deepEqual(codesAt((await run(vs('gateway-error,reset,connect-failure,503'))).findings), []);
  // Envoy's 5xx covers 500-599; the sidecars retry on 500-504 alone, and say so.
  for (const retryOn of ['5xx', 'unavailable', 'retriable-4xx', 'retriable-headers', '429']) {
    const r = await run(vs(retryOn));
    assert.deepEqual(codesAt(r.findings), ['MSH2015@8'], retryOn);
    assert.match(r.findings[0]!.message, /^http\[0\]\.retries\.retryOn of VirtualService shop\/ratings is not enforced by the local mesh \(the sidecars retry on connect failures/);
  }
});
