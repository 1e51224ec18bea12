import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['destinationrule.SubsetSelectPodAnalyzer'];

const service = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
`;

const deployment = (version: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-${version}, namespace: shop}
spec:
  selector: {matchLabels: {app: reviews, version: ${version}}}
  template:
    metadata:
      labels: {app: reviews, version: ${version}}
    spec:
      containers: [{name: reviews, image: reviews:1}]
`;

const rule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v3
    labels:
      version: v3
`;

test('a subset whose labels select no workload is IST0173 at its labels', async () => {
  const text = [service, deployment('v1'), rule].join('---\n');
  const r = await validateText(text, { analyzers });
  // The v3 subset's labels are line 10 of the rule, line 28 of the file.
  assert.deepEqual(codesAt(r.findings), ['IST0173@28']);
  assert.equal(r.findings[0]!.severity, 'error');
  assert.match(r.findings[0]!.message, /Subset v3/);
});

test("Deployments' pod templates satisfy subsets; no finding when every subset has one", async () => {
  const text = [service, deployment('v1'), deployment('v3'), rule].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), []);
});

test('a host matching no Service or ServiceEntry is IST0174 at spec.host, once services are known', async () => {
  const other = service.replace('name: reviews', 'name: ratings');
  const text = [other, deployment('v1'), rule].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), ['IST0174@23']);
  // With no Service or ServiceEntry in the input, hosts can't be judged.
  assert.deepEqual(codesAt((await validateText([deployment('v1'), deployment('v3'), rule].join('---\n'), { analyzers })).findings), []);
});
