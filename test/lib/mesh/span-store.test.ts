// The mesh's span store: past its size the oldest spans go and the newest stay; past its age whole
// segments go; a reader finds spans across every segment the store rotated through.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { parseByteSize, readStoredSpans, SpanStore, spanStoreUsage } from '../../../src/lib/mesh/addons/span-store.js';
import type { ZipkinSpan } from '../../../src/lib/runtime/traces.js';

function span(n: number): ZipkinSpan {
  return {
    traceId: n.toString(16).padStart(32, '0'),
    id: n.toString(16).padStart(16, '0'),
    name: 'reviews.default.svc.cluster.local/reviews/0',
    kind: n % 2 ? 'CLIENT' : 'SERVER',
    timestamp: 1_700_000_000_000_000 + n,
    duration: 1000,
    localEndpoint: { serviceName: 'productpage-v1.default' },
    tags: { 'istio.mesh_id': 'cluster.local', 'guid:x-request-id': `request-${n}`, padding: 'x'.repeat(300) },
  };
}

describe('span store', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-spans-'));
    dirs.push(dir);
    return dir;
  };
  after(async () => {
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  it('a store past its size drops the oldest spans first and keeps the newest, across rotated segments', async () => {
    const dir = await tempDir();
    const store = new SpanStore(dir);
    const maxBytes = 64 * 1024;
    store.configure({ maxBytes, maxAgeMs: 24 * 3600 * 1000 });
    // About 200 KiB of spans, ten at a time, as the agent's reads bring them.
    for (let batch = 0; batch < 50; batch++) await store.append(Array.from({ length: 10 }, (_, i) => span(batch * 10 + i)));
    const usage = await spanStoreUsage(dir);
    assert.ok(usage.bytes <= maxBytes, `${usage.bytes} bytes kept, bound ${maxBytes}`);
    assert.ok(usage.segments >= 4, `${usage.segments} segments: the store rotated`);
    const kept = await readStoredSpans(dir);
    const ids = kept.map((s) => Number.parseInt(s.id, 16));
    assert.ok(ids.includes(499), 'the newest span is kept');
    assert.ok(!ids.includes(0), 'the oldest span is dropped');
    // What is kept is one unbroken run ending at the newest: nothing newer was dropped before something older.
    assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => 500 - ids.length + i));
    // Dropping is by whole segments (an eighth of the bound each): at least half the bound stays in use.
    assert.ok(usage.bytes >= maxBytes / 2, `${usage.bytes} bytes in use`);
  });

  it('segments older than the age bound are dropped whatever the size; newer ones stay', async () => {
    const dir = await tempDir();
    const store = new SpanStore(dir);
    store.configure({ maxBytes: 64 * 1024 * 1024, maxAgeMs: 3600 * 1000 });
    await store.append([span(1), span(2)]);
    const [old] = await fs.readdir(dir);
    // The first segment was written two hours ago.
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    await fs.utimes(path.join(dir, old!), twoHoursAgo, twoHoursAgo);
    const fresh = new SpanStore(dir);
    fresh.configure({ maxBytes: 64 * 1024 * 1024, maxAgeMs: 3600 * 1000 });
    await fresh.append([span(3)]);
    const ids = (await readStoredSpans(dir)).map((s) => Number.parseInt(s.id, 16));
    assert.deepEqual(ids, [3]);
  });

  it('sizes are read as people write them', () => {
    assert.equal(parseByteSize('64MiB'), 64 * 1024 * 1024);
    assert.equal(parseByteSize('16KiB'), 16 * 1024);
    assert.equal(parseByteSize('2048'), 2048);
    assert.equal(parseByteSize('lots'), null);
  });
});
