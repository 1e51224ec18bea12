// The durable file writer: modes as asked, whole files or the old ones, never a temp file left behind.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { writeFileAtomic, writeFilesAtomic } from '../../../src/lib/system/atomic-file.js';

describe('atomic file writes', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const d = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-atomic-'));
    dirs.push(d);
    return d;
  };
  after(async () => {
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });
  const mode = async (file: string) => (await fs.stat(file)).mode & 0o777;

  for (const sync of [true, false]) {
    it(`gives each file the mode asked for, replacing what was there (${sync ? 'synced' : 'unsynced'})`, async () => {
      const dir = await tempDir();
      const secret = path.join(dir, 'proxy.pem');
      const shared = path.join(dir, 'ca.pem');
      await fs.writeFile(secret, 'old secret', { mode: 0o644 });
      await writeFilesAtomic([{ file: secret, data: 'new secret', mode: 0o600 }, { file: shared, data: 'bundle', mode: 0o644 }, { file: path.join(dir, 'lua'), data: 'x', mode: 0o640 }], { sync });
      assert.deepEqual([await mode(secret), await mode(shared), await mode(path.join(dir, 'lua'))], [0o600, 0o644, 0o640]);
      assert.equal(await fs.readFile(secret, 'utf8'), 'new secret');
      assert.equal(await fs.readFile(shared, 'utf8'), 'bundle');
    });

    it(`leaves every old file as it was when one of the files cannot be written (${sync ? 'synced' : 'unsynced'})`, async () => {
      const dir = await tempDir();
      const config = path.join(dir, 'haproxy.cfg');
      const state = path.join(dir, 'state.json');
      await fs.writeFile(config, 'old config');
      await fs.writeFile(state, 'old state');
      // A directory where a file is to go: its temp file beside it cannot be created.
      const blocked = path.join(dir, 'missing', 'route.map');
      await assert.rejects(writeFilesAtomic([{ file: config, data: 'new config' }, { file: blocked, data: 'map' }, { file: state, data: 'new state' }], { sync }), { code: 'ENOENT' });
      assert.equal(await fs.readFile(config, 'utf8'), 'old config');
      assert.equal(await fs.readFile(state, 'utf8'), 'old state');
      assert.deepEqual((await fs.readdir(dir)).sort(), ['haproxy.cfg', 'state.json']);
    });
  }

  it('writes one file whole, with its mode', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'ca.key');
    await writeFileAtomic(file, 'key', 0o600);
    assert.equal(await fs.readFile(file, 'utf8'), 'key');
    assert.equal(await mode(file), 0o600);
  });
});
