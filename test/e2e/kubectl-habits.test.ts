// kubectl habits on a live local mesh: -n and -A, several kinds in one get, -l selectors, -o name and
// -o wide, logs --previous after an app restarts, and the usage errors around them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { hasStackTrace } from '../support/cli.js';
import { eventually, makeHome, podPid, type E2eHome } from './support.js';

let h: E2eHome;
let startedAt = 0;

// A talker in namespace default and one in namespace staging, each an echo of its own environment.
const talker = (name: string, namespace: string, version: string) =>
  [
    'apiVersion: meshctl.dev/v1alpha1',
    'kind: Workload',
    `metadata: {name: ${name}, namespace: ${namespace}, labels: {app: talker, version: ${version}}}`,
    'spec:',
    `  command: [node, -e, "console.log('talker ${version} started ' + process.pid); setInterval(() => console.log('tick ' + Date.now()), 500); require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)"]`,
    '  port: 8000',
    '---',
    'apiVersion: v1',
    'kind: Service',
    `metadata: {name: talker, namespace: ${namespace}}`,
    'spec:',
    '  selector: {app: talker}',
    '  ports: [{name: http, port: 8000}]',
    '---',
    'apiVersion: networking.istio.io/v1',
    'kind: DestinationRule',
    `metadata: {name: talker, namespace: ${namespace}}`,
    'spec:',
    '  host: talker',
    `  subsets: [{name: ${version}, labels: {version: ${version}}}]`,
    '',
  ].join('\n');

before(async () => {
  h = await makeHome('mesh-kubectl');
  const install = await h.run(['install']);
  assert.equal(install.code, 0, install.stderr);
  const file = path.join(h.dir, 'talkers.yaml');
  await fs.writeFile(file, `${talker('talker-v1', 'default', 'v1')}---\n${talker('talker-v2', 'staging', 'v2')}`);
  startedAt = Date.now();
  const apply = await h.run(['apply', '-f', file, '--timeout', '60s']);
  assert.equal(apply.code, 0, apply.stdout + apply.stderr);
});

after(async () => {
  await h.cleanup();
});

test('get with several kinds lists each, named by kind; -o name prints kind/name lines', async () => {
  const r = await h.run(['get', 'svc,dr']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NAMESPACE\s+NAME\s+PORTS/m);
  assert.match(r.stdout, /service\/talker/);
  assert.match(r.stdout, /destinationrule\.networking\.istio\.io\/talker/);
  const names = await h.run(['get', 'workloads,dr', '-o', 'name']);
  assert.equal(names.code, 0, names.stderr);
  assert.deepEqual(names.stdout.trim().split('\n').sort(), [
    'destinationrule.networking.istio.io/talker',
    'destinationrule.networking.istio.io/talker',
    'workload.meshctl.dev/talker-v1',
    'workload.meshctl.dev/talker-v2',
  ]);
});

test('-l selects by label, -n by namespace, -A says every namespace; -o wide adds columns', async () => {
  const v2 = await h.run(['get', 'pods', '-l', 'app=talker,version!=v1', '-o', 'name']);
  assert.equal(v2.code, 0, v2.stderr);
  assert.equal(v2.stdout, 'pod/talker-v2-0\n');
  const set = await h.run(['get', 'pods', '-l', 'version in (v1, v2)', '-o', 'name']);
  assert.deepEqual(set.stdout.trim().split('\n').sort(), ['pod/talker-v1-0', 'pod/talker-v2-0']);
  const staging = await h.run(['get', 'pods', '-n', 'staging', '-o', 'name']);
  assert.equal(staging.stdout, 'pod/talker-v2-0\n');
  const all = await h.run(['get', 'pods', '-A']);
  assert.match(all.stdout, /^NAMESPACE\s+NAME\s+READY/m);
  assert.match(all.stdout, /staging\s+talker-v2-0\s+2\/2\s+Running/);
  const wide = await h.run(['get', 'pods', '-o', 'wide', '-n', 'default']);
  assert.match(wide.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+REVISION\s+AGE\s+WORKLOAD\s+PORTS\s+PIDS$/m);
  const none = await h.run(['get', 'pods', '-l', 'app=nothing']);
  assert.equal(none.code, 0);
  assert.equal(none.stdout, '');
  assert.equal(none.stderr, 'No pods found.\n');
});

