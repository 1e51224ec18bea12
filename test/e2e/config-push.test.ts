// A change reaches only the proxies it concerns: on a live mesh of four workloads, an apply that changes
// one workload's policy reloads that workload's sidecar alone; the others keep their process, their
// revision and their log, and proxy-status still calls every one SYNCED. `haproxy -c` runs once per
// configuration shape, as the apply's own report says.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { jsonOutput } from '../support/output-schemas.js';
import { serviceYaml, workloadYaml } from '../support/policy-yaml.js';
import { agentPid, alive, eventually, makeHome, podPid, type E2eHome } from './support.js';
import { request } from '../support/net.js';
import { homeLayout } from '../../src/lib/mesh/home.js';
import { readPlacement } from '../../src/lib/mesh/pods.js';
import { proxyPaths } from '../../src/lib/runtime/haproxy/types.js';
import { routeMapFile } from '../../src/lib/runtime/haproxy/route-state.js';
import type { ApplyResult, MeshStatus } from '../../src/lib/mesh/agent/protocol.js';
import type { ProxyStatusReport } from '../../src/lib/mesh/proxy-status.js';

// \`x-delay-ms: N\` is answered N ms late (a slow app, to tell which route deadline a sidecar serves).
const APP = `const http = require('node:http');
http.createServer((req, res) => { req.resume(); setTimeout(() => res.end('ok'), Number(req.headers['x-delay-ms'] ?? 0) || 0); }).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;
const PODS = ['w0-0', 'w1-0', 'w2-0', 'w3-0'];

/** Only `app` accepts calls, and only from w0's identity: a policy of that one workload. */
const policyOf = (app: string) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${app}-callers, namespace: default }
spec:
  selector: { matchLabels: { app: ${app} } }
  action: ALLOW
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/w0"] } }] }]
`;

/** What a sidecar's pid file records: its process, and the reloads since it started. */
function proxyRecord(home: string, pod: string): { pid: number; reloads?: number } {
  return JSON.parse(readFileSync(path.join(home, 'pods', pod, 'proxy.pid'), 'utf8')) as { pid: number; reloads?: number };
}

