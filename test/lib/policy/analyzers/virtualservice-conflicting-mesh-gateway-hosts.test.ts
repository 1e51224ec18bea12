import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['virtualservice.ConflictingMeshGatewayHostsAnalyzer'];

function lineOf(text: string, marker: string): number {
  const lines = text.split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(marker) ? [i + 1] : []));
  assert.equal(hits.length, 1, `marker ${marker} must be unique`);
  return hits[0]!;
}

const vs = (name: string, ns: string, host: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:${extra}
  hosts:
  - ${host}
  http:
  - route:
    - destination: {host: backend}
`;

test('two mesh VirtualServices for the same host are each IST0109 at their host', async () => {
  const text = [vs('reviews-a', 'shop', 'reviews # a'), vs('reviews-b', 'other', 'reviews.shop.svc.cluster.local # b')].join('---\n');
  const r = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(r.findings).sort(), [`IST0109@${lineOf(text, '- reviews # a')}`, `IST0109@${lineOf(text, '- reviews.shop.svc.cluster.local # b')}`].sort());
  assert.match(r.findings[0]!.message, /reviews\.shop\.svc\.cluster\.local/);
});

test('different hosts, or one VirtualService bound only to an ingress gateway, give no finding', async () => {
  assert.deepEqual(codesAt((await validateText([vs('a', 'shop', 'reviews'), vs('b', 'shop', 'ratings')].join('---\n'), { analyzers })).findings), []);
  const ingress = vs('b', 'shop', 'reviews', '\n  gateways: [edge/public]');
  assert.deepEqual(codesAt((await validateText([vs('a', 'shop', 'reviews'), ingress].join('---\n'), { analyzers })).findings), []);
});

test('exportTo: hosts kept to different namespaces do not conflict; a host exported everywhere overlaps a scoped one', async () => {
  const local = (name: string, ns: string, host: string) => vs(name, ns, host, '\n  exportTo: ["."]');
  assert.deepEqual(codesAt((await validateText([local('a', 'team1', 'api.example.com'), local('b', 'team2', 'api.example.com')].join('---\n'), { analyzers })).findings), []);
  const text = [local('a', 'team1', '"*.example.com"'), vs('b', 'team2', 'api.example.com')].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings).sort(), [`IST0109@${lineOf(text, '"*.example.com"')}`, `IST0109@${lineOf(text, '- api.example.com')}`].sort());
});