test('status -n, top -n and -A, proxy-status -A, inspect pod -n and logs -n', async () => {
  const status = await h.run(['status', '-n', 'staging']);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stdout, /talker-v2-0/);
  assert.doesNotMatch(status.stdout, /talker-v1-0/);
  const top = await h.run(['top', '-n', 'staging', '-o', 'json']);
  assert.equal(top.code, 0, top.stderr);
  const rows = (JSON.parse(top.stdout) as { rows: { service: string; namespace: string | null }[] }).rows;
  assert.ok(rows.length > 0);
  assert.ok(rows.every((row) => row.namespace === 'staging'), JSON.stringify(rows));
  assert.equal((await h.run(['top', '-A'])).code, 0);
  assert.equal((await h.run(['proxy-status', '-A'])).code, 0);
  const inspect = await h.run(['inspect', 'pod', 'talker-v2-0', '-n', 'staging', '--section', 'health']);
  assert.equal(inspect.code, 0, inspect.stderr);
  const wrong = await h.run(['inspect', 'pod', 'talker-v2-0', '-n', 'default']);
  assert.equal(wrong.code, 2);
  assert.equal(wrong.stderr.trim(), 'Error: There is no pod named "talker-v2-0" in namespace default; it is in namespace staging (drop -n, or pass -n staging).');
  const logs = await h.run(['logs', 'talker-v2-0', '-n', 'staging']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /talker v2 started/);
  // --since: the ticks of the last 2 s (to within the log clock's second), not the start long before.
  await eventually('the talker has run for 8 s', async () => /tick/.test((await h.run(['logs', 'talker-v2-0', '--since', '1s'])).stdout) && Date.now() - startedAt > 8000, 30_000);
  const askedAt = Date.now();
  const recent = await h.run(['logs', 'talker-v2-0', '-n', 'staging', '--since', '2s']);
  assert.equal(recent.code, 0, recent.stderr);
  assert.doesNotMatch(recent.stdout, /started/);
  const ticks = [...recent.stdout.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
  assert.ok(ticks.length >= 2, recent.stdout);
  assert.ok(ticks.every((t) => t >= askedAt - 2000 - 2500), `a tick from before the span: ${recent.stdout}`);
  const bad = await h.run(['logs', 'talker-v2-0', '--since', '0s']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), 'Error: --since must be more than 0s, not 0s.');
  const wrongLogs = await h.run(['logs', 'talker-v2-0', '-n', 'default']);
  assert.equal(wrongLogs.code, 2);
  assert.match(wrongLogs.stderr, /There is no pod named "talker-v2-0" in namespace default; it is in namespace staging/);
  assert.equal((await h.run(['get', 'pods', '-n', 'staging', '-A'])).code, 2);
});

test('logs --previous shows the run before a restart; before any restart it says there is none', async () => {
  const none = await h.run(['logs', 'talker-v1-0', '--previous']);
  assert.equal(none.code, 2);
  assert.equal(none.stderr.trim(), 'Error: The app of pod talker-v1-0 has not been restarted, so it has no previous run to show; drop --previous.');
  const first = podPid(h.home, 'talker-v1-0', 'app');
  assert.ok(first);
  process.kill(first, 'SIGKILL');
  await eventually('the app runs again', () => {
    const pid = podPid(h.home, 'talker-v1-0', 'app');
    return pid !== null && pid !== first;
  }, 30_000);
  const second = podPid(h.home, 'talker-v1-0', 'app')!;
  await eventually('the new run has logged', async () => (await h.run(['logs', 'talker-v1-0'])).stdout.includes(`started ${second}`), 30_000);
  const current = await h.run(['logs', 'talker-v1-0']);
  assert.doesNotMatch(current.stdout, new RegExp(`started ${first}\\b`));
  const previous = await h.run(['logs', 'talker-v1-0', '-p']);
  assert.equal(previous.code, 0, previous.stderr);
  assert.match(previous.stdout, new RegExp(`^talker v1 started ${first}\n(tick \\d+\n)*$`));
  const proxy = await h.run(['logs', 'talker-v1-0', '--previous', '--container', 'proxy']);
  assert.equal(proxy.code, 2);
  assert.ok(!hasStackTrace(proxy.stderr));
});

test('usage errors: a bad selector, an unknown kind among several', async () => {
  const selector = await h.run(['get', 'pods', '-l', 'app==']);
  assert.equal(selector.code, 0, 'an empty value is a valid selector');
  const bad = await h.run(['get', 'pods', '-l', 'app in v1']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), 'Error: -l app in v1 is not a label selector (at "app in v1"); write it as app=reviews, version!=v1, version in (v1,v2) or !canary, joined by commas.');
  const kind = await h.run(['get', 'vs,widgets']);
  assert.equal(kind.code, 2);
  assert.match(kind.stderr, /"widgets" is not a resource type meshctl knows/);
});
