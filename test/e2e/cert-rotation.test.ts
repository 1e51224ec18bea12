// Workload certificate rotation on a live local mesh installed with --cert-lifetime 10s: under a steady
// load through the caller's sidecar for 30 s no request fails, while the certificate the reviews
// sidecar presents to its peers changes at least twice (seen in real TLS handshakes on its inbound
// port), and inspect pod --section certs shows the serial the proxy serves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { assertOutput } from '../support/output-schemas.js';
import { assertRefused } from '../support/cli.js';
import { failures, startLoad } from '../support/load.js';
import { SHIFT_APP } from '../support/shift-mesh.js';
import { shiftPolicy } from '../support/shift-policy.js';
import { proxyPaths } from '../../src/lib/runtime/haproxy/types.js';
import { RuntimeApi } from '../../src/lib/runtime/haproxy/runtime-api.js';
import { parseShowSslCert } from '../../src/lib/runtime/haproxy/inspect.js';
import type { MeshStatus } from '../../src/lib/mesh/agent/protocol.js';
import type { ProxySnapshot } from '../../src/lib/runtime/model.js';
import { makeHome, type E2eHome } from './support.js';

const LOAD_MS = 30_000;
const RPS = 20;

let h: E2eHome;

interface PlacedPod {
  name: string;
  ports: { inbound: number; outbound: number };
}

async function placed(name: string): Promise<PlacedPod> {
  const { pods } = JSON.parse(await fs.readFile(path.join(h.home, 'state', 'pods.json'), 'utf8')) as { pods: PlacedPod[] };
  const pod = pods.find((p) => p.name === name);
  if (!pod) throw new Error(`no pod ${name} in the placement`);
  return pod;
}

const podPaths = (name: string) => proxyPaths(path.join(h.home, 'pods', name));

/** The serial of the certificate `pod`'s sidecar presents in a TLS handshake on its inbound port, as the caller's sidecar would connect. */
async function presentedSerial(pod: PlacedPod): Promise<string> {
  const caller = podPaths('caller-0');
  const [clientPem, caPem] = await Promise.all([fs.readFile(caller.certificate, 'utf8'), fs.readFile(caller.caBundle, 'utf8')]);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1', port: pod.ports.inbound, cert: clientPem, key: clientPem, ca: caPem,
      // The identity is the SPIFFE URI SAN, not a host name; the chain is still verified against the mesh CA.
      checkServerIdentity: () => undefined,
      timeout: 5000,
    }, () => {
      const serial = socket.getPeerCertificate().serialNumber.toLowerCase();
      socket.destroy();
      resolve(serial);
    });
    socket.on('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', reject);
  });
}

/** The serial the sidecar's runtime API says it serves. */
async function liveSerial(name: string): Promise<string | null> {
  const paths = podPaths(name);
  return parseShowSslCert(await new RuntimeApi(paths.runtimeSocket).command(`show ssl cert ${paths.certificate}`)).serial;
}

before(async () => {
  h = await makeHome('mesh-cert');
});

after(async () => {
  await h.cleanup();
});

test('install --cert-lifetime refuses a lifetime outside 10s..2160h with one sentence (exit 2)', async () => {
  for (const [value, sentence] of [['5s', /--cert-lifetime must be at least 10s, not 5s\./], ['2161h', /--cert-lifetime must be at most 2160h, not 2161h\./], ['10', /--cert-lifetime 10 has no unit/]] as const) {
    assertRefused(await h.run(['install', '--cert-lifetime', value]), 2, sentence, `install --cert-lifetime ${value}`);
  }
  await assert.rejects(fs.access(path.join(h.home, 'mesh.json')));
});

test('with a 10 s lifetime, certificates rotate at least twice under 30 s of load and no request fails', { timeout: 240_000 }, async (t) => {
  const install = await h.run(['install', '--cert-lifetime', '10s']);
  assert.equal(install.code, 0, install.stderr);
  const status = await h.run(['status', '-o', 'json']);
  const doc = JSON.parse(status.stdout) as MeshStatus;
  assertOutput('status', doc);
  assert.deepEqual(doc.certificates, { workloadLifetimeSeconds: 10, renewAfterSeconds: 5, renewalCheckSeconds: 1 });
  const again = await h.run(['install', '--cert-lifetime', '1h']);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /installed with a workload certificate lifetime of 10s, not --cert-lifetime 1h/);

  const policyFile = path.join(h.dir, 'policy.yaml');
  await fs.writeFile(policyFile, shiftPolicy({ command: ['node', SHIFT_APP], versions: { v1: {} }, route: { v1: 100 } }));
  const applied = await h.run(['apply', '-f', policyFile, '--timeout', '60s']);
  assert.equal(applied.code, 0, applied.stdout + applied.stderr);

  const reviews = await placed('reviews-v1-0');
  const caller = await placed('caller-0');
  const load = startLoad({ port: caller.ports.outbound, host: 'reviews', rps: RPS, maxMs: LOAD_MS + 10_000 });
  const presented: string[] = [];
  const handshakeErrors: string[] = [];
  try {
    const until = Date.now() + LOAD_MS;
    // Bounded by time; one handshake every 250 ms sees each certificate (served for about 5 s) many times.
    while (Date.now() < until) {
      try {
        const serial = await presentedSerial(reviews);
        if (presented[presented.length - 1] !== serial) presented.push(serial);
      } catch (err) {
        handshakeErrors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await load.stop();
  }
  const samples = load.samples;
  t.diagnostic(`${samples.length} requests, ${failures(samples).length} failed; reviews-v1-0 presented ${presented.length} certificates`);
  assert.ok(samples.length > 0, 'the load sent no request');
  assert.deepEqual(failures(samples).map((s) => `${s.status} ${s.error ?? ''}`), [], `${failures(samples).length} of ${samples.length} requests failed`);
  assert.deepEqual(handshakeErrors, []);
  assert.ok(presented.length >= 3, `the reviews sidecar presented ${presented.length} certificate(s) in 30 s: ${presented.join(', ')}`);
  assert.equal(new Set(presented).size, presented.length, 'a serial came back after it was replaced');

  // The agent's log says each renewal went through the runtime API (no reload, no restart).
  const log = await fs.readFile(path.join(h.home, 'agent', 'agent.log'), 'utf8');
  assert.ok((log.match(/reviews-v1-0: certificate renewed/g) ?? []).length >= 2, log);
  assert.doesNotMatch(log, /refused its renewed certificate/);

  // inspect shows the serial the proxy serves: read the live one before and after; a renewal in between is retried.
  let shown: { inspected: string[]; live: string } | null = null;
  for (let attempt = 0; attempt < 5 && !shown; attempt++) {
    const before = await liveSerial('reviews-v1-0');
    const r = await h.run(['inspect', 'pod', 'reviews-v1-0', '--section', 'certs', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const snapshot = JSON.parse(r.stdout) as ProxySnapshot;
    assertOutput('inspect', snapshot);
    const afterwards = await liveSerial('reviews-v1-0');
    if (before && before === afterwards) {
      shown = { inspected: (snapshot.certs ?? []).filter((c) => c.status === 'ACTIVE' && c.kind === 'cert_chain').map((c) => c.serial ?? ''), live: before };
    }
  }
  assert.ok(shown, 'the certificate changed during every inspect');
  assert.deepEqual(shown.inspected, [shown.live]);
});
