// Finding HAProxy and judging whether it can run a meshctl proxy.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { candidatePaths, findHaproxy, parseFeatures, parseHaproxyVersion, versionAtLeast } from '../../../../src/lib/runtime/haproxy/binary.js';

describe('HAProxy binary', () => {
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  /** An executable that prints `text` like `haproxy -vv` would. */
  async function fakeHaproxy(text: string): Promise<string> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-bin-'));
    dirs.push(dir);
    const file = path.join(dir, 'haproxy');
    await fs.writeFile(file, `#!/bin/sh\ncat <<'EOF'\n${text}\nEOF\n`, { mode: 0o755 });
    return file;
  }

  it('parses versions as HAProxy prints them', () => {
    assert.deepEqual(parseHaproxyVersion('HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/'), { major: 2, minor: 6, patch: 12, text: '2.6.12-1+deb12u4' });
    assert.deepEqual(parseHaproxyVersion('HA-Proxy version 1.8.19 2019/02/11'), { major: 1, minor: 8, patch: 19, text: '1.8.19' });
    assert.equal(parseHaproxyVersion('nginx version: nginx/1.25'), null);
    assert.equal(versionAtLeast({ major: 2, minor: 6 }), true);
    assert.equal(versionAtLeast({ major: 3, minor: 0 }), true);
    assert.equal(versionAtLeast({ major: 2, minor: 4 }), false);
  });

  it('finds the installed HAProxy with Lua, OpenSSL and the Prometheus exporter', async () => {
    const found = await findHaproxy();
    assert.ok(versionAtLeast(found.version));
    assert.deepEqual(parseFeatures('Feature list : +LUA +OPENSSL +PROMEX +THREAD'), { lua: true, prometheus: true, openssl: true, threads: true });
    assert.equal(found.features.lua && found.features.openssl && found.features.prometheus, true);
    assert.equal((await findHaproxy({ proxyBin: found.path })).path, found.path);
  });

  it('says what to do when HAProxy is missing, too old or built without what meshctl needs', async () => {
    await assert.rejects(findHaproxy({ proxyBin: '/nonexistent/haproxy' }), /--proxy-bin \/nonexistent\/haproxy is not an executable/);
    // Distribution packages install to sbin, which a user's PATH often lacks.
    assert.deepEqual(candidatePaths({ PATH: '/opt/bin' }).slice(0, 2), ['/opt/bin/haproxy', '/usr/sbin/haproxy']);
    const old = await fakeHaproxy('HAProxy version 2.4.22 2023/02/14\nFeature list : +LUA +OPENSSL +PROMEX');
    await assert.rejects(findHaproxy({ proxyBin: old }), /HAProxy 2\.4\.22; meshctl needs 2\.6 or later/);
    const bare = await fakeHaproxy('HAProxy version 2.8.3 2023/09/08\nFeature list : -LUA +OPENSSL -PROMEX');
    await assert.rejects(findHaproxy({ proxyBin: bare }), /built without lua, prometheus/);
  });
});
