// Live: a proxy's lifecycle outside steady state — written for a supervisor to start, started,
// crashed and started again, its certificate renewed without a reload, reloads that hand the proxy over
// to a successor process (or fail and leave it serving), under a supervisor and without one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promises as fs } from 'node:fs';
import { loadSources } from '../../../../src/lib/policy/load.js';
import { buildMeshModel, desiredPods } from '../../../../src/lib/policy/mesh-model.js';
import { proxyPaths, type MeshPod } from '../../../../src/lib/runtime/haproxy/types.js';
import { compileSidecar } from '../../../../src/lib/runtime/haproxy/compiler.js';
import { createMeshCa, issueWorkloadCertificate, readCertificate, renewWorkloadCertificateIfDue, sidecarPem, writeWorkloadCertificate, type MeshCa } from '../../../../src/lib/mesh/ca.js';
import { applyProxyConfig, proxyCommand, proxyStatus, ProxyReloadError, stopProxy } from '../../../../src/lib/runtime/haproxy/apply.js';
import { parseAccessLog, readAccessLog } from '../../../../src/lib/runtime/haproxy/access-log.js';
import { findHaproxy, checkConfig } from '../../../../src/lib/runtime/haproxy/binary.js';
import { RuntimeApi } from '../../../../src/lib/runtime/haproxy/runtime-api.js';
import { servedRevision, waitFor, waitForRevision } from '../../../../src/lib/runtime/haproxy/admin.js';
import { startProxyProcess } from '../../../../src/lib/runtime/haproxy/process.js';
import { routeMapTexts, routeRuntimeState } from '../../../../src/lib/runtime/haproxy/route-state.js';
import { Supervisor, type ProcessSpec } from '../../../../src/lib/mesh/supervisor.js';
import { readPidFile, type HandOverRecord } from '../../../../src/lib/system/pid-file.js';
import { commandLine, isRunning } from '../../../../src/lib/system/processes.js';
import { startEchoApp, type EchoApp } from '../../../support/mesh.js';
import { answered, freePort, request, steadyLoad } from '../../../support/net.js';
import http from 'node:http';
import net from 'node:net';

const POLICY = `
apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: { name: ratings, namespace: default, labels: { app: ratings } }
spec: { command: [node, ratings.js], port: 9080, serviceAccount: ratings }
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec: { selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }
`;

function peerCertificateSerial(port: number, ca: MeshCa, client: { cert: string; key: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: ca.certificatePem, ...client, checkServerIdentity: () => undefined }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      resolve(serial.toLowerCase());
    });
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
  });
}

