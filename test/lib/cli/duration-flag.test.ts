import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationFlag } from '../../../src/lib/cli/duration-flag.js';
import { MeshctlError } from '../../../src/lib/errors.js';

function refusal(fn: () => unknown): { message: string; exitCode: number } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof MeshctlError);
    return { message: err.message, exitCode: err.exitCode };
  }
  assert.fail('accepted');
}

test('a duration flag reads Go durations to milliseconds, as validate reads policy durations', () => {
  assert.equal(parseDurationFlag('timeout', '500ms'), 500);
  assert.equal(parseDurationFlag('timeout', '0.5s'), 500);
  assert.equal(parseDurationFlag('timeout', '1m30s'), 90_000);
  assert.equal(parseDurationFlag('timeout', '1h'), 3_600_000);
  assert.equal(parseDurationFlag('timeout', '1500us'), 1.5);
  assert.equal(parseDurationFlag('rate-window', '0', { allowZero: true }), 0);
  assert.equal(parseDurationFlag('rate-window', '5m', { allowZero: true, max: '5m' }), 300_000);
});

test('a bare number, a word, and spans out of range each get one sentence and exit 2', () => {
  assert.deepEqual(refusal(() => parseDurationFlag('timeout', '60')), { message: '--timeout 60 has no unit; write 60s for seconds (or 60ms, 60m).', exitCode: 2 });
  assert.deepEqual(refusal(() => parseDurationFlag('interval', '1 s')), { message: '--interval 1 s is not a duration; write it as 500ms, 30s, 2m or 1m30s.', exitCode: 2 });
  assert.deepEqual(refusal(() => parseDurationFlag('interval', '0s')), { message: '--interval must be more than 0s, not 0s.', exitCode: 2 });
  assert.deepEqual(refusal(() => parseDurationFlag('interval', '0')), { message: '--interval must be more than 0s, not 0.', exitCode: 2 });
  assert.deepEqual(refusal(() => parseDurationFlag('interval', '-1s')), { message: '--interval must be more than 0s, not -1s.', exitCode: 2 });
  assert.deepEqual(refusal(() => parseDurationFlag('rate-window', '-1s', { allowZero: true })), { message: '--rate-window must be 0s or more, not -1s.', exitCode: 2 });
  assert.deepEqual(refusal(() => parseDurationFlag('window', '999ms', { min: '1s' })), { message: '--window must be at least 1s, not 999ms.', exitCode: 2 });
  assert.deepEqual(refusal(() => parseDurationFlag('rate-window', '301s', { allowZero: true, max: '5m' })), { message: '--rate-window must be at most 5m, not 301s.', exitCode: 2 });
});
