import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const run = (text: string) => validateText(text, { analyzers: ['meshctl.DuplicateSubsets'] });

test('a subset name used twice is an error on the second', async () => {
  const r = await run(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
  - name: v1
    labels: {version: v3}
`);
  assert.deepEqual(codesAt(r.findings), ['MSH2004@12']);
  assert.equal(r.findings[0]!.severity, 'error');
  assert.equal(r.findings[0]!.message, 'Subset v1 is defined twice in DestinationRule reviews (subsets 0 and 2); rename or remove subset 2.');
});

test('distinct subset names, and the same name in two DestinationRules, have no finding', async () => {
  const dr = (name: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
spec:
  host: ${name}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
`;
  const r = await run(`${dr('reviews')}---\n${dr('ratings')}`);
  assert.deepEqual(codesAt(r.findings), []);
});
