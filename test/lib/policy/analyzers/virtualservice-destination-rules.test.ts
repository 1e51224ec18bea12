import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['virtualservice.DestinationRuleAnalyzer'];

function lineOf(text: string, marker: string): number {
  const lines = text.split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(marker) ? [i + 1] : []));
  assert.equal(hits.length, 1, `marker ${marker} must be unique`);
  return hits[0]!;
}

const rule = (ns: string, exportTo = '') => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: ${ns}}
spec:
  host: reviews.shop.svc.cluster.local${exportTo ? `\n  exportTo: [${exportTo}]` : ''}
  subsets:
  - name: v1
    labels: {version: v1}
`;

const vs = (subset: string, mirrorSubset = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
        subset: ${subset}${mirrorSubset ? `\n    mirror:\n      host: reviews\n      subset: ${mirrorSubset}` : ''}
`;

test('a subset the DestinationRule does not define is IST0101 at the subset', async () => {
  const text = [rule('shop'), vs('v2')].join('---\n');
  const r = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(r.findings), [`IST0101@${lineOf(text, 'subset: v2')}`]);
  assert.match(r.findings[0]!.message, /subset v2.*DestinationRule shop\/reviews/);
});

test('a mirror subset is checked as well', async () => {
  const text = [rule('shop'), vs('v1', 'canary')].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), [`IST0101@${lineOf(text, 'subset: canary')}`]);
});

test('defined subsets give no finding, whether the rule names the host short or in full', async () => {
  assert.deepEqual(codesAt((await validateText([rule('shop'), vs('v1', 'v1')].join('---\n'), { analyzers })).findings), []);
  const short = rule('shop').replace('reviews.shop.svc.cluster.local', 'reviews');
  assert.deepEqual(codesAt((await validateText([short, vs('v1')].join('---\n'), { analyzers })).findings), []);
});

test("exportTo: a DestinationRule kept to its own namespace does not define subsets for another namespace's routes", async () => {
  const hidden = [rule('platform', '"."'), vs('v1')].join('---\n');
  const r = await validateText(hidden, { analyzers });
  assert.deepEqual(codesAt(r.findings), [`IST0101@${lineOf(hidden, 'subset: v1')}`]);
  assert.match(r.findings[0]!.message, /no DestinationRule/);
  // Exported to the route's namespace, the same rule applies.
  assert.deepEqual(codesAt((await validateText([rule('platform', 'shop'), vs('v1')].join('---\n'), { analyzers })).findings), []);
});
