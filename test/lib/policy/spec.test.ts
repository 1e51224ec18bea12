import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../support/policy.js';
import { listOf, numberOf, objectOf, stringOf } from '../../../src/lib/policy/spec.js';

// Every field of a typed spec may hold a value of another type at run time: the analyzers that read typed
// specs must leave such fields to the schema check, and never fail on them.
const MISTYPED = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: reviews
  http:
  - route: {destination: {host: reviews}}
    mirror: [reviews]
    retries: 3
    fault: {abort: 100}
  - "not a route"
  tcp: 5
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: [reviews]
  subsets: {name: v1}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: edge
spec:
  selector: ingress
  servers:
  - tls: true
    port: 443
  - 7
`;

test('mistyped spec fields get schema findings at their lines, and no analyzer reading typed specs fails on them', async () => {
  const r = await validateText(MISTYPED);
  // Route weights, retries, subsets, aborts, mirrors and Gateway certificates: none of them is judged on a mistyped field.
  const typedReaders = ['MSH2001', 'MSH2002', 'MSH2004', 'MSH2005', 'MSH2009', 'MSH2010', 'IST0138'];
  assert.deepEqual(r.findings.filter((f) => typedReaders.includes(f.code)).map((f) => `${f.code}@${f.line}`), [], codesAt(r.findings).join(', '));
  const lines = r.findings.filter((f) => f.code === 'IST0106' && f.resource?.kind === 'VirtualService').map((f) => f.line);
  for (const line of [6, 8, 9, 10, 11, 12, 13]) assert.ok(lines.includes(line), `a schema finding at line ${line} (got ${lines.join(', ')})`);
  const at = (kind: string, line: number) => r.findings.some((f) => f.code === 'IST0106' && f.resource?.kind === kind && f.line === line);
  assert.ok(at('DestinationRule', 20) && at('DestinationRule', 21), 'DestinationRule host and subsets found mistyped');
  assert.ok(at('Gateway', 28) && at('Gateway', 32), 'Gateway selector and server found mistyped');
});

test('the typed readers give the field, or an empty value of its kind, whatever the input holds', () => {
  assert.deepEqual(objectOf<{ a?: number }>({ a: 1 }), { a: 1 });
  for (const wrong of [7, 'x', [1], null, undefined, true]) assert.deepEqual(objectOf<{ a?: number }>(wrong as never), {});
  assert.deepEqual(listOf<number>([1, 2]), [1, 2]);
  for (const wrong of [7, 'x', { 0: 1 }, null, undefined]) assert.deepEqual(listOf<number>(wrong as never), []);
  assert.equal(stringOf('v1'), 'v1');
  assert.equal(stringOf(3, 'default'), 'default');
  assert.equal(numberOf(80), 80);
  assert.equal(numberOf('80'), undefined);
  assert.equal(numberOf(Number.NaN), undefined);
});
