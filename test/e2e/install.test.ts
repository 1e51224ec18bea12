// meshctl install, check and uninstall on a real machine: HAProxy found or missing, --dry-run,
// installing twice, an unwritable home, and a package-manager install (a stand-in apt-get on PATH).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { hasStackTrace } from '../support/cli.js';
import { jsonOutput } from '../support/output-schemas.js';
import { findHaproxy } from '../../src/lib/runtime/haproxy/binary.js';
import { agentPid, alive, eventually, makeHome, portClosed, type E2eHome } from './support.js';

const homes: E2eHome[] = [];
async function home(): Promise<E2eHome> {
  const h = await makeHome('mesh-install');
  homes.push(h);
  return h;
}
after(async () => {
  await Promise.all(homes.map((h) => h.cleanup()));
});

/** One sentence: a single line that ends with a period. */
function assertSentence(stderr: string): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.match(lines[0], /^Error: .+\.$/);
  assert.ok(!hasStackTrace(stderr), stderr);
}

test('--dry-run prints the whole plan and creates nothing', async () => {
  const h = await home();
  const r = await h.run(['install', '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dry run: nothing was changed/);
  for (const step of [/Use HAProxy \d+\.\d+/, /Create the mesh home/, /Create the mesh CA .*mode 0600/, /Write the mesh configuration/, /Start the mesh agent/]) assert.match(r.stdout, step);
  assert.equal(existsSync(h.home), false, 'the home was created by a dry run');
  assert.deepEqual(await fs.readdir(h.dir), []);
});

test('install creates the home with a private CA key, starts the agent, and a second install is a no-op', async () => {
  const h = await home();
  const first = await h.run(['install', '-o', 'json']);
  assert.equal(first.code, 0, first.stderr);
  const result = jsonOutput<{ status: string; proxy: { bin: string; version: string }; agent: { pid: number } }>('install', first.stdout);
  assert.equal(result.status, 'installed');
  assert.match(result.proxy.version, /^\d+\.\d+/);
  assert.equal(statSync(path.join(h.home, 'ca', 'ca.key')).mode & 0o777, 0o600);
  assert.equal(statSync(h.home).mode & 0o777, 0o700);
  const pid = agentPid(h.home);
  assert.ok(pid && alive(pid), 'the agent runs after install');
  assert.equal(result.agent.pid, pid);

  const second = await h.run(['install']);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /already installed.*nothing to do/);
  assert.equal(agentPid(h.home), pid, 'a second install must not start another agent');

  const check = await h.run(['check']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /√ the mesh agent is running/);
  assert.match(check.stdout, /√ the mesh CA is valid/);
  assert.match(check.stdout, /Status check results are √/);
  const json = await h.run(['check', '-o', 'json']);
  assert.equal(json.code, 0);
  const report = jsonOutput<{ success: boolean; categories: { categoryName: string; checks: { result: string }[] }[] }>('check', json.stdout);
  assert.equal(report.success, true);
  assert.deepEqual(report.categories.map((c) => c.categoryName), ['proxy runtime', 'mesh home', 'certificates', 'mesh agent', 'pods']);

  const gone = await h.run(['uninstall', '--yes', '-o', 'json']);
  assert.equal(gone.code, 0, gone.stderr);
  const removed = jsonOutput<{ status: string; stopped: number[]; removed: boolean }>('uninstall', gone.stdout);
  assert.equal(removed.status, 'uninstalled');
  assert.ok(removed.stopped.includes(pid!), `the agent ${pid} is not among the pids stopped: ${removed.stopped.join(', ')}`);
  assert.equal(removed.removed, true);
  assert.equal(alive(pid!), false, 'the agent still runs after uninstall');
  assert.equal(existsSync(h.home), false, 'the home is still there after uninstall');
  const failing = await h.run(['check']);
  assert.equal(failing.code, 1);
  assert.match(failing.stdout, /× the mesh is installed/);
});

test('with HAProxy missing and no package manager, install refuses with one sentence and creates nothing', async () => {
  const h = await home();
  const r = await h.run(['install'], { env: { PATH: '' } });
  assert.equal(r.code, 3);
  assertSentence(r.stderr);
  assert.match(r.stderr, /HAProxy 2\.6 or later is not installed/);
  assert.match(r.stderr, /--proxy-bin PATH/);
  assert.equal(existsSync(h.home), false);
  const pre = await h.run(['check', '--pre', '--proxy-bin', path.join(h.dir, 'nowhere', 'haproxy')], { env: { PATH: '' } });
  assert.equal(pre.code, 1);
  assert.match(pre.stdout, /× HAProxy is installed/);
});

test('with HAProxy missing, install uses the package manager: refused without a terminal unless --yes, then runs exactly what it printed', async () => {
  const h = await home();
  const bin = path.join(h.dir, 'bin');
  await fs.mkdir(bin);
  const real = (await findHaproxy()).path;
  const calls = path.join(h.dir, 'apt-get.calls');
  // A stand-in apt-get: records its arguments, and "installs" HAProxy by linking the real one onto PATH.
  await fs.writeFile(path.join(bin, 'apt-get'), [
    '#!/bin/sh',
    `echo "$*" >> '${calls}'`,
    `if [ "$1" = install ]; then /bin/ln -s '${real}' '${path.join(bin, 'haproxy')}'; fi`,
    'exit 0',
    '',
  ].join('\n'), { mode: 0o755 });
  const env = { PATH: bin };

  const refused = await h.run(['install'], { env });
  assert.equal(refused.code, 3);
  assertSentence(refused.stderr);
  assert.match(refused.stderr, /apt-get install -y haproxy/);
  assert.match(refused.stderr, /--yes/);
  assert.equal(existsSync(calls), false, 'apt-get ran without confirmation');
  assert.equal(existsSync(h.home), false);

  const dry = await h.run(['install', '--dry-run'], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /Install HAProxy with apt-get/);
  assert.match(dry.stdout, /\$ apt-get update\n\s+\$ apt-get install -y haproxy/);
  assert.equal(existsSync(calls), false, 'a dry run ran apt-get');

  const yes = await h.run(['install', '--yes', '-o', 'json'], { env });
  assert.equal(yes.code, 0, yes.stderr);
  assert.match(yes.stderr, /\$ apt-get update\n[\s\S]*\$ apt-get install -y haproxy/);
  assert.deepEqual((await fs.readFile(calls, 'utf8')).trim().split('\n'), ['update', 'install -y haproxy']);
  const result = JSON.parse(yes.stdout) as { status: string; proxy: { bin: string; installedNow: boolean } };
  assert.equal(result.status, 'installed');
  assert.equal(result.proxy.installedNow, true);
  assert.equal(result.proxy.bin, path.join(bin, 'haproxy'));
});

test('an unwritable home: exit 3 with the path, nothing left behind', async () => {
  const h = await home();
  const file = path.join(h.dir, 'file');
  await fs.writeFile(file, 'not a directory\n');
  const target = path.join(file, 'home');
  const r = await h.run(['install', '--home', target]);
  assert.equal(r.code, 3);
  assertSentence(r.stderr);
  assert.ok(r.stderr.includes(target), r.stderr);
  assert.match(r.stderr, /run meshctl install again/);
  assert.equal(statSync(file).isFile(), true);
  assert.deepEqual((await fs.readdir(h.dir)).sort(), ['file']);
});

test('a package manager that fails: exit 3 naming the command that failed, nothing created', async () => {
  const h = await home();
  const bin = path.join(h.dir, 'bin');
  await fs.mkdir(bin);
  await fs.writeFile(path.join(bin, 'apt-get'), '#!/bin/sh\necho "E: Unable to locate package haproxy" >&2\nexit 100\n', { mode: 0o755 });
  const r = await h.run(['install', '--yes'], { env: { PATH: bin } });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /E: Unable to locate package haproxy/);
  const last = r.stderr.trim().split('\n').pop()!;
  assert.match(last, /^Error: `apt-get update` failed \(exit 100\); nothing else was changed: .*run meshctl install again\.$/);
  assert.equal(existsSync(h.home), false);
});

