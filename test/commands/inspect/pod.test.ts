import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { promisify } from 'node:util';
import AjvModule from 'ajv';
import { BIN, ROOT, SHARED } from '../../support/shared.js';
import { closedPortUrl, istioAdminRoutes, startAdmin } from '../../lib/runtime/envoy/fixture-server.js';

const run = promisify(execFile);
const Ajv = AjvModule as unknown as typeof AjvModule.default;
const validateOutput = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(path.join(ROOT, 'schemas', 'output', 'inspect.json'), 'utf8')));
const WAYPOINT = path.join(SHARED, 'conformance', 'istio-proxyconfig', 'proxyconfig', 'testdata', 'config_dump.json');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function meshctl(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function assertValid(doc: unknown): void {
  const ok = validateOutput(doc);
  assert.ok(ok, JSON.stringify(validateOutput.errors?.slice(0, 3)));
}

test('--admin-url: every section from a live admin API, as schema-valid JSON', async () => {
  const admin = await startAdmin(istioAdminRoutes());
  try {
    const r = await meshctl(['inspect', 'pod', '--admin-url', admin.url, '--section', 'health', '--section', 'endpoints', '--section', 'stats', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assertValid(doc);
    assert.deepEqual(doc.sections, ['health', 'endpoints', 'stats']);
    assert.equal(doc.source.target, admin.url);
    assert.equal(doc.health.state, 'LIVE');
    assert.equal(doc.endpoints.find((e: { address: string }) => e.address === '172.17.0.27').health, 'ejected');
    assert.equal(doc.stats.upstreams[0].requests, null, 'hidden stats are null, not 0');
    assert.equal(doc.listeners, undefined, 'sections not asked for are absent');
    const every = await meshctl(['inspect', 'pod', '--admin-url', admin.url, ...['health', 'listeners', 'routes', 'clusters', 'endpoints', 'stats', 'certs', 'config'].flatMap((s) => ['-s', s]), '-o', 'json']);
    assert.equal(every.code, 0, every.stderr);
    const all = JSON.parse(every.stdout);
    assertValid(all);
    assert.deepEqual(all.unavailable, {});
  } finally {
    await admin.close();
  }
});

test('--admin-url, text: tables, the hidden-stats reason instead of zeros, no colour with NO_COLOR', async () => {
  const admin = await startAdmin(istioAdminRoutes());
  try {
    const r = await meshctl(['inspect', 'pod', '--admin-url', admin.url, '--section', 'endpoints', '--section', 'stats'], { FORCE_COLOR: '1' });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /\u001b\[/);
    assert.match(r.stdout, /NAME\s+STATUS\s+LOCALITY\s+CLUSTER\s+WEIGHT\s+HEALTH/);
    assert.match(r.stdout, /172\.17\.0\.27:9080\s+HEALTHY\s+outbound\|9080\|\|reviews\.default\.svc\.cluster\.local\s+-\s+ejected \(failed_outlier_check\)/);
    assert.match(r.stdout, /proxyStatsMatcher/);
    const reviewsStats = r.stdout.split('\n').find((l) => l.startsWith('outbound|9080||reviews.default.svc.cluster.local'))!;
    assert.doesNotMatch(reviewsStats, /\s0\s/, 'no zero printed for a number that was not read');
  } finally {
    await admin.close();
  }
});

test('--from-file: the config dump as YAML and as text with the sections istioctl shows', async () => {
  const yaml = await meshctl(['inspect', 'pod', '--from-file', WAYPOINT, '-o', 'yaml', '--section', 'clusters']);
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.match(yaml.stdout, /name: inbound-vip\|8000\|http\|httpbin\.default\.svc\.cluster\.local/);
  const json = await meshctl(['inspect', 'pod', '-f', WAYPOINT, '--json']);
  assertValid(JSON.parse(json.stdout));
  const kuma = await meshctl(['inspect', 'pod', '-f', path.join(SHARED, 'fixtures', 'envoy-admin', 'config_dump.kuma-envoy-1.19.json'), '--json']);
  assertValid(JSON.parse(kuma.stdout));
  assert.match(JSON.parse(json.stdout).unavailable.stats, /config dump holds configuration/);
  const text = await meshctl(['inspect', 'pod', '--from-file', WAYPOINT]);
  assert.equal(text.code, 0, text.stderr);
  for (const heading of ['Health', 'Listeners', 'Routes', 'Clusters', 'Endpoints', 'Stats', 'Certificates']) assert.match(text.stdout, new RegExp(`── ${heading}`));
  assert.match(text.stdout, /Istio Version:\s+1\.21\.0-1226/);
  assert.match(text.stdout, /0\.0\.0\.0\s+15021\s+HTTP\s+ALL\s+Inline Route: \/healthz\/ready\*/);
});

test('an unreachable admin API: exit 3, one sentence with the address tried', async () => {
  const url = await closedPortUrl();
  for (const output of ['text', 'json']) {
    const r = await meshctl(['inspect', 'pod', '--admin-url', url, '-o', output]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^Error: Cannot reach the Envoy admin API at ${url.replace(/\./g, '\\.')} \\(connection refused\\)`));
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

test('truncated admin JSON: exit 3 and a sentence naming the endpoint', async () => {
  const routes = istioAdminRoutes();
  routes['/clusters?format=json'] = { body: '{"cluster_statuses": [{"name": "outbound|9080||reviews' };
  const admin = await startAdmin(routes);
  try {
    const r = await meshctl(['inspect', 'pod', '--admin-url', admin.url, '--section', 'endpoints']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /The Envoy admin endpoint http:\/\/127\.0\.0\.1:\d+\/clusters\?format=json returned truncated JSON/);
  } finally {
    await admin.close();
  }
});

test('a pod name on a home with no mesh: exit 3, saying no mesh is installed there, as every local-mesh command does', async () => {
  const home = path.join(os.tmpdir(), `meshctl-no-mesh-${process.pid}`);
  const r = await meshctl(['inspect', 'pod', 'reviews-v1', '--home', home]);
  assert.equal(r.code, 3);
  assert.equal(r.stderr.trim(), `Error: No mesh is installed at ${home}; run meshctl install --home ${home} first.`);
  const none = await meshctl(['inspect', 'pod']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Name a pod, or give --admin-url/);
});

test('usage errors: both sources at once, an unknown section, a missing file', async () => {
  assert.equal((await meshctl(['inspect', 'pod', '--admin-url', 'http://127.0.0.1:1', '--from-file', WAYPOINT])).code, 2);
  assert.equal((await meshctl(['inspect', 'pod', '--from-file', WAYPOINT, '--section', 'metrics'])).code, 2);
  const missing = await meshctl(['inspect', 'pod', '--from-file', 'no-such-dump.json']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /Cannot read --from-file no-such-dump\.json \(no such file\)/);
});
