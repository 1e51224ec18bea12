import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runAll } from '../../../src/lib/conformance/istio-proxyconfig.js';
import { SHARED } from '../../support/shared.js';

const CORPUS = path.join(SHARED, 'conformance', 'istio-proxyconfig');

test("every istioctl proxy-config golden (clusters, listeners, routes, endpoints, secrets, versions) matches meshctl's tables", async () => {
  const results = await runAll(CORPUS);
  const failing = results.filter((r) => !r.pass);
  assert.deepEqual(failing, [], failing.map((r) => `${r.name}: ${r.detail}`).join('\n'));
  assert.equal(results.length, 14);
  for (const kind of ['all', 'endpoint', 'route', 'secret', 'bootstrap']) {
    assert.ok(results.some((r) => r.name.startsWith(`proxy-config ${kind}`)), `a ${kind} golden is checked`);
  }
  // The combined `proxy-config all` output covers the cluster, listener, route, secret and endpoint tables.
  const all = results.find((r) => r.name.startsWith('proxy-config all:'))!;
  assert.match(all.detail, /13 rows in 5 tables/);
});

test('a golden that differs from meshctl by one port fails, naming the row and column', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshctl-proxyconfig-'));
  try {
    await cp(CORPUS, dir, { recursive: true });
    const golden = path.join(dir, 'proxyconfig', 'testdata', 'config_dump_summary.txt');
    await chmod(golden, 0o644);
    const text = await readFile(golden, 'utf8');
    await writeFile(golden, text.replace('0.0.0.0   15021', '0.0.0.0   15020'));
    const results = await runAll(dir);
    const broken = results.find((r) => r.name.startsWith('proxy-config all:'))!;
    assert.equal(broken.pass, false);
    assert.match(broken.detail, /listeners row 5 PORT: istioctl "15020", meshctl "15021"/);
    assert.equal(results.filter((r) => !r.pass).length, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
