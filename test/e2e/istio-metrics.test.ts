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
import { ISTIO_DEFAULT_BUCKETS } from '../../src/lib/runtime/istio-metrics.js';
import { figuresPart, type TrafficFigures, type UpstreamFigures } from '../../src/lib/runtime/figures.js';
import { promqlFigures } from '../../src/lib/shift/promql.js';
import { evaluateGates } from '../../src/lib/shift/gates.js';
import { DEFAULT_GATES } from '../../src/lib/shift/plan.js';
import { freePort } from '../support/net.js';
import { ROOT } from '../support/shared.js';
import type { ShiftEvent } from '../../src/lib/shift/events.js';

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
    // v2 fails every tenth request and is slower: gates with something to find.
    mesh = await startShiftMesh('istio-metrics', { versions: { v1: { DELAY_MS: '2' }, v2: { FAIL_EVERY: '10', DELAY_MS: '12' } } });
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
    assert.ok(samples.every((s) => s.status === 200 || (s.status === 500 && s.version === 'v2')), JSON.stringify(samples.filter((s) => s.status !== 200)));
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
    assert.equal(sumOf(samplesOf(families, 'istio_requests_total', { reporter: 'destination', response_code: '500' })), samples.filter((s) => s.status === 500).length, 'the 500s, by response_code');
    const [inbound] = samplesOf(families, 'istio_requests_total', { reporter: 'destination', destination_version: 'v1' });
    assert.equal(inbound!.labels.source_workload, 'caller');
    assert.equal(inbound!.labels.source_principal, 'spiffe://cluster.local/ns/default/sa/caller');
    assert.equal(inbound!.labels.destination_workload, 'reviews-v1');
    assert.equal(inbound!.labels.destination_principal, 'spiffe://cluster.local/ns/default/sa/reviews');
    assert.equal(inbound!.labels.connection_security_policy, 'mutual_tls');
    assert.equal(inbound!.labels.response_flags, '-');
    assert.equal(sumOf(samplesOf(families, 'istio_request_duration_milliseconds', { reporter: 'destination', destination_service: REVIEWS }, 'istio_request_duration_milliseconds_count')), sent);

    // A request no route takes carries Envoy's NR flag, as the access log does.
    const stray = startLoad({ port: await mesh.callerPort(), host: 'nowhere', rps: 10, maxMs: 100 });
    await eventually('an answer for the unrouted request', () => stray.samples.length >= 1, 10_000);
    assert.equal((await stray.stop())[0]!.status, 404);
    await eventually('the NR report', async () => sumOf(samplesOf(parsePrometheusText(await agentMetrics(mesh.h.home)), 'istio_requests_total', { reporter: 'source', response_flags: 'NR', response_code: '404' })) === 1, 20_000, 200);
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
    assert.equal(samples.filter((s) => s.version === 'v2').length, 30);
    await eventually('Prometheus holding the 30 requests at each reporter', async () => {
      const counts = await Promise.all(['source', 'destination'].map(async (reporter) => Number((await promQuery(result.url, `sum(istio_requests_total{reporter="${reporter}",destination_workload="reviews-v2"})`))[0]?.value[1] ?? 0)));
      return counts.every((c) => c === baseline + 30);
    }, 60_000, 500);

    const again = await mesh.h.run(['addons', 'enable', 'prometheus']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already enabled/);
  });

  it('the PromQL gates (Flagger\'s Istio queries) and the access-log gates judge the same traffic alike', async () => {
    const url = (await mesh.h.run(['dashboard', 'prometheus', '--url'])).stdout.trim();
    const { sinceMs, untilMs } = await splitTraffic();
    // Prometheus has the window once it scraped every proxy after its end.
    await eventually('a scrape after the window', async () => (await promQuery(url, 'min(timestamp(up{job="meshctl-proxies"}))')).every((x) => Number(x.value[1]) * 1000 > untilMs + 1000), 30_000, 500);
    await assertSameVerdicts(url, sinceMs, untilMs, (scope) => promqlFigures(url, scope, { sinceMs: sinceMs - 2000, untilMs: untilMs + 2000 }));
  });

  it('a shift gated on PromQL rolls back a failing subset; a Prometheus that does not answer holds the shift, never rolls it back', async () => {
    await mesh.reset({ v1: 100, v2: 0 });
    const load = startLoad({ port: await mesh.callerPort(), host: 'reviews', rps: 30, maxMs: 60_000 });
    try {
      const gated = mesh.startShift(['reviews', '--to', 'v2', '--steps', '50,100', '--interval', '6s', '--min-requests', '10', '--min-success-rate', '95', '--metrics', 'prometheus']);
      const analysis = await gated.waitFor((e) => e.type === 'analysis', 60_000) as Extract<ShiftEvent, { type: 'analysis' }>;
      assert.equal(analysis.outcome, 'failed', JSON.stringify(analysis));
      assert.match(analysis.reason ?? '', /success rate \d+(\.\d)?% < 95%/);
      const ended = await gated.exited;
      assert.equal(ended.code, 1, ended.stderr);
      assert.ok(gated.events.some((e) => e.type === 'rolled_back'), 'rolled back');

      // A custom gate on the 5xx count alone: the built-in success rate passes at 50%, the gate does not.
      await mesh.reset({ v1: 100, v2: 0 });
      const custom = mesh.startShift(['reviews', '--to', 'v2', '--steps', '50,100', '--interval', '6s', '--min-requests', '10', '--min-success-rate', '50',
        '--gate', 'errors=sum(increase(istio_requests_total{reporter="destination",destination_workload_namespace="{{namespace}}",destination_workload=~"{{target}}",response_code=~"5.."}[{{interval}}]))<1']);
      const judged = await custom.waitFor((e) => e.type === 'analysis', 60_000) as Extract<ShiftEvent, { type: 'analysis' }>;
      assert.equal(judged.outcome, 'failed', JSON.stringify(judged));
      assert.deepEqual(judged.checks.map((c) => [c.gate, c.passed]), [['requests', true], ['success-rate', true], ['latency-p99', true], ['custom:errors', false]]);
      assert.match(judged.reason ?? '', /^errors [\d.]+ not < 1$/);
      assert.equal((await custom.exited).code, 1);

      await mesh.reset({ v1: 100, v2: 0 });
      const closed = await freePort();
      const blind = mesh.startShift(['reviews', '--to', 'v2', '--steps', '50,100', '--interval', '2s', '--prometheus-url', `http://127.0.0.1:${closed}`]);
      const unavailable = await blind.waitFor((e) => e.type === 'analysis', 60_000) as Extract<ShiftEvent, { type: 'analysis' }>;
      assert.equal(unavailable.outcome, 'metrics_unavailable');
      assert.match(unavailable.reason ?? '', /^metrics unavailable: Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer/);
      await blind.waitFor((e) => e.type === 'hold', 30_000);
      assert.ok(!blind.events.some((e) => e.type === 'rolled_back'), 'never rolled back');
      await blind.exited;
    } finally {
      await load.stop();
      await mesh.h.run(['route', 'abort', 'reviews']);
    }
  });

  it('every PromQL of the shipped Grafana dashboards runs on the live mesh\'s Prometheus and returns the series its panel expects', async () => {
    const url = (await mesh.h.run(['dashboard', 'prometheus', '--url'])).stdout.trim();
    // Traffic of the last minute, so that every rate has something to show.
    await mesh.reset({ v1: 50, v2: 50 });
    const load = startLoad({ port: await mesh.callerPort(), host: 'reviews', rps: 20, maxMs: 3000 });
    await eventually('answers to 60 requests', () => load.samples.length >= 60, 30_000);
    await load.stop();
    const doneAt = Date.now();
    await eventually('a scrape after the load', async () => (await promQuery(url, 'min(timestamp(up{job="meshctl-proxies"}))')).every((x) => Number(x.value[1]) * 1000 > doneAt + 1000), 30_000, 500);
    const bindings: Record<string, string>[] = [
      { service: REVIEWS, namespace: 'default', workload: 'reviews-v2' },
      { service: REVIEWS, namespace: 'default', workload: 'caller' },
    ];
    const dir = path.join(ROOT, 'dashboards');
    const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    assert.deepEqual(files, ['mesh-overview.json', 'service.json', 'workload.json']);
    for (const file of files) {
      const dashboard = JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')) as Dashboard;
      const fill = (expr: string, b: Record<string, string>) => expr.replace(/\$__rate_interval/g, '1m').replace(/\$(\w+)/g, (_, v: string) => b[v] ?? `$${v}`);
      for (const variable of dashboard.templating.list) {
        const m = /^label_values\((.*), (\w+)\)$/.exec(variable.query);
        assert.ok(m, `${file}: $${variable.name} is a label_values() query`);
        const series = await promQuery(url, fill(m[1]!, bindings[0]!));
        assert.ok(series.some((x) => x.metric[m[2]!]), `${file}: $${variable.name} lists values of ${m[2]}`);
      }
      for (const panel of dashboard.panels) {
        for (const target of panel.targets) {
          const results = await Promise.all(bindings.map((b) => promQuery(url, fill(target.expr, b))));
          if (target.expr.includes('istio_tcp_')) continue; // the local mesh routes HTTP only: a valid query, and no series
          assert.ok(results.some((r) => r.length > 0), `${file} "${panel.title}": ${target.expr} returned no series`);
        }
      }
    }
  });

  /** 120 requests split evenly over v1 and v2; the window ends a second after the last answer, so its access-log lines are in it. */
  async function splitTraffic(): Promise<{ sinceMs: number; untilMs: number }> {
    await mesh.reset({ v1: 50, v2: 50 });
    const sinceMs = Date.now();
    const load = startLoad({ port: await mesh.callerPort(), host: 'reviews', rps: 40, maxMs: 3000 });
    await eventually('answers to 120 requests', () => load.samples.length >= 120, 30_000);
    await load.stop();
    return { sinceMs, untilMs: Date.now() + 1000 };
  }

  /** The access-log gates and the PromQL gates over one window: the same verdict per subset, close success rates, p99 in the same bucket. */
  async function assertSameVerdicts(url: string, sinceMs: number, untilMs: number, fromPrometheusOf: (scope: { namespace: string; workloads: string[] }) => Promise<TrafficFigures>): Promise<void> {
    const top = await mesh.h.run(['top', 'reviews', '-o', 'json', '--window', `${untilMs - sinceMs}ms`, '--until', new Date(untilMs).toISOString()]);
    assert.equal(top.code, 0, top.stderr);
    const rows = (JSON.parse(top.stdout) as { rows: (UpstreamFigures & { subset: string })[] }).rows;
    const gates = { ...DEFAULT_GATES, minRequests: 10, minSuccessRate: 95, maxLatencyP99Ms: 200 };
    for (const subset of ['v1', 'v2']) {
      const fromLogs = rows.find((r) => r.host === REVIEWS && r.subset === subset)!;
      const fromPrometheus = await fromPrometheusOf({ namespace: 'default', workloads: [`reviews-${subset}`] });
      const logVerdict = evaluateGates({ subset, ...figuresPart(fromLogs) }, gates, untilMs - sinceMs);
      const promVerdict = evaluateGates({ subset, ...fromPrometheus }, gates, untilMs - sinceMs);
      assert.deepEqual(promVerdict.checks.map((c) => [c.gate, c.passed]), logVerdict.checks.map((c) => [c.gate, c.passed]), `${subset}: the same verdict (logs: ${logVerdict.reason}; Prometheus: ${promVerdict.reason})`);
      assert.equal(logVerdict.outcome, subset === 'v2' ? 'failed' : 'passed', `${subset}: ${logVerdict.reason}`);
      // Prometheus extrapolates each series' increase to the window's edges, and a series born inside
      // the window (the first 500 of a subset) is extrapolated from fewer scrapes than the 200s, so the
      // ratio is close to the logs' exact one but not equal: 17 of 19 against 18 of 20 has been seen.
      assert.ok(Math.abs(fromPrometheus.successRate! - fromLogs.successRate!) <= 3, `${subset}: success rate ${fromPrometheus.successRate} (Prometheus) and ${fromLogs.successRate} (logs)`);
      // p99: the histogram knows the bucket, not the value — both in the same bucket of Istio's bounds.
      const bucket = (ms: number) => ISTIO_DEFAULT_BUCKETS.findIndex((b) => ms <= b);
      assert.ok(Math.abs(bucket(fromPrometheus.latencyMs.p99!) - bucket(fromLogs.latencyMs.p99!)) <= 1, `${subset}: p99 ${fromPrometheus.latencyMs.p99} ms (Prometheus) and ${fromLogs.latencyMs.p99} ms (logs)`);
    }
  }

  it('with Istio\'s 15 s scrape interval, the PromQL gates read a window right after its traffic as the access-log gates do: they wait for the scrape past its end', async () => {
    const slower = await mesh.h.run(['addons', 'enable', 'prometheus', '--scrape-interval', '15s']);
    assert.equal(slower.code, 0, slower.stderr);
    const url = (await mesh.h.run(['dashboard', 'prometheus', '--url'])).stdout.trim();
    await eventually('Prometheus scraping every 15 s (its configuration reloaded)', async () => {
      const body = (await (await fetch(`${url}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: { labels: Record<string, string>; scrapeInterval: string; health: string }[] } };
      const mesh = body.data.activeTargets.filter((t) => t.labels.job === 'meshctl-proxies');
      return mesh.length === 3 && mesh.every((t) => t.scrapeInterval === '15s' && t.health === 'up');
    }, 60_000, 500);
    const { sinceMs, untilMs } = await splitTraffic();
    await eventually('the window\'s end passed', () => Date.now() > untilMs, 5000, 100);
    // No wait for a scrape here: the gates' own freshness does it.
    await assertSameVerdicts(url, sinceMs, untilMs, async (scope) => {
      const figures = await promqlFigures(url, scope, { sinceMs, untilMs }, { job: 'meshctl-proxies' });
      const scraped = (await promQuery(url, 'min(timestamp(up{job="meshctl-proxies"}))')).map((x) => Number(x.value[1]) * 1000);
      assert.ok(scraped.every((t) => t >= untilMs), 'read once every proxy was scraped after the window');
      return figures;
    });
  });
});

interface Dashboard {
  templating: { list: { name: string; query: string }[] };
  panels: { title: string; targets: { expr: string }[] }[];
}
