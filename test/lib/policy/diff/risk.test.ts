import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { diffText, join, only, vs } from './support.js';

const split = (a: number, b: number) => `route: [{destination: {host: reviews, subset: v1}, weight: ${a}}, {destination: {host: reviews, subset: v2}, weight: ${b}}]`;
const dr = (policy: string) => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  trafficPolicy: {${policy}}\n`;
const ap = (spec: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: web}\nspec:\n${spec}`;

function assertRisk(before: string, after: string, risk: string, reason: RegExp): void {
  const c = only(diffText(before, after));
  assert.equal(c.risk, risk, c.reasons.join(' | '));
  assert.ok(c.reasons.some((r) => reason.test(r)), `no reason matches ${reason}: ${c.reasons.join(' | ')}`);
  for (const r of c.reasons) assert.match(r, /^[^\n]+\.$/, 'each reason is one sentence');
}

describe('high', () => {
  test('mTLS relaxed', () => {
    const pa = (mode: string) => `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec: {mtls: {mode: ${mode}}}\n`;
    assertRisk(pa('STRICT'), pa('PERMISSIVE'), 'high', /mTLS is relaxed for namespace shop: STRICT → PERMISSIVE/);
    assertRisk(dr('tls: {mode: ISTIO_MUTUAL}'), dr('tls: {mode: DISABLE}'), 'high', /TLS to host reviews.default is relaxed/);
  });

  test('an ALLOW widened', () => {
    assertRisk(ap('  rules: [{from: [{source: {namespaces: [web]}}]}]\n'), ap('  rules: [{from: [{source: {namespaces: [web, batch]}}]}]\n'), 'high', /ALLOW is widened/);
  });

  test('a DENY removed', () => {
    assertRisk(ap('  action: DENY\n  rules: [{to: [{operation: {paths: [/admin]}}]}]\n'), ap('  action: DENY\n  rules: [{to: [{operation: {paths: [/admn]}}]}]\n'), 'high', /A DENY is removed/);
    assertRisk(ap('  action: DENY\n  rules: [{to: [{operation: {paths: [/admin]}}]}]\n'), ap('  action: AUDIT\n  rules: [{to: [{operation: {paths: [/admin]}}]}]\n'), 'high', /A DENY is removed/);
  });

  test('a destination loses all its traffic', () => {
    assertRisk(vs('reviews', [split(80, 20)]), vs('reviews', [split(100, 0)]), 'high', /reviews.default\/v2 no longer gets any traffic from reviews.default \(it had 20% of route default\)/);
  });

  test('a route after a new catch-all is unreachable, and so are its destinations', () => {
    const api = '{match: [{uri: {prefix: /api}}], route: [{destination: {host: reviews, subset: v3}}]}';
    const rest = 'route: [{destination: {host: reviews, subset: v1}}]';
    assertRisk(vs('reviews', [api, `{${rest}}`]), vs('reviews', [`{${rest}}`, api]), 'high', /reviews.default\/v3 no longer gets any traffic/);
  });

  test('a fault added without a match', () => {
    assertRisk(
      vs('reviews', ['route: [{destination: {host: reviews}}]']),
      vs('reviews', ['{route: [{destination: {host: reviews}}], fault: {abort: {httpStatus: 503, percentage: {value: 100}}}}']),
      'high',
      /A fault \(abort 503 for 100% of requests\) is added to route default of reviews.default, which has no match/,
    );
  });

  test("a host's route removed", () => {
    const jason = '{name: jason, match: [{headers: {end-user: {exact: jason}}}], route: [{destination: {host: reviews, subset: v2}}]}';
    assertRisk(vs('reviews', [jason, '{route: [{destination: {host: reviews, subset: v1}}]}']), vs('reviews', ['{route: [{destination: {host: reviews, subset: v1}}]}']), 'high', /route "jason" of reviews.default is removed/);
    assertRisk(vs('reviews', [split(80, 20)]), '', 'high', /reviews.default loses its routes/);
  });

  test('a first route table without a default route', () => {
    assertRisk('', vs('reviews', ['{match: [{uri: {prefix: /api}}], route: [{destination: {host: reviews, subset: v1}}]}']), 'high', /reviews.default gets routes but no default route/);
  });
});

