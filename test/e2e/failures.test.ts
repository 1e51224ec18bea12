// What the local mesh says when things go wrong: an app that keeps crashing (apply times out naming
// it, status and check fail, logs show why), a Gateway port another program holds (refused, nothing
// stored), and deleting what is not there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { hasStackTrace } from '../support/cli.js';
import { jsonOutput } from '../support/output-schemas.js';
import { BIN } from '../support/shared.js';
import { request } from '../support/net.js';
import { eventually, freePort, makeHome, type E2eHome } from './support.js';

let h: E2eHome;
before(async () => {
  h = await makeHome('mesh-fail');
  const r = await h.run(['install']);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await h.cleanup();
});

const crasher = [
  'apiVersion: meshctl.dev/v1alpha1',
  'kind: Workload',
  'metadata:',
  '  name: crasher',
  '  labels: {app: crasher, version: v1}',
  'spec:',
  "  command: [node, -e, \"console.error('cannot open the database'); process.exit(1)\"]",
  '  port: 8000',
  '---',
  'apiVersion: v1',
  'kind: Service',
  'metadata: {name: crasher}',
  'spec:',
  '  selector: {app: crasher}',
  '  ports: [{name: http, port: 8000}]',
  '',
].join('\n');

test('an app that keeps crashing: apply stores the revision but exits 3 naming the pod; status, check and logs say why', async () => {
  const file = path.join(h.dir, 'crasher.yaml');
  await fs.writeFile(file, crasher);
  const r = await h.run(['apply', '-f', file, '--timeout', '3s']);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /^Error: Revision 1 is stored, but crasher-0 did not become ready on it within 3s; see meshctl status and meshctl logs POD\.$/m);
  assert.ok(!hasStackTrace(r.stderr));

  const status = await h.run(['status']);
  assert.equal(status.code, 1);
  assert.match(status.stdout, /crasher-0\s+pod\s+[01]\/2\s+CrashLoopBackOff/);

  const check = await h.run(['check']);
  assert.equal(check.code, 1);
  assert.match(check.stdout, /× every pod's app is up\n\s+not up: crasher-0\n\s+hint: see meshctl logs POD/);
  assert.match(check.stdout, /√ every sidecar and gateway proxy is up/);
  const checkJson = await h.run(['check', '-o', 'json']);
  assert.equal(checkJson.code, 1);
  const report = jsonOutput<{ success: boolean; categories: { checks: { result: string; description: string }[] }[] }>('check', checkJson.stdout);
  assert.equal(report.success, false);
  assert.ok(report.categories.flatMap((c) => c.checks).some((c) => c.result === 'error' && c.description === "every pod's app is up"));
  const statusJson = await h.run(['status', '-o', 'json']);
  assert.equal(statusJson.code, 1);
  const crashing = jsonOutput<{ pods: { name: string; ready: boolean }[] }>('status', statusJson.stdout).pods.find((p) => p.name === 'crasher-0');
  assert.equal(crashing?.ready, false);

  // The app restarts again and again, and each run starts a log of its own: right after a restart the
  // current run may not have written its line yet, so the log is read until it has.
  let logs = await h.run(['logs', 'crasher-0']);
  await eventually('the crash reason in the app log', async () => (logs = await h.run(['logs', 'crasher-0'])).stdout.includes('cannot open the database'));
  assert.equal(logs.code, 0);
  // kubectl's --tail 0: no line at all.
  const none = await h.run(['logs', 'crasher-0', '--tail', '0']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, '');
  let last = await h.run(['logs', 'crasher-0', '--tail', '1']);
  await eventually('the last line of the app log', async () => (last = await h.run(['logs', 'crasher-0', '--tail', '1'])).stdout !== '');
  assert.equal(last.stdout, 'cannot open the database\n');
  const proxyLogs = await h.run(['logs', 'crasher-0', '--container', 'proxy']);
  assert.equal(proxyLogs.code, 0);

  const del = await h.run(['delete', '-f', file]);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, /pod\/crasher-0 deleted/);
  assert.match(del.stdout, /^Deleted 2 resources; the mesh is now at revision 2: every pod is ready and every proxy serves it \(/m);
  const after = await h.run(['check']);
  assert.equal(after.code, 0, after.stdout);
});

test('a Gateway on a port another program holds is refused and nothing is stored', async () => {
  const server = net.createServer();
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  try {
    const file = path.join(h.dir, 'gateway.yaml');
    await fs.writeFile(file, `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: edge}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: ${port}, name: http, protocol: HTTP}\n    hosts: ['*']\n`);
    const before = JSON.parse((await h.run(['status', '-o', 'json'])).stdout) as { revision: number };
    const r = await h.run(['apply', '-f', file]);
    assert.equal(r.code, 3);
    assert.equal(r.stderr.trim().split('\n').pop(), `Error: Gateway default/edge listens on port ${port}, which another program uses on 127.0.0.1; free the port or change the Gateway's server port.`);
    const afterStatus = JSON.parse((await h.run(['status', '-o', 'json'])).stdout) as { revision: number };
    assert.equal(afterStatus.revision, before.revision);
    const gateways = await h.run(['get', 'gateways', '-o', 'json']);
    assert.deepEqual(jsonOutput<{ items: unknown[] }>('get', gateways.stdout).items, []);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('delete of a resource that does not exist: exit 1 with a sentence, exit 0 with --ignore-not-found', async () => {
  const r = await h.run(['delete', 'virtualservice', 'nope']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /VirtualService default\/nope was not found in the mesh\./);
  const ok = await h.run(['delete', 'vs', 'nope', '--ignore-not-found']);
  assert.equal(ok.code, 0);
  const json = await h.run(['delete', 'vs', 'nope', '-o', 'json']);
  assert.equal(json.code, 1);
  const result = jsonOutput<{ committed: boolean; missing: unknown[] }>('apply', json.stdout);
  assert.equal(result.committed, false);
  assert.deepEqual(result.missing, [{ kind: 'VirtualService', namespace: 'default', name: 'nope' }]);
  const usage = await h.run(['delete', 'widgets', 'x']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /"widgets" is not a resource type meshctl knows/);
});

test('logs --follow prints what an app writes as it writes it, until interrupted (exit 130)', async () => {
  const file = path.join(h.dir, 'ticker.yaml');
  await fs.writeFile(file, [
    'apiVersion: meshctl.dev/v1alpha1',
    'kind: Workload',
    'metadata: {name: ticker, labels: {app: ticker}}',
    'spec:',
    "  command: [node, -e, \"let n = 0; require('node:http').createServer((q, s) => { console.log('request ' + (++n)); s.end('ok'); }).listen(Number(process.env.PORT), '127.0.0.1')\"]",
    '  port: 8000',
    '',
  ].join('\n'));
  assert.equal((await h.run(['apply', '-f', file])).code, 0);
  const pods = JSON.parse((await h.run(['get', 'pods', 'ticker-0', '-o', 'json'])).stdout) as { ports: { app: number } };
  const follower = spawn(process.execPath, [BIN, 'logs', 'ticker-0', '--follow', '--home', h.home], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  follower.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)));
  try {
    // Requests straight to the app (on loopback) make it log while logs --follow runs.
    for (let i = 1; i <= 3; i++) {
      await request({ port: pods.ports.app, path: '/' });
      await eventually(`"request ${i}" in the followed log`, () => out.includes(`request ${i}\n`), 15_000);
    }
  } finally {
    follower.kill('SIGINT');
  }
  const timer = setTimeout(() => follower.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(timer);
  assert.equal(code, 130, 'logs --follow did not end on SIGINT with exit code 130, as every watch does');
});