describe('an apply touches only the sidecars it concerns', { timeout: 300_000 }, () => {
  let h: E2eHome;
  before(async () => {
    h = await makeHome('mesh-push');
    await fs.writeFile(path.join(h.dir, 'app.js'), APP);
    const installed = await h.run(['install']);
    assert.equal(installed.code, 0, installed.stderr);
  });
  after(async () => {
    await h?.cleanup();
  });

  async function apply(name: string, text: string, json = true): Promise<{ code: number; stdout: string; stderr: string }> {
    const file = path.join(h.dir, `${name}.yaml`);
    await fs.writeFile(file, text);
    const r = await h.run(['apply', '-f', file, '--timeout', '120s', ...(json ? ['-o', 'json'] : [])]);
    h.record();
    return r;
  }

  const proxyLog = (pod: string) => readFileSync(path.join(h.home, 'pods', pod, 'proxy.log'), 'utf8');

  it('the first apply starts four sidecars of one shape: haproxy -c runs once', async () => {
    const workloads = [0, 1, 2, 3].map((i) => workloadYaml({ name: `w${i}`, labels: `app: w${i}`, serviceAccount: `w${i}` }) + serviceYaml(`w${i}`)).join('');
    const r = await apply('mesh', workloads);
    assert.equal(r.code, 0, r.stderr);
    const result = jsonOutput<ApplyResult>('apply', r.stdout);
    assert.equal(result.synced, true);
    assert.deepEqual(result.proxies.map((p) => [p.name, p.kind, p.path, p.revision]), PODS.map((p) => [p, 'sidecar', 'started', 1]));
    assert.deepEqual(result.configChecks, { run: 1, reused: 3 }, 'one check for the shape the four sidecars share');
  });

  it("a change of one workload's policy reloads its sidecar alone: the others keep their process, revision and log", async () => {
    const records = new Map(PODS.map((p) => [p, proxyRecord(h.home, p)]));
    const logs = new Map(PODS.map((p) => [p, proxyLog(p)]));
    for (const p of PODS) assert.ok(alive(records.get(p)!.pid), `${p}'s proxy does not run`);

    const r = await apply('w2-policy', policyOf('w2'));
    assert.equal(r.code, 0, r.stderr);
    const result = jsonOutput<ApplyResult>('apply', r.stdout);
    assert.equal(result.revision, 2);
    assert.equal(result.synced, true);
    assert.deepEqual(result.proxies.map((p) => [p.name, p.path, p.revision]), [['w0-0', 'unchanged', 1], ['w1-0', 'unchanged', 1], ['w2-0', 'reloaded', 2], ['w3-0', 'unchanged', 1]]);
    assert.deepEqual(result.configChecks, { run: 1, reused: 0 }, "only w2's new configuration is checked");

    for (const p of PODS.filter((x) => x !== 'w2-0')) {
      assert.deepEqual(proxyRecord(h.home, p), records.get(p), `${p}'s proxy was restarted or reloaded`);
      assert.equal(proxyLog(p), logs.get(p), `${p}'s proxy logged something (a reload)`);
    }
    // w2's proxy runs as the successor its reload started, one reload more.
    const w2 = proxyRecord(h.home, 'w2-0');
    assert.notEqual(w2.pid, records.get('w2-0')!.pid, "w2's proxy was not reloaded");
    assert.equal(w2.reloads, (records.get('w2-0')!.reloads ?? 0) + 1);
    assert.ok(alive(w2.pid));

    // The sidecars left alone serve revision 1, which is what their configuration is at: SYNCED.
    const status = await h.run(['proxy-status', '-o', 'json']);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    const report = jsonOutput<ProxyStatusReport>('proxy-status', status.stdout);
    assert.deepEqual(report.proxies.map((p) => [p.name, p.status, p.revision]), [['w0-0', 'SYNCED', 1], ['w1-0', 'SYNCED', 1], ['w2-0', 'SYNCED', 2], ['w3-0', 'SYNCED', 1]]);
  });

  it('the text output sums up what every sidecar went through in one line', async () => {
    const r = await apply('w3-policy', policyOf('w3'), false);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Revision 3 applied: every pod is ready and every proxy serves it \(.+\)\.\n1 sidecar reloaded, 3 unchanged\.$/m);
    const status = await h.run(['status']);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.match(status.stdout, /Proxies\s+4\/4 up to date with revision 3/);
  });

  it("after a machine crash that lost the sidecars' unsynced route files, the agent starts every sidecar with the stored revision's routes", async () => {
    const routeTimeout = (timeout: string) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: w1, namespace: default }
spec:
  hosts: [w1]
  http: [{ route: [{ destination: { host: w1 } }], timeout: ${timeout} }]
`;
    assert.equal((await apply('w1-timeout', routeTimeout('3s'))).code, 0);
    const files = PODS.map((p) => proxyPaths(path.join(h.home, 'pods', p)));
    const stale = files.map((f) => [f.lua, routeMapFile(f.dir, 'deadlineMs')].map((file) => [file, readFileSync(file, 'utf8')] as const));
    const r = await apply('w1-timeout', routeTimeout('1s'));
    assert.equal(r.code, 0, r.stderr);
    const revision = jsonOutput<ApplyResult>('apply', r.stdout).revision;
    assert.deepEqual(jsonOutput<ApplyResult>('apply', r.stdout).proxies.map((p) => p.path), PODS.map(() => 'runtime'));

    // The machine goes down: every process of the mesh ends at once, and the writes that were not
    // synced are lost (the route files hold the previous revision's text, the compiled state nothing).
    const agent = agentPid(h.home)!;
    process.kill(agent, 'SIGKILL');
    const proxies = PODS.map((p) => podPid(h.home, p, 'proxy')!);
    const apps = PODS.map((p) => podPid(h.home, p, 'app')!);
    for (const pid of [...proxies.map((m) => -m), ...apps]) process.kill(pid, 'SIGKILL');
    await eventually('every process of the mesh gone', () => [agent, ...proxies, ...apps].every((pid) => !alive(pid)), 20_000);
    for (const [i, f] of files.entries()) {
      for (const [file, text] of stale[i]!) await fs.writeFile(file, text);
      await fs.writeFile(f.state, '');
    }

    // The next command to the agent starts it, and it brings every pod back from the stored revision.
    await eventually('every pod ready, its sidecar serving the stored revision again', async () => {
      const status = await h.run(['status', '-o', 'json']);
      return status.code === 0 && jsonOutput<MeshStatus>('status', status.stdout).pods.every((p) => p.ready && p.proxyRevision === revision);
    }, 120_000, 500);
    const caller = (await readPlacement(homeLayout(h.home))).pods.find((p) => p.name === 'w0-0')!;
    const call = (delayMs: number) => request({ port: caller.ports.outbound, path: '/', headers: { host: 'w1', 'x-delay-ms': String(delayMs) }, timeoutMs: 10_000 });
    await eventually('w1 answering through w0\'s sidecar', async () => (await call(0).catch(() => null))?.status === 200, 30_000, 200);
    // The 1 s deadline of the stored revision, not the 3 s one the lost writes left on disk.
    assert.equal((await call(1500)).status, 504);
    for (const [i, f] of files.entries()) assert.notEqual(readFileSync(routeMapFile(f.dir, 'deadlineMs'), 'utf8'), stale[i]![1]![1], `${PODS[i]}'s route deadlines`);
  });
});
