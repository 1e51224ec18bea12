import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const run = (text: string) => validateText(text, { analyzers: ['meshctl.MirrorToSelf'] });

const vs = (http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts: [reviews]
  http:
${http}`;

test('mirroring to the route\'s own host and subset is a warning at the mirror', async () => {
  const r = await run(vs(`  - route:
    - destination: {host: reviews, subset: v1}
      weight: 90
    - destination: {host: reviews, subset: v2}
      weight: 10
    mirror:
      host: reviews.shop.svc.cluster.local
      subset: v2
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2010@14']);
  assert.equal(r.findings[0]!.severity, 'warning');
  assert.equal(
    r.findings[0]!.message,
    'Route 0 of VirtualService reviews mirrors traffic to reviews.shop.svc.cluster.local (subset v2), which is already one of its destinations, so those pods serve requests twice; mirror to a different host or subset.',
  );
});

test('each entry of mirrors[] is checked', async () => {
  const r = await run(vs(`  - route:
    - destination: {host: reviews}
    mirrors:
    - destination: {host: recorder}
    - destination: {host: reviews}
      percentage: {value: 5}
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2010@13']);
});

test('mirrors to another subset or host, or at 0%, have no finding', async () => {
  const r = await run(vs(`  - match: [{uri: {prefix: /a}}]
    route:
    - destination: {host: reviews, subset: v1}
    mirror: {host: reviews, subset: v2}
  - match: [{uri: {prefix: /b}}]
    route:
    - destination: {host: reviews}
    mirror: {host: reviews.other.svc.cluster.local}
  - route:
    - destination: {host: reviews}
    mirror: {host: reviews}
    mirrorPercentage: {value: 0}
`));
  assert.deepEqual(codesAt(r.findings), []);
});
