// The Quick start's demo, run unattended as on a fresh machine: it must end with a real route shift (a
// canary promoted, a broken one rolled back by its gate), one inspect pod section and top, and with
// --keep leave the mesh running and say where it is, what to try and how to uninstall it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { meshctlAsync } from '../support/cli.js';
import { ROOT } from '../support/shared.js';
import { freePort, request } from '../support/net.js';

let kept: { home: string; tmp: string } | null = null;

after(async () => {
  if (!kept) return;
  await meshctlAsync(['uninstall', '--yes', '--home', kept.home], { timeoutMs: 120_000 });
  await fs.rm(kept.tmp, { recursive: true, force: true });
});

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.js'), ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // SIGINT lets the demo uninstall what it started, as a person's Ctrl-C would.
    const timer = setTimeout(() => child.kill('SIGINT'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('npm run demo -- --keep: a promoted canary, a rolled-back one, inspect pod and top, then the mesh left running with what to try', async () => {
  const port = await freePort();
  const r = await runDemo(['--keep', '--port', String(port)]);
  const all = r.stdout + r.stderr;
  const home = /^Demo finished\. The mesh keeps running in (\S+);/m.exec(r.stdout)?.[1];
  if (home) kept = { home, tmp: path.dirname(home) };
  assert.equal(r.code, 0, all.slice(-3000));
  assert.match(all, /==> meshctl route shift reviews --to v2 --steps 50,100/);
  assert.match(all, /^Promoted: v1 0 \/ v2 100 after /m);
  assert.match(all, /==> meshctl route shift reviews --to v3 --steps 20,50,100/);
  assert.match(all, /^Rolled back: success rate \d+(\.\d+)?% < 99% at 20% for 1 check\./m);
  assert.match(all, /==> meshctl inspect pod productpage-v1-0 --section stats[\s\S]*reviews\.default\.svc\.cluster\.local\|v3\s+\d+/);
  assert.match(all, /==> meshctl top[\s\S]*^reviews\s+default\s+v3\s+\d+/m);
  // The last lines: where the mesh runs, what to try, how to uninstall.
  const tail = r.stdout.trimEnd().split('\n').slice(-12).join('\n');
  assert.ok(home, tail);
  assert.match(tail, new RegExp(`bookinfo answers at http://127\\.0\\.0\\.1:${port}/productpage`));
  assert.match(tail, new RegExp(`export MESHCTL_HOME=${home}`));
  assert.match(tail, /node bin\/run\.js route status reviews/);
  assert.match(tail, new RegExp(`node bin/run\\.js uninstall --yes --home ${home} && rm -rf ${path.dirname(home)}$`));
  assert.ok(existsSync(path.join(home, 'mesh.json')), 'the kept mesh home is gone');
  // Still serving after the demo exits; promoted, v2 answers.
  const answer = await request({ port, path: '/productpage', timeoutMs: 10_000 });
  assert.equal(answer.status, 200);
  assert.equal((JSON.parse(answer.body) as { reviews: { version: string } }).reviews.version, 'v2');
  assert.doesNotMatch(all, /update available|\[ALERT\]/);
});