describe('medium', () => {
  test('weights moved', () => {
    assertRisk(vs('reviews', [split(90, 10)]), vs('reviews', [split(50, 50)]), 'medium', /Traffic moves on route default of reviews.default: reviews.default\/v1 90% → 50%, reviews.default\/v2 10% → 50%/);
  });

  test('a first route table with a default route takes the host from all its endpoints to its split', () => {
    assertRisk('', vs('reviews', ['{name: main, route: [{destination: {host: reviews, subset: v1}}]}']), 'medium', /Traffic moves on route "main" of reviews.default: reviews.default 100% → 0%, reviews.default\/v1 0% → 100%/);
  });

  test('retries or timeouts changed', () => {
    const r = (s: string) => vs('reviews', [`{route: [{destination: {host: reviews}}], ${s}}`]);
    assertRisk(r('retries: {attempts: 3}'), r('retries: {attempts: 0}'), 'medium', /Retries or timeouts change on route default of reviews.default: retries.attempts 3 → 0/);
    assertRisk(r('timeout: 10s'), r('timeout: 1s'), 'medium', /timeout 10s → 1s/);
  });

  test('outlier detection relaxed', () => {
    assertRisk(dr('outlierDetection: {consecutive5xxErrors: 5}'), dr('outlierDetection: {consecutive5xxErrors: 50}'), 'medium', /Outlier detection for reviews.default is relaxed: it needs more consecutive 5xx errors to eject/);
    assertRisk(dr('outlierDetection: {interval: 10s}'), dr(''), 'medium', /is turned off/);
  });

  test('a fault on matched requests, and a route order change', () => {
    assertRisk(
      vs('reviews', ['{match: [{headers: {x-test: {exact: "1"}}}], route: [{destination: {host: reviews}}]}', '{route: [{destination: {host: reviews}}]}']),
      vs('reviews', ['{match: [{headers: {x-test: {exact: "1"}}}], route: [{destination: {host: reviews}}], fault: {delay: {fixedDelay: 5s, percentage: {value: 50}}}}', '{route: [{destination: {host: reviews}}]}']),
      'medium',
      /Fault injection is added to route "match header x-test exact 1"/,
    );
  });
});

describe('low', () => {
  test('outlier detection tightened, a connection pool changed, a Service port renamed, labels', () => {
    assertRisk(dr('outlierDetection: {consecutive5xxErrors: 50}'), dr('outlierDetection: {consecutive5xxErrors: 5}'), 'low', /Traffic policy for reviews.default changes/);
    assertRisk(dr('connectionPool: {tcp: {maxConnections: 100}}'), dr('connectionPool: {tcp: {maxConnections: 10}}'), 'low', /connectionPool.tcp.maxConnections 100 → 10/);
    const svc = (name: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: reviews}\nspec:\n  ports: [{name: ${name}, port: 9080}]\n`;
    assertRisk(svc('http'), svc('http-web'), 'low', /1 field of Service default\/reviews changes; none moves traffic or relaxes security/);
  });

  test('mTLS tightened and a DENY added', () => {
    const pa = (mode: string) => `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec: {mtls: {mode: ${mode}}}\n`;
    assertRisk(pa('PERMISSIVE'), pa('STRICT'), 'low', /mTLS for namespace shop changes PERMISSIVE → STRICT/);
    assertRisk('', ap('  action: DENY\n  rules: [{to: [{operation: {paths: [/admin]}}]}]\n'), 'low', /namespace default now denies requests to paths \[\/admin\]/);
  });

  test('a new resource that routes nothing', () => {
    assertRisk('', 'apiVersion: v1\nkind: Service\nmetadata: {name: ratings}\nspec: {ports: [{port: 9080}]}\n', 'low', /Service default\/ratings is added/);
  });
});

test('the change carries the riskiest of its reasons, listed riskiest first', () => {
  const before = join(vs('reviews', [`{${split(80, 20)}, retries: {attempts: 3}}`]));
  const after = join(vs('reviews', [`{${split(100, 0)}, retries: {attempts: 1}}`]));
  const c = only(diffText(before, after));
  assert.equal(c.risk, 'high');
  assert.match(c.reasons[0]!, /no longer gets any traffic/);
  assert.ok(c.reasons.slice(1).some((r) => /Retries/.test(r)));
});
