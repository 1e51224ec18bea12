// The watch loop every watching command runs in: Ctrl-C (or SIGTERM) ends it promptly, after which the
// command exits 130; a watch that ends by itself keeps the command's own exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watch } from '../../../src/lib/output/watch.js';

test('Ctrl-C wakes a pause at once and the watch ends with 130; the handlers are gone afterwards', async () => {
  const before = process.listenerCount('SIGINT');
  const frames: number[] = [];
  const end = await watch(async (w) => {
    for (let n = 0; n < 3; n++) {
      frames.push(n);
      if (n === 1) setImmediate(() => process.emit('SIGINT'));
      // Long pauses (the test would time out on them): only the interrupt ends the second one early.
      if (!(await w.pause(n === 0 ? 1 : 600_000))) return 'interrupted';
    }
    return 'done';
  });
  assert.equal(end.value, 'interrupted');
  assert.deepEqual(frames, [0, 1]);
  assert.equal(end.interrupted, true);
  assert.equal(end.exitCode(0), 130);
  assert.equal(end.exitCode(1), 130);
  assert.equal(process.listenerCount('SIGINT'), before);
});

test('a watch that ends by itself keeps the command exit code', async () => {
  const end = await watch(async (w) => {
    let frames = 0;
    for (; frames < 3; frames++) assert.equal(await w.pause(1), true);
    return frames;
  });
  assert.equal(end.interrupted, false);
  assert.equal(end.exitCode(4), 4);
  assert.equal(end.value, 3);
});

test('SIGTERM ends a watch like Ctrl-C, and the abort signal reaches what waits', async () => {
  const end = await watch((w) => new Promise<string>((resolve) => {
    w.signal.addEventListener('abort', () => resolve('stopped'));
    setImmediate(() => process.emit('SIGTERM'));
  }));
  assert.equal(end.value, 'stopped');
  assert.equal(end.exitCode(0), 130);
});
