// Live: a proxy's lifecycle outside steady state — written for a supervisor to start, started,
// crashed and started again, and its certificate renewed without a reload.
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
import { applyProxyConfig, proxyCommand, proxyStatus, stopProxy } from '../../../../src/lib/runtime/haproxy/apply.js';
import { findHaproxy, checkConfig } from '../../../../src/lib/runtime/haproxy/binary.js';
import { MasterCli, RuntimeApi } from '../../../../src/lib/runtime/haproxy/runtime-api.js';
import { waitFor, waitForRevision } from '../../../../src/lib/runtime/haproxy/admin.js';
import { startProxyProcess } from '../../../../src/lib/runtime/haproxy/process.js';
import { routeMapTexts, routeRuntimeState } from '../../../../src/lib/runtime/haproxy/route-state.js';
import { startEchoApp, type EchoApp } from '../../../support/mesh.js';
import { freePort } from '../../../support/net.js';

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

describe('proxy lifecycle (live HAProxy on loopback)', { timeout: 120_000 }, () => {
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
  after(async () => {
    if (pod) await stopProxy(pod).catch(() => undefined);
    await app?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const compile = (revision: number) => {
    const { resources } = loadSources([{ path: 'm.yaml', text: POLICY, format: 'yaml', size: POLICY.length }], { defaultNamespace: 'default' });
    return compileSidecar(buildMeshModel(resources), pod, [pod], { revision });
  };

  it('writes a validated config without starting it, for a supervisor that spawns processes itself', async () => {
    const r = await applyProxyConfig(pod, compile(1), { start: false });
    assert.equal(r.action, 'written');
    assert.equal(await checkConfig(bin, pod.paths.config), null);
    const cmd = proxyCommand(bin, pod);
    assert.deepEqual(cmd.args, ['-W', '-f', pod.paths.config, '-S', `unix@${pod.paths.masterSocket},mode,600`]);
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
    await startProxyProcess({ bin, configFile: pod.paths.config, masterSocket: pod.paths.masterSocket, stdoutFile: cmd.stdoutFile, stderrFile: cmd.stderrFile, pidFile: cmd.pidFile });
    try {
      assert.equal(await waitForRevision(pod.ports.admin, 3, { timeoutMs: 15_000 }), 3);
    } finally {
      await stopProxy(pod);
    }
  });

  it('starts, and after its worker is killed -9 the master leaves and a new apply starts it again', async () => {
    const first = await applyProxyConfig(pod, compile(1));
    assert.equal(first.action, 'started');
    const status = await proxyStatus(pod);
    assert.deepEqual([status.running, status.revision, status.ready], [true, 1, true]);
    assert.equal((await fs.stat(pod.paths.masterSocket)).mode & 0o777, 0o600);
    const worker = (await new MasterCli(pod.paths.masterSocket).showProc()).find((p) => p.type === 'worker');
    assert.ok(worker);
    process.kill(worker.pid, 'SIGKILL');
    await waitFor('the master to leave after its worker died', async () => ((await proxyStatus(pod)).running ? undefined : true), { timeoutMs: 10_000 });
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
    const workers = (await new MasterCli(pod.paths.masterSocket).showProc()).map((p) => p.pid);
    const renewed = await renewWorkloadCertificateIfDue(ca, { namespace: 'default', serviceAccount: 'ratings' }, pod.paths, { renewAt: 0 });
    assert.ok(renewed);
    await new RuntimeApi(pod.paths.runtimeSocket).updateCertificate(pod.paths.certificate, sidecarPem(renewed));
    const after = await peerCertificateSerial(pod.ports.inbound, ca, pem);
    assert.equal(after, renewed.serialNumber.toLowerCase());
    assert.notEqual(after, before);
    assert.deepEqual((await new MasterCli(pod.paths.masterSocket).showProc()).map((p) => p.pid), workers);
  });
});
