import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const run = (text: string) => validateText(text, { analyzers: ['meshctl.RetryBudget'] });

const vs = (http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts: [ratings]
  http:
${http}`;

test('retries longer than the route timeout are a warning naming the numbers', async () => {
  const r = await run(vs(`  - route:
    - destination: {host: ratings}
    timeout: 5s
    retries:
      attempts: 3
      perTryTimeout: 2s
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2005@11']);
  assert.equal(r.findings[0]!.severity, 'warning');
  assert.equal(
    r.findings[0]!.message,
    'Route 0 of VirtualService ratings allows 3 retries × 2s per try = 6s, more than its 5s timeout, so the later retries are cut off; raise the timeout to at least 6s or lower attempts or perTryTimeout.',
  );
});

test('mixed units compare by value', async () => {
  const r = await run(vs(`  - match: [{uri: {prefix: /a}}]
    route:
    - destination: {host: ratings}
    timeout: 1s
  - name: slow
    route:
    - destination: {host: ratings}
    timeout: 1m
    retries: {attempts: 5, perTryTimeout: 12500ms}
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2005@16']);
  assert.match(r.findings[0]!.message, /^Route 1 \("slow"\) of VirtualService ratings allows 5 retries × 12\.5s per try = 1m2\.5s, more than its 1m timeout/);
});

test('retries within the timeout, without a timeout, or disabled have no finding', async () => {
  const r = await run(vs(`  - match: [{uri: {prefix: /a}}]
    route:
    - destination: {host: ratings}
    timeout: 10s
    retries: {attempts: 3, perTryTimeout: 2s}
  - match: [{uri: {prefix: /b}}]
    route:
    - destination: {host: ratings}
    retries: {attempts: 10, perTryTimeout: 30s}
  - match: [{uri: {prefix: /c}}]
    route:
    - destination: {host: ratings}
    timeout: 1s
    retries: {attempts: 0}
  - route:
    - destination: {host: ratings}
    timeout: 6s
    retries: {attempts: 3, perTryTimeout: 2s}
`));
  assert.deepEqual(codesAt(r.findings), []);
});
