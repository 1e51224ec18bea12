// The resilience counters on each sidecar's metrics path, with live traffic through a caller's sidecar:
// a denied request, a rate-limited one, a connection-pool overflow and an outlier ejection each move
// their counter by exactly as many as the caller saw.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { startShiftMesh, type ShiftMesh } from '../support/shift-mesh.js';
import { request } from '../support/net.js';
import { eventually } from './support.js';
import { parsePrometheusText, samplesOf, sumOf } from '../../src/lib/runtime/prometheus.js';
import { jsonOutput } from '../support/output-schemas.js';
import { RESILIENCE_POLICY } from '../support/resilience-policy.js';
import type { Stats } from '../../src/lib/runtime/model.js';

const V1 = 'outbound|reviews.default.svc.cluster.local|v1';
const V2 = 'outbound|reviews.default.svc.cluster.local|v2';

describe('resilience counters on the sidecars\' metrics paths', { timeout: 240_000 }, () => {
  let mesh: ShiftMesh;
  let file: string;

  before(async () => {
    // v1 answers slowly (a pool of one connection overflows under a burst); v2 answers 500 to everything.
    mesh = await startShiftMesh('resilience-counters', { versions: { v1: { DELAY_MS: '300' }, v2: { FAIL_EVERY: '1' } } });
    file = path.join(mesh.h.dir, 'resilience.yaml');
    await fs.writeFile(file, RESILIENCE_POLICY);
  });
  after(async () => {
    await mesh?.stop();
  });

  async function route(weights: Record<string, number>): Promise<void> {
    await mesh.reset(weights);
    const applied = await mesh.h.run(['apply', '-f', file, '--timeout', '60s']);
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
  }

  async function counter(proxy: string, name: string, cluster?: string): Promise<number> {
    const { port } = JSON.parse(await fs.readFile(path.join(mesh.h.home, 'telemetry', 'endpoint.json'), 'utf8')) as { port: number };
    const text = await (await fetch(`http://127.0.0.1:${port}/proxies/${proxy}/stats/prometheus`)).text();
    return sumOf(samplesOf(parsePrometheusText(text), name, cluster ? { cluster_name: cluster } : {})) ?? 0;
  }

  async function inspectStats(pod: string): Promise<Stats> {
    const r = await mesh.h.run(['inspect', 'pod', pod, '--section', 'stats', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return jsonOutput<{ stats: Stats }>('inspect', r.stdout).stats;
  }

  const send = async (p: string) => (await request({ port: await mesh.callerPort(), path: p, headers: { host: 'reviews' }, timeoutMs: 10_000 })).status;

  it('a denial and a rate-limited request: envoy_http_rbac_denied and envoy_http_local_rate_limit_rate_limited move by exactly the 403s and 429s sent', async () => {
    await route({ v1: 100, v2: 0 });
    const denied0 = await counter('reviews-v1-0', 'envoy_http_rbac_denied');
    const limited0 = await counter('reviews-v1-0', 'envoy_http_local_rate_limit_rate_limited');
    const statuses: number[] = [];
    for (const p of ['/admin', '/admin/users', '/reviews/1']) statuses.push(await send(p));
    for (let i = 0; i < 4; i++) statuses.push(await send('/limited'));
    assert.deepEqual(statuses, [403, 403, 200, 200, 200, 429, 429]);
    await eventually('the denials and the rate-limited requests counted', async () => (await counter('reviews-v1-0', 'envoy_http_rbac_denied')) - denied0 === 2
      && (await counter('reviews-v1-0', 'envoy_http_local_rate_limit_rate_limited')) - limited0 === 2, 20_000, 200);
    // A while later, still exactly those: nothing else counts as a denial or a limit.
    assert.equal((await counter('reviews-v1-0', 'envoy_http_rbac_denied')) - denied0, 2);
    assert.equal((await counter('reviews-v1-0', 'envoy_http_local_rate_limit_rate_limited')) - limited0, 2);
    // inspect pod reads the same, from the proxy's log.
    const inbound = (await inspectStats('reviews-v1-0')).inbound!;
    assert.deepEqual(inbound.resilience, { retried: 0, overflows: 0, rateLimited: 2, denied: 2, timeouts: 0, noRoute: 0, upstreamFailures: 0, ejected: null });
    const text = await mesh.h.run(['inspect', 'pod', 'reviews-v1-0', '--section', 'stats']);
    assert.match(text.stdout, /RETRIES\s+EJECTIONS\s+POLICY/);
    assert.match(text.stdout, /inbound .*denied 2, rate-limited 2/);
  });

  it('an overflow: envoy_cluster_upstream_rq_pending_overflow of the caller\'s v1 upstream moves by exactly the 503s a burst got', async () => {
    await route({ v1: 100, v2: 0 });
    const before = await counter('caller-0', 'envoy_cluster_upstream_rq_pending_overflow', V1);
    const port = await mesh.callerPort();
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => request({ port, path: `/reviews/${i}`, headers: { host: 'reviews' }, timeoutMs: 20_000 })));
    const overflowed = burst.filter((a) => a.status === 503).length;
    assert.ok(overflowed > 0, `a burst of 12 against a pool of one connection and one pending request overflows (${burst.map((a) => a.status).join(',')})`);
    assert.equal(burst.filter((a) => a.status === 200).length + overflowed, 12);
    const v1 = (await inspectStats('caller-0')).upstreams.find((u) => u.subset === 'v1')!;
    assert.equal(v1.resilience!.overflows, overflowed, 'inspect pod caller-0 shows the overflows on reviews|v1');
    await eventually(`${overflowed} overflows counted`, async () => (await counter('caller-0', 'envoy_cluster_upstream_rq_pending_overflow', V1)) - before === overflowed, 20_000, 200).catch(async (err: Error) => {
      const log = await fs.readFile(path.join(mesh.h.home, 'pods', 'caller-0', 'access.log'), 'utf8');
      throw new Error(`${err.message}; the caller's 503 lines: ${log.split('\n').filter((l) => l.includes('"status":503')).slice(0, 3).join('\n')}`);
    });
  });

  it('an ejection: the failing v2 endpoint shows as ejected now and one ejection enforced on the caller\'s v2 upstream', async () => {
    await route({ v1: 0, v2: 100 });
    const enforced0 = await counter('caller-0', 'envoy_cluster_outlier_detection_ejections_enforced_total', V2);
    assert.equal(await counter('caller-0', 'envoy_cluster_outlier_detection_ejections_active', V2), 0);
    // Three consecutive 500s eject it; bounded in count.
    const statuses: number[] = [];
    for (let i = 0; i < 10 && !statuses.includes(503); i++) statuses.push(await send(`/reviews/${i}`));
    assert.deepEqual(statuses.slice(0, 3), [500, 500, 500], statuses.join(','));
    await eventually('v2 ejected', async () => (await counter('caller-0', 'envoy_cluster_outlier_detection_ejections_active', V2)) === 1, 20_000, 200);
    assert.equal((await counter('caller-0', 'envoy_cluster_outlier_detection_ejections_enforced_total', V2)) - enforced0, 1);
  });
});
