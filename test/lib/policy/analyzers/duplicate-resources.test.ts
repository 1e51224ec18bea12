import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateSources } from '../../../../src/lib/policy/validate.js';
import { validateText, codesAt, source } from '../../../support/policy.js';

const analyzers = ['meshctl.DuplicateResources'];

const svc = (name: string, extra = '') => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
${extra}spec:
  ports: [{port: 80}]
`;

test('a resource defined twice is an error on the second, naming where the first is', async () => {
  const r = await validateText(`${svc('reviews')}---\n${svc('ratings')}---\n${svc('reviews', '  namespace: default\n')}`, { analyzers });
  assert.deepEqual(codesAt(r.findings), ['MSH1012@18']);
  assert.equal(r.findings[0]!.severity, 'error');
  assert.equal(r.findings[0]!.message, 'Service default/reviews is already defined at policy.yaml:4; keep one definition, since applying both leaves only the later one.');
});

test('duplicates across files and API versions of one kind are found', async () => {
  const vs = (version: string) => `apiVersion: networking.istio.io/${version}
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
`;
  const r = await validateSources([source(vs('v1'), 'a.yaml'), source(`${svc('x')}---\n${vs('v1beta1')}`, 'b.yaml')], { analyzers });
  assert.deepEqual(r.findings.map((f) => `${f.file}:${f.line}`), ['b.yaml:11']);
  assert.match(r.findings[0]!.message, /^VirtualService default\/reviews is already defined at a\.yaml:4;/);
});

test('the same name in another namespace or of another kind has no finding', async () => {
  const r = await validateText(
    `${svc('reviews')}---\n${svc('reviews', '  namespace: shop\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: reviews
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: reviews
`,
    { analyzers },
  );
  assert.deepEqual(codesAt(r.findings), []);
});