describe('proxy lifecycle (live HAProxy on loopback)', { timeout: 180_000 }, () => {
  let dir: string;
  let app: EchoApp;
  let pod: MeshPod;
  let ca: MeshCa;
  let bin: string;

  before(async () => {
    bin = (await findHaproxy()).path;
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-life-'));
    ca = await createMeshCa();
    const { resources } = loadSources([{ path: 'm.yaml', text: POLICY, format: 'yaml', size: POLICY.length }], { defaultNamespace: 'default' });
    const spec = desiredPods(buildMeshModel(resources))[0];
    app = await startEchoApp(spec);
    pod = { ...spec, ports: { app: app.port, inbound: await freePort(), outbound: await freePort(), admin: await freePort() }, paths: proxyPaths(path.join(dir, spec.name)) };
    await writeWorkloadCertificate(await issueWorkloadCertificate(ca, { namespace: 'default', serviceAccount: 'ratings' }), ca, pod.paths);
  });
  const supervisors: Supervisor[] = [];
  const held: (http.Agent | net.Server)[] = [];
  after(async () => {
    for (const h of held) if (h instanceof http.Agent) h.destroy(); else h.close();
    for (const s of supervisors) await s.stopAll();
    if (pod) await stopProxy(pod).catch(() => undefined);
    await app?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  /** The proxy at `revision`; `attempts` adds a VirtualService with that many retries (a structural change: a reload). */
  const compile = (revision: number, attempts?: number) => {
    const text = attempts === undefined ? POLICY : `${POLICY}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: default }
spec:
  hosts: [ratings]
  http: [{ route: [{ destination: { host: ratings } }], retries: { attempts: ${attempts}, perTryTimeout: 2s } }]
`;
    const { resources } = loadSources([{ path: 'm.yaml', text, format: 'yaml', size: text.length }], { defaultNamespace: 'default' });
    return compileSidecar(buildMeshModel(resources), pod, [pod], { revision });
  };
  /** The proxy at `revision` with one more listener, on a port another process holds: it validates, but cannot start. */
  const unbindable = async (revision: number) => {
    const busy = net.createServer();
    held.push(busy);
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    const compiled = compile(revision, 9);
    return { ...compiled, config: compiled.config.replace(`bind 127.0.0.1:${pod.ports.admin}`, `bind 127.0.0.1:${pod.ports.admin}\n  bind 127.0.0.1:${port}`) };
  };
  const record = async () => {
    const r = await readPidFile<HandOverRecord>(pod.paths.pid);
    assert.ok(r, 'no pid file');
    return r;
  };
  const call = (agent?: http.Agent) => request({ port: pod.ports.outbound, path: '/life', headers: { host: 'ratings' }, agent });
  /** 100 requests a second to `loadPath` for 2 s; `reload` runs once 60 of them were answered. */
  const loadDuring = (loadPath: string, reload: () => Promise<void>) => steadyLoad({
    rps: 100,
    durationMs: 2000,
    send: () => request({ port: pod.ports.outbound, path: loadPath, headers: { host: 'ratings' } }),
    during: async (progress) => {
      await answered(progress, 60);
      await reload();
    },
  });

  it('writes a validated config without starting it, for a supervisor that spawns processes itself', async () => {
    const r = await applyProxyConfig(pod, compile(1), { start: false });
    assert.equal(r.action, 'written');
    assert.equal(await checkConfig(bin, pod.paths.config), null);
    const cmd = proxyCommand(bin, pod);
    assert.deepEqual(cmd.args, ['-db', '-f', pod.paths.config]);
    assert.equal((await proxyStatus(pod)).running, false);
  });

  it('writes every file again for a start after a crash left them old or torn, and the proxy started on them serves', async () => {
    const compiled = compile(3);
    const mapFiles = routeMapTexts(pod.paths.dir, compiled.runtimeState ?? routeRuntimeState(compiled.routes));
    // What a lost, unsynced write can leave: a state naming another revision beside empty and stale files.
    await fs.writeFile(pod.paths.state, JSON.stringify(compile(2)));
    await fs.writeFile(pod.paths.lua, '');
    await fs.writeFile(pod.paths.config, 'global\n');
    for (const [file] of mapFiles) await fs.writeFile(file, 'stale 1\n');
    assert.equal((await applyProxyConfig(pod, compiled, { start: false })).action, 'written');
    assert.equal(await fs.readFile(pod.paths.lua, 'utf8'), compiled.lua);
    assert.equal(await fs.readFile(pod.paths.config, 'utf8'), compiled.config);
    for (const [file, text] of mapFiles) assert.equal(await fs.readFile(file, 'utf8'), text);
    assert.equal(JSON.parse(await fs.readFile(pod.paths.state, 'utf8')).revision, 3);
    for (const file of [pod.paths.lua, pod.paths.config, pod.paths.state, ...mapFiles.map(([f]) => f)]) assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.deepEqual((await fs.readdir(pod.paths.dir)).filter((f) => f.endsWith('.tmp')), []);
    // Started as the agent's supervisor starts it, from the files alone.
    const cmd = proxyCommand(bin, pod);
    await startProxyProcess({ bin, configFile: pod.paths.config, stdoutFile: cmd.stdoutFile, stderrFile: cmd.stderrFile, pidFile: cmd.pidFile });
    try {
      assert.equal(await waitForRevision(pod.ports.admin, 3, { timeoutMs: 15_000 }), 3);
    } finally {
      await stopProxy(pod);
    }
  });

  it('starts as one process, and after it is killed -9 a new apply starts it again', async () => {
    const first = await applyProxyConfig(pod, compile(1));
    assert.equal(first.action, 'started');
    const status = await proxyStatus(pod);
    assert.deepEqual([status.running, status.revision, status.ready, status.pid], [true, 1, true, first.pid]);
    assert.equal((await fs.stat(pod.paths.runtimeSocket)).mode & 0o777, 0o600);
    assert.equal(Number((await new RuntimeApi(pod.paths.runtimeSocket).showInfo()).Pid), first.pid);
    assert.equal((await record()).reloads, 0);
    process.kill(first.pid, 'SIGKILL');
    await waitFor('the proxy to be gone', async () => ((await proxyStatus(pod)).running ? undefined : true), { timeoutMs: 10_000 });
    const again = await applyProxyConfig(pod, compile(2));
    assert.equal(again.action, 'started');
    assert.notEqual(again.pid, first.pid);
    assert.equal((await proxyStatus(pod)).revision, 2);
  });

  it('renews the workload certificate and swaps it in through the runtime API, without a reload', async () => {
    const client = await issueWorkloadCertificate(ca, { namespace: 'default', serviceAccount: 'tester' });
    const pem = { cert: client.certificatePem, key: client.privateKeyPem };
    const before = await peerCertificateSerial(pod.ports.inbound, ca, pem);
    assert.equal(before, readCertificate(await fs.readFile(pod.paths.certificate, 'utf8')).serialNumber.toLowerCase());
    const { pid } = await proxyStatus(pod);
    const renewed = await renewWorkloadCertificateIfDue(ca, { namespace: 'default', serviceAccount: 'ratings' }, pod.paths, { renewAt: 0 });
    assert.ok(renewed);
    await new RuntimeApi(pod.paths.runtimeSocket).updateCertificate(pod.paths.certificate, sidecarPem(renewed));
    const after = await peerCertificateSerial(pod.ports.inbound, ca, pem);
    assert.equal(after, renewed.serialNumber.toLowerCase());
    assert.notEqual(after, before);
    assert.equal((await proxyStatus(pod)).pid, pid);
  });

  it('keeps serving when a reload\'s new process cannot start (an address in use), its pid file unchanged', async () => {
    const before = await record();
    await assert.rejects(applyProxyConfig(pod, await unbindable(3), { timeoutMs: 10_000 }), (err: Error) => {
      assert.ok(err instanceof ProxyReloadError, err.message);
      assert.match(err.message, /exited during its reload; the running one still serves the previous configuration/);
      assert.match(err.message, /Address already in use/);
      return true;
    });
    assert.deepEqual(await record(), before);
    assert.equal((await proxyStatus(pod)).pid, before.pid);
    assert.equal(await servedRevision(pod.ports.admin), 2);
    assert.equal((await call()).status, 200);
    // The next good configuration reloads from the running process.
    const next = await applyProxyConfig(pod, compile(4, 2));
    assert.equal(next.action, 'reloaded');
    assert.notEqual(next.pid, before.pid);
    assert.equal((await record()).reloads, (before.reloads ?? 0) + 1);
    // Stopped while the process the reload replaced may still drain: neither is left.
    assert.equal(await stopProxy(pod), true);
    for (const pid of [before.pid, next.pid]) assert.equal(isRunning(pid), false, `pid ${pid} still runs`);
  });

  it('under a supervisor: reloads hand the name over, a failed one changes nothing, a crash is repaired with a plain start, a new supervisor adopts the current process, a stop during a drain leaves nothing', async () => {
    const name = `${pod.name}/proxy`;
    const launch = proxyCommand(bin, pod);
    const spec: ProcessSpec = { name, command: launch.command, args: launch.args, env: {}, cwd: pod.paths.dir, stdoutFile: launch.stdoutFile, stderrFile: launch.stderrFile, pidFile: launch.pidFile, holdOutput: launch.holdOutput };
    const supervisor = new Supervisor({ backoff: { initialMs: 50, maxMs: 400, resetAfterMs: 10_000 } });
    supervisors.push(supervisor);
    const handOver = (s: Supervisor) => (args: string[], serves: (successor: { pid: number }) => Promise<void>) => s.handOver(name, args, serves);
    assert.equal((await applyProxyConfig(pod, compile(5), { pid: null, start: false })).action, 'written');
    const started = (await supervisor.ensure(spec)).status.pid!;
    await waitForRevision(pod.ports.admin, 5);

    // A reload under a steady load: no request lost, the supervisor follows the new process, the old one leaves.
    assert.equal((await call()).status, 200);
    const firstLine = await waitFor('the first access log line', async () => (await fs.readFile(pod.paths.accessLog, 'utf8')).split('\n')[0] || undefined);
    let reloaded: Awaited<ReturnType<typeof applyProxyConfig>> | undefined;
    const load = await loadDuring('/life-load', async () => {
      reloaded = await applyProxyConfig(pod, compile(6, 2), { pid: started, handOver: handOver(supervisor) });
    });
    assert.deepEqual(load.failures, []);
    assert.equal(load.ok, load.sent);
    assert.equal(reloaded?.action, 'reloaded');
    const first = reloaded!.pid;
    assert.notEqual(first, started);
    assert.equal(supervisor.pid(name), first);
    assert.ok(await waitForGone(started), `the replaced process ${started} still runs`);
    assert.deepEqual([supervisor.status(name)?.phase, supervisor.status(name)?.restarts], ['Running', 0]);
    assert.deepEqual([(await record()).pid, (await record()).reloads], [first, 1]);
    // Both processes wrote the access log through one open file: every request of the load has its lines
    // (the outbound one and the inbound one), and nothing was written over.
    const loadLines = async () => (await fs.readFile(pod.paths.accessLog, 'utf8')).split('\n').filter((l) => l.includes('life-load')).length;
    await waitFor('every request of the load logged', async () => ((await loadLines()) >= 2 * load.sent ? true : undefined), { timeoutMs: 10_000 });
    assert.equal(await loadLines(), 2 * load.sent);
    assert.equal((await fs.readFile(pod.paths.accessLog, 'utf8')).split('\n')[0], firstLine);

    // A reload whose new process cannot start: the running process stays, supervised, as it was.
    await assert.rejects(applyProxyConfig(pod, await unbindable(7), { pid: first, handOver: handOver(supervisor), timeoutMs: 10_000 }), ProxyReloadError);
    assert.deepEqual([supervisor.pid(name), supervisor.status(name)?.phase, supervisor.status(name)?.restarts], [first, 'Running', 0]);
    assert.deepEqual([(await record()).pid, (await record()).reloads], [first, 1]);
    assert.equal(await servedRevision(pod.ports.admin), 6);

    // A second reload while a client holds an idle connection to the first process: it drains.
    const holder = new http.Agent({ keepAlive: true, maxSockets: 1 });
    held.push(holder);
    assert.equal((await call(holder)).status, 200);
    const second = (await applyProxyConfig(pod, compile(8, 3), { pid: first, handOver: handOver(supervisor) })).pid;
    assert.notEqual(second, first);
    assert.equal(supervisor.pid(name), second);
    assert.ok(isRunning(first), 'the first process should still drain its idle connection');
    const afterTwo = await record();
    assert.deepEqual([afterTwo.pid, afterTwo.reloads, afterTwo.draining?.map((d) => d.pid)], [second, 2, [first]]);

    // The agent restarts: a new supervisor adopts the current process from the pid file.
    supervisor.detachAll();
    const adopting = new Supervisor({ backoff: { initialMs: 50, maxMs: 400, resetAfterMs: 10_000 } });
    supervisors.push(adopting);
    assert.equal((await adopting.ensure(spec)).outcome, 'adopted');
    assert.equal(adopting.pid(name), second);

    // It reloads under a steady load. The adopting agent never had the adopted process's open log, so that
    // log is set aside as access.log.1, which the adopted process finishes, and the successor begins a new
    // access.log: no request is lost, every line of the load is in one of the two, and none is written over.
    const beforeAside = await fs.readFile(pod.paths.accessLog, 'utf8');
    let third = 0;
    const adoptedLoad = await loadDuring('/life-adopted', async () => {
      third = (await applyProxyConfig(pod, compile(9, 4), { pid: second, handOver: handOver(adopting) })).pid;
    });
    assert.deepEqual(adoptedLoad.failures, []);
    assert.equal(adoptedLoad.ok, adoptedLoad.sent);
    assert.ok(third > 0 && third !== second, 'the reload started a successor');
    assert.equal(adopting.pid(name), third);
    assert.ok(await waitForGone(second), `the replaced process ${second} still runs`);
    const logged = async () => {
      const [aside, fresh] = await Promise.all([fs.readFile(`${pod.paths.accessLog}.1`, 'utf8'), fs.readFile(pod.paths.accessLog, 'utf8')]);
      return { aside, fresh, lines: [...aside.split('\n'), ...fresh.split('\n')].filter((l) => l.includes('life-adopted')) };
    };
    await waitFor('every request of the load logged', async () => ((await logged()).lines.length >= 2 * adoptedLoad.sent ? true : undefined), { timeoutMs: 10_000 });
    const { aside, fresh, lines } = await logged();
    assert.equal(lines.length, 2 * adoptedLoad.sent);
    assert.ok(aside.startsWith(beforeAside), 'the set-aside log keeps every line written before the reload, untouched');
    // A line written over by another would not parse whole: every request of the load is a whole entry.
    const entries = [...parseAccessLog(aside).entries, ...parseAccessLog(fresh).entries].filter((e) => e.path === '/life-adopted');
    assert.equal(entries.length, 2 * adoptedLoad.sent);
    assert.ok(fresh.includes('life-adopted'), 'the successor logs into the new access.log');
    // A reader that was at the end of the log before the reload reads the rest of the set-aside file, then the new one.
    const read = await readAccessLog(pod.paths.accessLog, { offset: Buffer.byteLength(beforeAside), ino: (await fs.stat(`${pod.paths.accessLog}.1`)).ino });
    assert.equal(read.entries.filter((e) => e.path === '/life-adopted').length, 2 * adoptedLoad.sent);

    // It crashes: restarted from the files on disk with the plain start, no takeover.
    process.kill(third, 'SIGKILL');
    const repaired = await waitFor('the crashed proxy to be restarted', async () => {
      const status = adopting.status(name);
      return status?.phase === 'Running' && status.pid !== third ? status : undefined;
    }, { timeoutMs: 10_000 });
    assert.equal(repaired.restarts, 1);
    assert.deepEqual(commandLine(repaired.pid!).slice(1), ['-db', '-f', pod.paths.config]);
    await waitForRevision(pod.ports.admin, 9);
    assert.equal((await call()).status, 200);
    assert.equal((await record()).reloads, 0);

    // Stopped while the first process still drains: nothing is left.
    assert.ok(isRunning(first), 'the first process should still drain');
    await adopting.stop(name);
    for (const pid of [first, second, third, repaired.pid!]) assert.equal(isRunning(pid), false, `pid ${pid} still runs`);
    await assert.rejects(fs.access(pod.paths.pid));
  });
});

/**
 * True once `pid` no longer runs. A replaced process leaves once its connections close: the idle ones
 * between the proxy's own outbound and inbound sides end with `timeout http-keep-alive`, and
 * `hard-stop-after` (both 30 s) bounds the rest.
 */
async function waitForGone(pid: number): Promise<boolean> {
  return waitFor(`pid ${pid} to exit`, async () => (isRunning(pid) ? undefined : true), { timeoutMs: 40_000 }).then(() => true, () => false);
}
