import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const run = (text: string) => validateText(text, { analyzers: ['meshctl.ShadowedRoutes'] });

const vs = (body: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
${body}`;

test('a route after a route without match is unreachable', async () => {
  const r = await run(vs(`  http:
  - route:
    - destination: {host: reviews, subset: v1}
  - match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews, subset: v2}
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2003@10']);
  assert.equal(r.findings[0]!.severity, 'warning');
  assert.match(r.findings[0]!.message, /^Route 1 of VirtualService reviews can never be reached because route 0 comes first and it has no match/);
});

test('a prefix "/" match among others makes the route a catch-all', async () => {
  const r = await run(vs(`  http:
  - match:
    - uri: {prefix: /api}
    route:
    - destination: {host: reviews}
  - name: everything
    match:
    - uri: {exact: /healthz}
    - uri: {prefix: /}
    route:
    - destination: {host: reviews, subset: v1}
  - name: late
    match:
    - uri: {prefix: /admin}
    route:
    - destination: {host: reviews, subset: v2}
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2003@18']);
  assert.match(r.findings[0]!.message, /route 1 \("everything"\) comes first and its match 1 \(prefix \/\) takes every request/);
});

test('a second match-less route and exact duplicates are left to IST0130', async () => {
  const r = await run(vs(`  http:
  - match:
    - uri: {prefix: /}
    route:
    - destination: {host: reviews}
  - match:
    - uri: {prefix: /}
    route:
    - destination: {host: reviews, subset: v1}
  - route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v3}
`));
  // Route 1 duplicates route 0's match and route 3 is a second match-less route: Istio reports both.
  // Route 2 is the first match-less route, shadowed by route 0's prefix "/": only meshctl sees it.
  assert.deepEqual(codesAt(r.findings), ['MSH2003@16']);
});

test('on a gateway catch-all routes go last, so later specific routes are reachable', async () => {
  const r = await run(vs(`  gateways: [bookinfo-gateway]
  http:
  - route:
    - destination: {host: reviews}
  - match:
    - uri: {prefix: /api}
    route:
    - destination: {host: reviews, subset: v2}
  - match:
    - uri: {prefix: /}
    route:
    - destination: {host: reviews, subset: v3}
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2003@15']);
});

test('specific routes before a final catch-all have no finding', async () => {
  const r = await run(vs(`  http:
  - match:
    - uri: {prefix: /}
      headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews, subset: v2}
  - match:
    - uri: {prefix: /}
      ignoreUriCase: true
    route:
    - destination: {host: reviews, subset: v1}
`));
  assert.deepEqual(codesAt(r.findings), []);
});
