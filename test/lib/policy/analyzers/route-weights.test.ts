import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const run = (text: string) => validateText(text, { analyzers: ['meshctl.RouteWeights'] });

const vs = (routes: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
${routes}`;

test('weights summing to 110 are a warning at the route\'s first weight', async () => {
  const r = await run(vs(`  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 90
    - destination: {host: reviews, subset: v2}
      weight: 20
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2001@10']);
  assert.equal(r.findings[0]!.severity, 'warning');
  assert.equal(r.findings[0]!.message, 'Route 0 of VirtualService reviews sends 90% + 20% = 110% of traffic; make the weights sum to 100.');
});

test('a destination without a weight counts as 0 when there are several', async () => {
  const r = await run(vs(`  tcp:
  - route:
    - destination: {host: reviews, subset: v1}
    - destination: {host: reviews, subset: v2}
      weight: 50
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2001@11']);
  assert.match(r.findings[0]!.message, /^TCP route 0 of VirtualService reviews sends 0% \+ 50% = 50% of traffic \(a destination without a weight counts as 0%\)/);
});

test('all-zero weights over several destinations are an error', async () => {
  const r = await run(vs(`  http:
  - name: first
    route:
    - destination: {host: reviews}
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 0
    - destination: {host: reviews, subset: v2}
      weight: 0
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2002@13']);
  assert.equal(r.findings[0]!.severity, 'error');
});

test('a lone destination with a weight other than 100 is a warning', async () => {
  const r = await run(vs(`  tls:
  - match: [{sniHosts: [reviews]}]
    route:
    - destination: {host: reviews}
      weight: 30
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2001@11']);
});

test('valid splits, a lone destination without weight, and redirects have no finding', async () => {
  const r = await run(vs(`  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new}
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 75
    - destination: {host: reviews, subset: v2}
      weight: 25
  - route:
    - destination: {host: reviews}
  tcp:
  - route:
    - destination: {host: reviews}
      weight: 100
`));
  assert.deepEqual(codesAt(r.findings), []);
});
