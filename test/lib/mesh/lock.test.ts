import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withLock } from '../../../src/lib/mesh/lock.js';

test('callers in one process take the lock one after the other', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-lock-'));
  try {
    const file = path.join(dir, 'lock');
    const order: string[] = [];
    const task = (name: string) => withLock(file, async () => {
      order.push(`${name} in`);
      await new Promise((r) => setTimeout(r, 20));
      order.push(`${name} out`);
    });
    await Promise.all([task('a'), task('b'), task('c')]);
    assert.deepEqual(order, ['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    assert.equal(existsSync(file), false, 'the lock file is removed on release');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('another process holding the lock makes a taker wait; a lock left by a dead process is taken over', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-lock-'));
  const file = path.join(dir, 'lock');
  // A holder in another process: creates the lock file, holds it 300 ms, releases it.
  const holder = spawn(process.execPath, ['-e', `
    const fs = require('node:fs');
    fs.writeFileSync(${JSON.stringify(file)}, JSON.stringify({ pid: process.pid, startTime: null }), { flag: 'wx' });
    process.stdout.write('held\\n');
    setTimeout(() => { fs.rmSync(${JSON.stringify(file)}); process.exit(0); }, 300);
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    const started = Date.now();
    await withLock(file, async () => undefined);
    assert.ok(Date.now() - started >= 150, 'the lock was taken while another process held it');

    // A dead holder: a pid that does not run.
    writeFileSync(file, JSON.stringify({ pid: 2 ** 22 + 1, startTime: null }));
    let ran = false;
    await withLock(file, async () => { ran = true; }, 2000);
    assert.equal(ran, true);
  } finally {
    holder.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
