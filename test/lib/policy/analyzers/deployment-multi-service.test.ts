import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['deployment.MultiServiceAnalyzer'];

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: details, namespace: shop}
spec:
  selector: {matchLabels: {app: details}}
  template:
    metadata:
      labels: {app: details, sidecar.istio.io/inject: "true"}
    spec:
      containers: [{name: details, image: details:1}]
`;

const service = (name: string, port: number, protocol: string, targetPort = port) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  selector: {app: details}
  ports:
  - {name: ${protocol.toLowerCase()}, port: ${port}, targetPort: ${targetPort}, protocol: ${protocol}}
`;

test('two Services giving one port of a meshed Deployment different protocols is IST0116 at its template labels', async () => {
  const text = [deployment, service('details-tcp', 9080, 'TCP'), service('details-udp', 9080, 'UDP')].join('---\n');
  const r = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0116@8']);
  assert.match(r.findings[0]!.message, /Services shop\/details-tcp and shop\/details-udp, which give port 9080 different protocols \(TCP, UDP\)/);
});

test('two Services targeting one container port from different ports is IST0137', async () => {
  const text = [deployment, service('a', 80, 'TCP', 8080), service('b', 81, 'TCP', 8080)].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), ['IST0137@8']);
});

test('Services that agree on ports, or a Deployment outside the mesh, give no finding', async () => {
  const agree = [deployment, service('a', 9080, 'TCP'), service('b', 9080, 'TCP')].join('---\n');
  assert.deepEqual(codesAt((await validateText(agree, { analyzers })).findings), []);
  const outside = deployment.replace('sidecar.istio.io/inject: "true"', 'sidecar.istio.io/inject: "false"');
  const text = [outside, service('details-tcp', 9080, 'TCP'), service('details-udp', 9080, 'UDP')].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), []);
});
