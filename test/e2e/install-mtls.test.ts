// meshctl install --mtls: the mesh-wide mode is a resource the user sees, diffs and changes with apply.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { hasStackTrace } from '../support/cli.js';
import { makeHome, type E2eHome } from './support.js';

const homes: E2eHome[] = [];
after(async () => {
  await Promise.all(homes.map((h) => h.cleanup()));
});

test('install --mtls strict writes PeerAuthentication istio-system/default; get lists it, apply changes it, a second install may not', async () => {
  const h = await makeHome('mesh-mtls');
  homes.push(h);
  const plan = await h.run(['install', '--dry-run', '--mtls', 'strict']);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /Write the mesh configuration .* and the mesh-wide PeerAuthentication istio-system\/default \(mTLS STRICT\)\./);

  const first = await h.run(['install', '--mtls', 'strict']);
  assert.equal(first.code, 0, first.stderr);
  const listed = await h.run(['get', 'peerauthentications', '-A']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^default\s+STRICT\s+<none>$/m);
  const json = await h.run(['get', 'peerauthentications', '-A', '-o', 'json']);
  const items = (JSON.parse(json.stdout) as { items: { metadata: { namespace: string; name: string }; spec: unknown }[] }).items;
  assert.deepEqual(items.map((r) => [r.metadata.namespace, r.metadata.name, r.spec]), [['istio-system', 'default', { mtls: { mode: 'STRICT' } }]]);

  const again = await h.run(['install', '--mtls', 'permissive']);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /PeerAuthentication istio-system\/default says STRICT, not --mtls permissive; change the mode with meshctl apply/);
  assert.ok(!hasStackTrace(again.stderr), again.stderr);
  assert.equal((await h.run(['install', '--mtls', 'strict'])).code, 0, 'repeating the installed mode is a no-op');

  const file = path.join(h.dir, 'mesh-mtls.yaml');
  await fs.writeFile(file, 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: PERMISSIVE}}\n');
  const diff = await h.run(['diff', '--live', file]);
  assert.equal(diff.code, 1, diff.stdout + diff.stderr);
  assert.match(diff.stdout, /STRICT → PERMISSIVE/);
  const applied = await h.run(['apply', '-f', file]);
  assert.equal(applied.code, 0, applied.stdout + applied.stderr);
  assert.match((await h.run(['get', 'pa', '-A'])).stdout, /^default\s+PERMISSIVE\s+<none>$/m);
});

test('without --mtls no PeerAuthentication is written: Istio\'s PERMISSIVE holds', async () => {
  const h = await makeHome('mesh-mtls-none');
  homes.push(h);
  assert.equal((await h.run(['install'])).code, 0);
  const listed = await h.run(['get', 'peerauthentications', '-A', '-o', 'json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as { items: unknown[] }).items, []);
  const wrong = await h.run(['install', '--mtls', 'strict']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /no mesh-wide PeerAuthentication is applied \(Istio's PERMISSIVE\), not --mtls strict/);
});
