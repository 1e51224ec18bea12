import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const run = (text: string) => validateText(text, { analyzers: ['meshctl.Durations'] });

test('a timeout without a unit is an error at the field', async () => {
  const r = await run(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    timeout: "10"
    retries:
      attempts: 3
      perTryTimeout: 2 sec
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2006@10', 'MSH2006@13']);
  assert.equal(r.findings[0]!.severity, 'error');
  assert.equal(r.findings[0]!.message, 'VirtualService reviews sets spec.http[0].timeout to "10", which is not a duration; add a unit, e.g. "10s" for seconds.');
  assert.match(r.findings[1]!.message, /perTryTimeout to "2 sec", which is not a duration; write "2s"/);
});

test('numbers, days, zero and sub-millisecond values in DestinationRules are errors', async () => {
  const r = await run(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp:
        connectTimeout: 30
        idleTimeout: 0s
    outlierDetection:
      interval: 1d
      baseEjectionTime: 0s
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      portLevelSettings:
      - port: {number: 9080}
        connectionPool:
          http:
            idleTimeout: 1500us
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2006@10', 'MSH2006@13', 'MSH2006@14', 'MSH2006@23']);
  const [number, days, zero, fine] = r.findings.map((f) => f.message);
  assert.match(number!, /connectTimeout to the number 30, but a duration is a string with a unit; write "30s"/);
  assert.match(days!, /there is no day unit; write "24h"/);
  assert.match(zero!, /below Istio's minimum of 1ms/);
  assert.match(fine!, /spec\.subsets\[0\]\.trafficPolicy\.portLevelSettings\[0\]\.connectionPool\.http\.idleTimeout to "1500us", finer than the whole milliseconds Istio accepts here; round it, e.g. to "2ms"/);
});

test('Sidecar and RequestAuthentication durations are checked too', async () => {
  const r = await run(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
spec:
  inboundConnectionPool:
    http:
      http2KeepAlive:
        interval: 5 m
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt
spec:
  jwtRules:
  - issuer: https://example.com
    timeout: -5s
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2006@9', 'MSH2006@18']);
  assert.match(r.findings[0]!.message, /remove the spaces: "5m"/);
  assert.match(r.findings[1]!.message, /negative/);
});

test('well-formed durations have no finding', async () => {
  const r = await run(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    timeout: 1.5s
    retries: {attempts: 2, perTryTimeout: 500ms}
    fault:
      delay: {fixedDelay: 1h2m, percentage: {value: 10}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {connectTimeout: 250ms, idleTimeout: 0s, tcpKeepalive: {time: 2h, interval: 75s}}
    loadBalancer:
      consistentHash:
        httpCookie: {name: user, ttl: 0s}
    outlierDetection: {interval: 10s, baseEjectionTime: 3m}
`);
  assert.deepEqual(codesAt(r.findings), []);
});
