import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const run = (text: string) => validateText(text, { analyzers: ['meshctl.UnmatchedAbort'] });

const vs = (http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts: [ratings]
  http:
${http}`;

test('a 100% abort without a match is a warning at the percentage', async () => {
  const r = await run(vs(`  - fault:
      abort:
        httpStatus: 503
        percentage:
          value: 100
    route:
    - destination: {host: ratings}
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2009@12']);
  assert.equal(r.findings[0]!.severity, 'warning');
  assert.equal(
    r.findings[0]!.message,
    'Route 0 of VirtualService ratings has no match and aborts 100% of requests with HTTP 503, so every request to ratings fails; add a match (for example on a test header) or lower the percentage.',
  );
});

test('a prefix "/" match takes every request too', async () => {
  const r = await run(vs(`  - match:
    - uri: {prefix: /}
    fault:
      abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100.0}}
    route:
    - destination: {host: ratings}
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2009@11']);
  assert.match(r.findings[0]!.message, /has a match that takes every request and aborts 100% of requests with gRPC UNAVAILABLE/);
});

test('after other routes, it fails the requests they leave', async () => {
  const r = await run(vs(`  - match: [{uri: {prefix: /health}}]
    route:
    - destination: {host: ratings}
  - fault:
      abort: {httpStatus: 500, percentage: {value: 100}}
    route:
    - destination: {host: ratings}
`));
  assert.deepEqual(codesAt(r.findings), ['MSH2009@12']);
  assert.match(r.findings[0]!.message, /so every request to ratings that no earlier route takes fails;/);
});

test('matched, partial and percentage-less aborts have no finding', async () => {
  const r = await run(vs(`  - match:
    - headers:
        end-user: {exact: jason}
    fault:
      abort: {httpStatus: 500, percentage: {value: 100}}
    route:
    - destination: {host: ratings}
  - fault:
      abort: {httpStatus: 500, percentage: {value: 10}}
    route:
    - destination: {host: ratings}
  - fault:
      abort: {httpStatus: 500}
    route:
    - destination: {host: ratings}
`));
  assert.deepEqual(codesAt(r.findings), []);
});
