import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['virtualservice.JWTClaimRouteAnalyzer'];

function lineOf(text: string, marker: string): number {
  const lines = text.split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(marker) ? [i + 1] : []));
  assert.equal(hits.length, 1, `marker ${marker} must be unique`);
  return hits[0]!;
}

const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: shop}
spec:
  hosts: [api.example.com]
  gateways: [edge/public]
  http:
  - match:
    - headers:
        "@request.auth.claims.group":
          exact: admins
    route:
    - destination: {host: api}
`;

const gateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec:
  selector: {app: edge-gw}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*/api.example.com"]
`;

const pod = `apiVersion: v1
kind: Pod
metadata:
  name: edge-gw-1
  namespace: edge
  labels: {app: edge-gw}
spec:
  containers: [{name: istio-proxy, image: proxyv2}]
`;

const requestAuth = (ns: string, app: string) => `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: ${ns}}
spec:
  selector:
    matchLabels: {app: ${app}}
  jwtRules:
  - issuer: https://issuer.example.com
`;

test('routing on a JWT claim through a gateway whose pods have no RequestAuthentication is IST0149 at the claim header', async () => {
  const text = [vs, gateway, pod].join('---\n');
  const r = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(r.findings), [`IST0149@${lineOf(text, '@request.auth.claims.group')}`]);
  assert.match(r.findings[0]!.message, /edge\/edge-gw-1/);
});

test('a RequestAuthentication selecting the gateway pod, in its namespace or the root namespace, clears it', async () => {
  assert.deepEqual(codesAt((await validateText([vs, gateway, pod, requestAuth('edge', 'edge-gw')].join('---\n'), { analyzers })).findings), []);
  assert.deepEqual(codesAt((await validateText([vs, gateway, pod, requestAuth('istio-system', 'edge-gw')].join('---\n'), { analyzers })).findings), []);
});

test('a RequestAuthentication in another namespace, or selecting other pods, does not apply', async () => {
  assert.equal((await validateText([vs, gateway, pod, requestAuth('shop', 'edge-gw')].join('---\n'), { analyzers })).findings.length, 1);
  assert.equal((await validateText([vs, gateway, pod, requestAuth('edge', 'other')].join('---\n'), { analyzers })).findings.length, 1);
});

test('exportTo: a VirtualService kept to its namespace is still checked against the gateway it binds', async () => {
  const scoped = vs.replace('spec:\n', 'spec:\n  exportTo: ["."]\n');
  const text = [scoped, gateway, pod].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), [`IST0149@${lineOf(text, '@request.auth.claims.group')}`]);
});
