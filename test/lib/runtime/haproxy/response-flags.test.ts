import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatResponseFlags, responseFlags } from '../../../../src/lib/runtime/haproxy/response-flags.js';
import { parseAccessLog } from '../../../../src/lib/runtime/haproxy/access-log.js';

const flagsOf = (termination: string, status: number, o: { retries?: number; server?: string; logged?: string } = {}) =>
  formatResponseFlags(responseFlags({ termination, status, retries: o.retries ?? 0, server: o.server ?? 'reviews-v1-0', logged: o.logged ?? '-' }));

test("HAProxy's termination state reads as Envoy's flags", () => {
  assert.equal(flagsOf('--', 200), '-');
  assert.equal(flagsOf('SC', 503), 'UF');
  assert.equal(flagsOf('sC', 503), 'UF');
  assert.equal(flagsOf('SC', 503, { server: '<NOSRV>' }), 'UH');
  assert.equal(flagsOf('SH', 503), 'UC');
  assert.equal(flagsOf('SD', 200), 'UC');
  assert.equal(flagsOf('sH', 504), 'UT');
  assert.equal(flagsOf('sQ', 503), 'UO');
  assert.equal(flagsOf('CD', 200), 'DC');
});

test('a retried request that still failed is URX beside its cause; one that succeeded on a retry has no flag', () => {
  assert.equal(flagsOf('SC', 503, { retries: 2 }), 'UF,URX');
  assert.equal(flagsOf('--', 503, { retries: 2 }), 'URX');
  assert.equal(flagsOf('--', 200, { retries: 1 }), '-');
});

test("what rules logged comes first in Envoy's order, merged with what the state shows", () => {
  assert.equal(flagsOf('LR', 418, { logged: 'DI,FI' }), 'DI,FI');
  assert.equal(flagsOf('LR', 404, { logged: 'NR' }), 'NR');
  assert.equal(flagsOf('LH', 504, { logged: 'UT', retries: 1 }), 'UT,URX');
  assert.equal(flagsOf('SC', 503, { logged: 'RBAC' }), 'UF,RBAC');
});

test('the access-log parser reads response_flags and fills in what the termination state shows', () => {
  const line = (o: Record<string, unknown>) => JSON.stringify({ start_ms: 1, request_id: 'r', direction: 'outbound', server: 's', status: 503, retries: '2', termination: 'SC', response_flags: '-', ...o });
  const { entries } = parseAccessLog([line({}), line({ status: 404, retries: '0', termination: 'LR', response_flags: 'NR' }), line({ response_flags: undefined })].join('\n'));
  assert.deepEqual(entries.map((e) => e.responseFlags), [['UF', 'URX'], ['NR'], ['UF', 'URX']]);
});
