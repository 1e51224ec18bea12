// The README's command reference is generated from the commands (npm run readme); it must list every one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './support/shared.js';

test('the README documents every command, with the quick start first', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, { hidden?: boolean }> };
  const ids = Object.entries(manifest.commands).filter(([, c]) => !c.hidden).map(([id]) => id);
  assert.ok(ids.includes('validate') && ids.includes('route:shift'), `commands: ${ids.join(', ')}`);
  for (const id of ids) {
    assert.match(readme, new RegExp(`^## \`meshctl ${id.replace(/:/g, ' ')}( |\`)`, 'm'), `README reference lacks meshctl ${id}; run npm run readme`);
  }
  const quick = /## Quick start\s+```sh\n([^`]*)```/.exec(readme);
  assert.ok(quick, 'a Quick start with a shell block');
  assert.deepEqual(quick[1]!.trim().split('\n'), ['npm install && npm run demo', 'npm test']);
});
