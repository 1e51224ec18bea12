import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';

const analyzers = ['virtualservice.DestinationHostAnalyzer'];

/** 1-based line of the only line containing `marker`. */
function lineOf(text: string, marker: string): number {
  const lines = text.split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(marker) ? [i + 1] : []));
  assert.equal(hits.length, 1, `marker ${marker} must be unique`);
  return hits[0]!;
}

const reviews = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec:
  ports:
  - {name: http, port: 9080}
`;

const twoPorts = `apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec:
  ports:
  - {name: http, port: 9080}
  - {name: grpc, port: 9090}
`;

const vs = (name: string, host: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: shop}
spec:
  hosts: [${name}]
  http:
  - route:
    - destination:
        host: ${host}${extra}
`;

test('a destination host no Service or ServiceEntry declares is IST0101 at the host', async () => {
  const text = [reviews, vs('front', 'reviwes')].join('---\n');
  const r = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(r.findings), [`IST0101@${lineOf(text, 'host: reviwes')}`]);
  assert.match(r.findings[0]!.message, /reviwes.*front/);
  assert.equal(r.findings[0]!.severity, 'error');
});

test('hosts resolving to a Service (short, FQDN) or a wildcard ServiceEntry give no finding', async () => {
  const se = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: eu, namespace: shop}
spec:
  hosts: ["*.eu.example.com"]
  ports: [{number: 443, name: https, protocol: HTTPS}]
`;
  const text = [reviews, se, vs('a', 'reviews'), vs('b', 'reviews.shop.svc.cluster.local', '\n        port: {number: 9080}'), vs('c', 'api.eu.example.com')].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), []);
});

test('a port the Service lacks is IST0101 at the port number; a missing port on a two-port Service is IST0112', async () => {
  const text = [reviews, twoPorts, vs('a', 'reviews', '\n        port:\n          number: 8080'), vs('b', 'ratings')].join('---\n');
  const r = await validateText(text, { analyzers });
  const bStart = lineOf(text, 'name: b,');
  // b's destination object is line 8 of its document.
  assert.deepEqual(codesAt(r.findings).sort(), [`IST0101@${lineOf(text, 'number: 8080')}`, `IST0112@${bStart + 5}`].sort());
});

test('mirror hosts are checked too, at the mirror host', async () => {
  const text = [reviews, vs('a', 'reviews', '\n    mirror:\n      host: shadow')].join('---\n');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), [`IST0101@${lineOf(text, 'host: shadow')}`]);
});

test('exportTo: a Service exported elsewhere is not found, and a VirtualService exported to a namespace that sees it is fine', async () => {
  const hidden = `apiVersion: v1
kind: Service
metadata:
  name: ledger
  namespace: bank
  annotations: {networking.istio.io/exportTo: "., audit"}
spec:
  ports: [{name: http, port: 80}]
`;
  const fromShop = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ledger-shop, namespace: shop}
spec:
  hosts: [ledger.bank.svc.cluster.local]
  http:
  - route:
    - destination: {host: ledger.bank.svc.cluster.local}
`;
  const toAudit = fromShop.replace('ledger-shop', 'ledger-audit').replace('spec:\n', 'spec:\n  exportTo: [audit]\n');
  const text = [hidden, fromShop, toAudit].join('---\n');
  const r = await validateText(text, { analyzers });
  // Only ledger-shop fails; its destination is 5 lines below its metadata.
  assert.deepEqual(codesAt(r.findings), [`IST0101@${lineOf(text, 'name: ledger-shop') + 5}`]);
  assert.match(r.findings[0]!.message, /visible from namespace shop/);
});

test('exportTo: a ServiceEntry exported only to its own namespace is not visible from another', async () => {
  const se = (ns: string, exportTo: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments, namespace: ${ns}}
spec:
  exportTo: [${exportTo}]
  hosts: [pay.example.com]
`;
  const user = vs('checkout', 'pay.example.com');
  assert.deepEqual(codesAt((await validateText([se('billing', '"."'), user].join('---\n'), { analyzers })).findings).length, 1);
  assert.deepEqual(codesAt((await validateText([se('billing', 'shop'), user].join('---\n'), { analyzers })).findings), []);
});

test('a gateway VirtualService routing without subset to a host a mesh VirtualService splits by subset is IST0140', async () => {
  const gatewayVs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [edge-gw]
  http:
  - route:
    - destination: {host: reviews, port: {number: 9080}}
`;
  const meshVs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
`;
  const text = [reviews, gatewayVs, meshVs].join('---\n');
  const r = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(r.findings), [`IST0140@${lineOf(text, 'destination: {host: reviews, port')}`]);
  assert.match(r.findings[0]!.message, /shop\/reviews/);
});
