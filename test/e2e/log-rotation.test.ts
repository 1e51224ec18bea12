// A running sidecar's access log set aside past install --log-max-size, on a live local mesh under a
// steady load: the agent reloads the proxy (hitless) with its log set aside as access.log.1 and a new
// one begun, no request fails, and Istio's metrics, read from the logs while they rotate as Prometheus
// would scrape them, still count every request at both reporters.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { assertRefused } from '../support/cli.js';
import { failures, startLoad } from '../support/load.js';
import { SHIFT_APP } from '../support/shift-mesh.js';
import { shiftPolicy } from '../support/shift-policy.js';
import { proxyPaths } from '../../src/lib/runtime/haproxy/types.js';
import { readPidFile, type HandOverRecord } from '../../src/lib/system/pid-file.js';
import { parsePrometheusText, samplesOf, sumOf } from '../../src/lib/runtime/prometheus.js';
import { eventually, makeHome, type E2eHome } from './support.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const MAX_SIZE = 64 * 1024;

let h: E2eHome;

before(async () => {
  h = await makeHome('mesh-logrot');
});

after(async () => {
  await h.cleanup();
});

async function placedPort(name: string): Promise<number> {
  const { pods } = JSON.parse(await fs.readFile(path.join(h.home, 'state', 'pods.json'), 'utf8')) as { pods: { name: string; ports: { outbound: number } }[] };
  const pod = pods.find((p) => p.name === name);
  if (!pod) throw new Error(`no pod ${name} in the placement`);
  return pod.ports.outbound;
}

async function requestsCounted(reporter: string): Promise<number> {
  const { port } = JSON.parse(await fs.readFile(path.join(h.home, 'telemetry', 'endpoint.json'), 'utf8')) as { port: number };
  const r = await fetch(`http://127.0.0.1:${port}/stats/prometheus`);
  assert.equal(r.status, 200);
  return sumOf(samplesOf(parsePrometheusText(await r.text()), 'istio_requests_total', { reporter, destination_service: REVIEWS })) ?? 0;
}

test('install --log-max-size refuses what is not a size, or is out of range, with one sentence (exit 2)', async () => {
  for (const [value, sentence] of [['20', /--log-max-size 20 is not a size; write it with its unit/], ['1KiB', /--log-max-size must be from 64KiB to 1GiB, not 1KiB\./], ['2GiB', /--log-max-size must be from 64KiB to 1GiB, not 2GiB\./]] as const) {
    assertRefused(await h.run(['install', '--log-max-size', value]), 2, sentence, `install --log-max-size ${value}`);
  }
  await assert.rejects(fs.access(path.join(h.home, 'mesh.json')));
});

test('past --log-max-size a running sidecar\'s access log is set aside through a reload: no request fails, every request is counted', { timeout: 240_000 }, async (t) => {
  const install = await h.run(['install', '--log-max-size', '64KiB']);
  assert.equal(install.code, 0, install.stderr);
  const again = await h.run(['install', '--log-max-size', '1MiB']);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /installed with logs set aside past 64KiB, not --log-max-size 1MiB/);

  const policyFile = path.join(h.dir, 'policy.yaml');
  await fs.writeFile(policyFile, shiftPolicy({ command: ['node', SHIFT_APP], versions: { v1: {} }, route: { v1: 100 } }));
  const applied = await h.run(['apply', '-f', policyFile, '--timeout', '60s']);
  assert.equal(applied.code, 0, applied.stdout + applied.stderr);

  const reviews = proxyPaths(path.join(h.home, 'pods', 'reviews-v1-0'));
  const load = startLoad({ port: await placedPort('caller-0'), host: 'reviews', rps: 100, maxMs: 60_000 });
  try {
    // The metrics are read every half second meanwhile, as a scrape would: each read follows the logs set aside since.
    await eventually('the reviews sidecar\'s access log set aside', async () => {
      await requestsCounted('destination');
      const reloads = (await readPidFile<HandOverRecord>(reviews.pid))?.reloads ?? 0;
      return reloads >= 1 && (await fs.stat(`${reviews.accessLog}.1`).then(() => true, () => false));
    }, 40_000, 500);
    // A little more traffic into the new log, then the load ends.
    const settled = load.samples.length + 100;
    await eventually('100 more answers', () => load.samples.length >= settled, 20_000, 100);
  } finally {
    await load.stop();
  }
  const samples = load.samples;
  t.diagnostic(`${samples.length} requests, ${failures(samples).length} failed`);
  assert.deepEqual(failures(samples).map((s) => `${s.status} ${s.error ?? ''}`), [], `${failures(samples).length} of ${samples.length} requests failed`);

  const [aside, fresh] = await Promise.all([fs.stat(`${reviews.accessLog}.1`), fs.stat(reviews.accessLog)]);
  assert.ok(aside.size > MAX_SIZE, `the set-aside log holds what passed the size (${aside.size} bytes)`);
  assert.ok(fresh.size < aside.size, `the new log began small (${fresh.size} bytes)`);
  const agentLog = await fs.readFile(path.join(h.home, 'agent', 'agent.log'), 'utf8');
  assert.match(agentLog, /reviews-v1-0\/proxy: its access log passed the rotation size and was set aside as access\.log\.1/);

  // Every request at both ends, however many times each sidecar's log was set aside meanwhile.
  await eventually('every request counted by both reporters', async () => (await requestsCounted('destination')) === samples.length && (await requestsCounted('source')) === samples.length, 20_000, 200);
});
