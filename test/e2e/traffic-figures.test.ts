// One traffic pipeline: for the same window of the same sidecars, the figures a `route shift` analysis
// judged (as `route status -o json` records them) are the figures `top -o json --until` shows. The load
// is bounded and ends, with every request logged, before the analysis reads the window, so the logs no
// longer change between the shift's read and top's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startShiftMesh, type ShiftMesh } from '../support/shift-mesh.js';
import { startLoad } from '../support/load.js';
import { hasStackTrace } from '../support/cli.js';
import { eventually } from './support.js';
import { readAccessLog } from '../../src/lib/runtime/haproxy/access-log.js';
import { figuresPart } from '../../src/lib/runtime/figures.js';
import type { ShiftEvent } from '../../src/lib/shift/events.js';
import type { RouteStatus } from '../../src/lib/shift/status.js';
import type { TopSnapshot } from '../../src/lib/mesh/top.js';
import type { ProxySnapshot } from '../../src/lib/runtime/model.js';

type Of<T extends ShiftEvent['type']> = Extract<ShiftEvent, { type: T }>;
const REVIEWS = 'reviews.default.svc.cluster.local';

describe('route shift and top read the same figures', { timeout: 240_000 }, () => {
  let mesh: ShiftMesh;

  before(async () => {
    // v2 fails every fourth request and is slower: figures with failures and distinct percentiles.
    mesh = await startShiftMesh('figures', { versions: { v1: { DELAY_MS: '2' }, v2: { FAIL_EVERY: '4', DELAY_MS: '15' } } });
  });
  after(async () => {
    await mesh?.stop();
  });

  it('the gate figures of an analysis equal top\'s figures for its window', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    const shift = mesh.startShift(['reviews', '--to', 'v2', '--steps', '50,100', '--interval', '8s', '--min-requests', '5', '--min-success-rate', '50']);
    try {
      await shift.waitFor((e) => e.type === 'step' && e.step === 1);
      const callerLog = path.join(mesh.h.home, 'pods', 'caller-0', 'access.log');
      const loadFrom = Date.now();
      // 80 requests at 40 rps: bounded, and over well before the 8 s window ends.
      const load = startLoad({ port: await mesh.callerPort(), host: 'reviews', rps: 40, maxMs: 2000 });
      await eventually('an answer to each of the 80 requests', () => load.samples.length >= 80, 20_000);
      await load.stop();
      await eventually('every request of the load logged by the caller\'s sidecar', async () => {
        const { entries } = await readAccessLog(callerLog);
        return entries.filter((e) => e.direction === 'outbound' && e.startMs >= loadFrom).length >= load.samples.length;
      }, 20_000);
      const settledAt = Date.now();
      const analysis = await shift.waitFor((e) => e.type === 'analysis' && e.step === 1, 60_000) as Of<'analysis'>;
      const status = await mesh.h.run(['route', 'status', 'reviews', '-o', 'json']);
      const recorded = (JSON.parse(status.stdout) as RouteStatus).analyses.find((a) => a.cursor === 0)!;
      assert.ok(recorded, status.stdout);
      assert.ok(settledAt < Date.parse(recorded.at), `the load was logged completely (${new Date(settledAt).toISOString()}) before the analysis read its window (${recorded.at})`);
      assert.deepEqual(recorded.canary, analysis.canary, 'the NDJSON event and the record hold the same figures');
      assert.ok(recorded.canary.requests >= 5 && recorded.stable.requests >= 5, JSON.stringify(recorded));
      assert.ok(recorded.canary.statusClasses['5xx'] > 0, 'v2 failed some requests');

      const top = await mesh.h.run(['top', 'reviews', '-o', 'json', '--window', `${recorded.windowMs}ms`, '--until', recorded.at]);
      assert.equal(top.code, 0, top.stderr);
      const snapshot = JSON.parse(top.stdout) as TopSnapshot;
      assert.equal(snapshot.readAt, recorded.at);
      const row = (subset: string) => snapshot.rows.find((r) => r.host === REVIEWS && r.subset === subset)!;
      assert.deepEqual(figuresPart(row('v2')), figuresPart(recorded.canary), 'v2: top and the shift\'s gates');
      assert.deepEqual(figuresPart(row('v1')), figuresPart(recorded.stable), 'v1: top and the shift\'s gates');
      // The text of both says the same success rate, rounded down alike.
      const text = await mesh.h.run(['top', 'reviews', '--window', `${recorded.windowMs}ms`, '--until', recorded.at]);
      assert.match(text.stdout, new RegExp(`v2 +${recorded.canary.requests} +[\\d.]+ +${recorded.canary.successRate!.toFixed(2)}%`));
    } finally {
      await mesh.h.run(['route', 'abort', 'reviews']);
      await shift.exited;
    }
  });

  it('a window without requests says "not enough traffic" in top, never 0% or NaN', async () => {
    const r = await mesh.h.run(['top', 'reviews', '--window', '5s', '--until', '2001-01-01T00:00:00.000Z']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /reviews +default +v1 +0 +0\.0 +not enough traffic +- +- +-/);
    assert.doesNotMatch(r.stdout, /NaN|0\.00%/);
    const json = JSON.parse((await mesh.h.run(['top', 'reviews', '-o', 'json', '--window', '5s', '--until', '2001-01-01T00:00:00.000Z'])).stdout) as TopSnapshot;
    assert.ok(json.rows.length >= 2 && json.rows.every((row) => row.requests === 0 && row.successRate === null && row.latencyMs.p99 === null));
    // inspect says it in the same words for an upstream nobody called (the caller never calls details).
    const inspect = await mesh.h.run(['inspect', 'pod', 'caller-0', '-s', 'stats', '-o', 'json']);
    assert.equal(inspect.code, 0, inspect.stderr);
    const details = (JSON.parse(inspect.stdout) as ProxySnapshot).stats!.upstreams.find((u) => u.host === 'details.default.svc.cluster.local')!;
    assert.deepEqual([details.requests, details.successRate, details.missing.successRate, details.missing.latencyMs], [0, null, 'not enough traffic', 'not enough traffic']);
  });

  it('--until that is not a time, or with --watch: one sentence, exit 2', async () => {
    for (const [args, message] of [
      [['--until', 'yesterday'], /^Error: --until yesterday is not a time; write it in ISO-8601, e\.g\. .*\.$/],
      [['--until', '2026-01-01T00:00:00Z', '--watch'], /^Error: --until fixes the window and --watch moves it on; drop one of them\.$/],
    ] as [string[], RegExp][]) {
      const r = await mesh.h.run(['top', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr.trim(), message);
      assert.ok(!hasStackTrace(r.stderr));
    }
  });
});
