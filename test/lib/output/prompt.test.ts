// The prompt rule: no question without a terminal (stdin and stderr) or with --yes; then the command's
// documented answer holds. The tests run without a terminal, as pipelines do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canPrompt, choose, confirm } from '../../../src/lib/output/prompt.js';
import { MeshctlError, usageError } from '../../../src/lib/errors.js';

test('without a terminal nobody is asked: confirm gives the command answer for that case', async () => {
  assert.equal(canPrompt(), false);
  assert.equal(await confirm('Delete everything?', { withoutTerminal: true }), true);
  assert.equal(await confirm('Delete everything?', { withoutTerminal: false }), false);
  await assert.rejects(
    confirm('Delete everything?', { withoutTerminal: () => { throw usageError('there is no terminal to confirm it on: run it again with --yes.'); } }),
    (err: unknown) => err instanceof MeshctlError && err.exitCode === 2 && /--yes/.test(err.message),
  );
});

test('--yes is yes without asking, whatever the terminal', async () => {
  assert.equal(canPrompt(true), false);
  assert.equal(await confirm('Delete everything?', { yes: true, withoutTerminal: () => { throw new Error('asked for a terminal with --yes'); } }), true);
});

test('a choice nobody can make is the fallback the command names', async () => {
  assert.equal(await choose('Hold or roll back?', [{ name: 'hold', value: 'hold' }, { name: 'roll back', value: 'rollback' }], { otherwise: 'hold' }), 'hold');
  assert.equal(await choose('Hold or roll back?', [{ name: 'hold', value: 'hold' }, { name: 'roll back', value: 'rollback' }], { otherwise: 'rollback', yes: true }), 'rollback');
});
