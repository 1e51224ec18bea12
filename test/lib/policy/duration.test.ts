import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration, parseDurationNanos } from '../../../src/lib/policy/duration.js';

test('parseDuration reads Go duration syntax into milliseconds', () => {
  const cases: [string, number][] = [
    ['1.5s', 1500],
    ['100ms', 100],
    ['1h2m', 3_720_000],
    ['1m30s', 90_000],
    ['2h45m30.5s', 9_930_500],
    ['250us', 0.25],
    ['250µs', 0.25],
    ['250μs', 0.25],
    ['1500000ns', 1.5],
    ['.5s', 500],
    ['1.s', 1000],
    ['0', 0],
    ['0s', 0],
    ['+5s', 5000],
    ['-1.5s', -1500],
    ['10s100ms', 10_100],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('parseDuration refuses what Istio refuses', () => {
  for (const text of ['', '10', '1 s', ' 1s', '1s ', '5min', '1d', '1S', 's', '.s', '1.2.3s', '-', '1h-2m', '00', '1e3ms', '9223372037s']) {
    assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
});

test('parseDurationNanos is exact where floating point is not', () => {
  assert.equal(parseDurationNanos('0.1s'), 100_000_000n);
  assert.equal(parseDurationNanos('2562047h47m16.854775807s'), 2n ** 63n - 1n);
  assert.equal(parseDurationNanos('2562047h47m16.854775808s'), undefined);
});

test('formatDuration writes the shortest text that parses back', () => {
  for (const [ms, text] of [[1500, '1.5s'], [90_000, '1m30s'], [3_600_000, '1h'], [250, '250ms'], [0.25, '250us'], [0, '0s'], [-2000, '-2s']] as const) {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  }
});
