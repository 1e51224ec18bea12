// Istio's standard metrics from a live local mesh, and a real Prometheus beside it: N requests sent
// through a caller's sidecar are N in istio_requests_total at each reporter, on the agent's endpoint
// and in Prometheus once it scraped them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { startShiftMesh, type ShiftMesh } from '../support/shift-mesh.js';
import { startLoad } from '../support/load.js';
import { eventually } from './support.js';
import { jsonOutput } from '../support/output-schemas.js';
import { parsePrometheusText, samplesOf, sumOf } from '../../src/lib/runtime/prometheus.js';

const REVIEWS = 'reviews.default.svc.cluster.local';

async function agentMetrics(home: string): Promise<string> {
  const { port } = JSON.parse(await fs.readFile(path.join(home, 'telemetry', 'endpoint.json'), 'utf8')) as { port: number };
  const r = await fetch(`http://127.0.0.1:${port}/stats/prometheus`);
  assert.equal(r.status, 200);
  return r.text();
}

async function promQuery(url: string, query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await r.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  assert.equal(body.status, 'success', JSON.stringify(body));
  return body.data.result;
}

describe('Istio standard metrics from the local mesh', { timeout: 240_000 }, () => {
  let mesh: ShiftMesh;
  const sent = 60;

  before(async () => {
    mesh = await startShiftMesh('istio-metrics', { versions: { v1: {}, v2: {} } });
  });
  after(async () => {
    await mesh?.stop();
  });

  it('N requests sent → N counted by the source and by the destination reporter, with Istio\'s labels', async () => {
    await mesh.reset({ v1: 50, v2: 50 });
    const load = startLoad({ port: await mesh.callerPort(), host: 'reviews', rps: 30, maxMs: 2000 });
    await eventually(`answers to the ${sent} requests`, () => load.samples.length >= sent, 30_000);
    const samples = await load.stop();
    assert.equal(samples.length, sent);
    assert.equal(samples.filter((s) => s.status === 200).length, sent);
    let families = parsePrometheusText('');
    // The lines are written as the requests end; the count is exact once both sidecars wrote theirs.
    await eventually('both reports of every request', async () => {
      families = parsePrometheusText(await agentMetrics(mesh.h.home));
      return sumOf(samplesOf(families, 'istio_requests_total', { reporter: 'destination', destination_service: REVIEWS })) === sent
        && sumOf(samplesOf(families, 'istio_requests_total', { reporter: 'source', destination_service: REVIEWS })) === sent;
    }, 20_000, 200);
    for (const version of ['v1', 'v2']) {
      const source = sumOf(samplesOf(families, 'istio_requests_total', { reporter: 'source', destination_version: version }))!;
      const destination = sumOf(samplesOf(families, 'istio_requests_total', { reporter: 'destination', destination_version: version }))!;
      assert.equal(source, destination, `${version}: both ends counted the same requests`);
      assert.equal(source, samples.filter((s) => s.version === version).length, `${version}: as many as it answered`);
    }
    const [inbound] = samplesOf(families, 'istio_requests_total', { reporter: 'destination', destination_version: 'v1' });
    assert.equal(inbound!.labels.source_workload, 'caller');
    assert.equal(inbound!.labels.source_principal, 'spiffe://cluster.local/ns/default/sa/caller');
    assert.equal(inbound!.labels.destination_workload, 'reviews-v1');
    assert.equal(inbound!.labels.destination_principal, 'spiffe://cluster.local/ns/default/sa/reviews');
    assert.equal(inbound!.labels.connection_security_policy, 'mutual_tls');
    assert.equal(inbound!.labels.response_flags, '-');
    assert.equal(sumOf(samplesOf(families, 'istio_request_duration_milliseconds', { reporter: 'destination', destination_service: REVIEWS }, 'istio_request_duration_milliseconds_count')), sent);
  });

  it('addons enable prometheus runs a real Prometheus whose istio_requests_total holds the counts sent', async () => {
    const enabled = await mesh.h.run(['addons', 'enable', 'prometheus', '--yes', '--scrape-interval', '1s', '-o', 'json']);
    assert.equal(enabled.code, 0, enabled.stderr);
    const result = jsonOutput<{ status: string; url: string }>('addons', enabled.stdout);
    assert.equal(result.status, 'enabled');
    const url = await mesh.h.run(['dashboard', 'prometheus', '--url']);
    assert.equal(url.code, 0, url.stderr);
    assert.equal(url.stdout.trim(), result.url);
    assert.match(result.url, /^http:\/\/127\.0\.0\.1:\d+$/);

    // Counted from now: the load goes to v2 only.
    const targets = JSON.parse(await fs.readFile(path.join(mesh.h.home, 'telemetry', 'scrape-targets.json'), 'utf8')) as { labels: { pod: string } }[];
    assert.deepEqual(targets.map((t) => t.labels.pod).sort(), ['caller-0', 'reviews-v1-0', 'reviews-v2-0'], 'one scrape target per proxy');
    await eventually('Prometheus scraping every proxy', async () => (await promQuery(result.url, 'up{job="meshctl-proxies"} == 1')).length === targets.length, 60_000, 500);
    const baseline = Number((await promQuery(result.url, `sum(istio_requests_total{reporter="destination",destination_workload="reviews-v2"})`))[0]?.value[1] ?? 0);
    await mesh.reset({ v1: 0, v2: 100 });
    const load = startLoad({ port: await mesh.callerPort(), host: 'reviews', rps: 30, maxMs: 1000 });
    await eventually('answers to 30 requests', () => load.samples.length >= 30, 30_000);
    const samples = await load.stop();
    assert.equal(samples.filter((s) => s.status === 200 && s.version === 'v2').length, 30);
    await eventually('Prometheus holding the 30 requests at each reporter', async () => {
      const counts = await Promise.all(['source', 'destination'].map(async (reporter) => Number((await promQuery(result.url, `sum(istio_requests_total{reporter="${reporter}",destination_workload="reviews-v2"})`))[0]?.value[1] ?? 0)));
      return counts.every((c) => c === baseline + 30);
    }, 60_000, 500);

    const again = await mesh.h.run(['addons', 'enable', 'prometheus']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already enabled/);
  });
});