test('uninstall --keep-state stops every process but keeps the state; install brings the mesh back from it', async () => {
  const h = await home();
  assert.equal((await h.run(['install'])).code, 0);
  const file = path.join(h.dir, 'hello.yaml');
  await fs.writeFile(file, [
    'apiVersion: meshctl.dev/v1alpha1',
    'kind: Workload',
    'metadata: {name: hello, labels: {app: hello, version: v1}}',
    'spec:',
    "  command: [node, -e, \"require('node:http').createServer((q, s) => s.end('hello')).listen(Number(process.env.PORT), '127.0.0.1')\"]",
    '  port: 8000',
    '  replicas: 2',
    '---',
    'apiVersion: v1',
    'kind: Service',
    'metadata: {name: hello}',
    'spec: {selector: {app: hello}, ports: [{name: http, port: 8000}]}',
    '',
  ].join('\n'));
  const applied = await h.run(['apply', '-f', file]);
  assert.equal(applied.code, 0, applied.stdout + applied.stderr);
  h.record();
  const pids = [...h.pids];
  const ports = [...h.ports];
  assert.ok(pids.length >= 5 && ports.length >= 8, `recorded ${pids.length} pids, ${ports.length} ports`);

  const stopped = await h.run(['uninstall', '--yes', '--keep-state']);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stdout, /its state is kept in/);
  assert.deepEqual(pids.filter(alive), []);
  for (const port of ports) assert.ok(await portClosed(port), `port ${port} still listens`);
  assert.ok(existsSync(path.join(h.home, 'mesh.json')) && existsSync(path.join(h.home, 'state', 'applied.json')));

  const back = await h.run(['install']);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stdout, /already installed .* its agent was not running and was started/);
  await eventually('both hello pods ready again', async () => (await h.run(['status'])).code === 0, 30_000, 200);
  const workloads = await h.run(['get', 'workloads']);
  assert.match(workloads.stdout, /hello\s+2\/2/);
});
