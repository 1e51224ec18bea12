import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ConfigDumpAdapter } from '../../../../src/lib/runtime/envoy/adapter.js';
import { parseCertsJson } from '../../../../src/lib/runtime/envoy/certs.js';
import { FIXTURES } from './fixture-server.js';

const NOW = new Date('2026-01-01T00:00:00Z');
const open = (name: string) => ConfigDumpAdapter.fromFile(path.join(FIXTURES, name), () => NOW);

test('Istio waypoint dump: Istio build, revisions, listeners with their chains, expired workload certificate', async () => {
  const proxy = await open('config_dump.istio-1.21-waypoint.json');
  const health = await proxy.health();
  assert.equal(health.ready, null, 'a saved dump cannot say');
  assert.deepEqual(health.mesh, { name: 'istio', version: '1.21.0-1226', proxySha: 'ee85c5f28702f00621aed895915fca565796b9e4' });
  assert.equal(health.version, null, 'the bootstrap names no Envoy build');
  assert.equal(health.config.served, '2023-12-26T05:57:39Z/1');
  const listeners = await proxy.listeners();
  assert.deepEqual(
    listeners.map((l) => [l.name, l.address, l.port, l.protocol, l.filterChains.length]),
    [
      ['main_internal', '', null, 'HTTP+TCP', 4],
      ['', '0.0.0.0', 15021, 'HTTP', 1],
    ],
  );
  assert.equal(listeners[0]!.internal, true);
  const certs = await proxy.certs();
  const leaf = certs.find((c) => c.resource === 'default')!;
  assert.equal(leaf.spiffeId, 'spiffe://cluster.local/ns/ambient/sa/namespace-istio-waypoint');
  assert.equal(leaf.serial, '6fbee254c22900615cb1f74e3d2f1713');
  assert.equal(leaf.notAfter, '2023-05-16T01:32:52Z');
  assert.equal(leaf.valid, false);
  assert.ok(leaf.secondsLeft! < 0);
  assert.equal(leaf.issuer, 'O=cluster.local');
  assert.equal(leaf.chainLength, 2);
  const root = certs.find((c) => c.resource === 'ROOTCA')!;
  assert.equal(root.kind, 'ca');
  assert.equal(root.valid, true);
  await assert.rejects(proxy.stats(), /config dump holds configuration, not traffic/);
});

test('Kuma dump (Envoy 1.19): build, inbound/outbound listeners, breakers, endpoints from static load assignments', async () => {
  const proxy = await open('config_dump.kuma-envoy-1.19.json');
  const health = await proxy.health();
  assert.equal(health.version, '1.19.0/Modified/RELEASE/BoringSSL');
  assert.deepEqual(health.mesh, { name: 'kuma', version: 'dev-9fd12f2f3', proxySha: null });
  const listeners = await proxy.listeners();
  assert.deepEqual(
    listeners.map((l) => [l.name, l.port, l.direction]),
    [
      ['outbound:127.0.0.1:10006', 10006, 'OUTBOUND'],
      ['inbound:127.0.0.1:10010', 10010, 'INBOUND'],
    ],
  );
  const clusters = await proxy.clusters();
  const gateway = clusters.find((c) => c.name === 'gateway')!;
  assert.equal(gateway.type, 'EDS');
  assert.equal(gateway.outlierDetection, true);
  assert.deepEqual(gateway.circuitBreakers!.thresholds[0], {
    priority: 'DEFAULT',
    maxConnections: 1024,
    maxPendingRequests: 1024,
    maxRequests: 1024,
    maxRetries: 3,
    defaulted: false,
  });
  assert.equal(gateway.circuitBreakers!.state, null);
  assert.ok(gateway.circuitBreakers!.stateReason);
  assert.equal(clusters.find((c) => c.name === 'ads_cluster')!.type, 'STRICT_DNS');
  const endpoints = await proxy.endpoints();
  const ads = endpoints.find((e) => e.cluster === 'ads_cluster')!;
  assert.equal(`${ads.address}:${ads.port}`, 'localhost:5678');
  assert.equal(ads.health, 'unknown', 'a static endpoint with no health status');
  const certs = await proxy.certs();
  assert.deepEqual(
    certs.map((c) => [c.resource, c.kind, c.status]),
    [['cp_validation_ctx', 'ca', 'ACTIVE']],
  );
});

test('a truncated --from-file is a usage error naming the file', async () => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(path.join(tmpdir(), 'meshctl-dump-'));
  try {
    const file = path.join(dir, 'dump.json');
    await writeFile(file, '{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.Bootstr');
    await assert.rejects(ConfigDumpAdapter.fromFile(file), (err: Error & { exitCode?: number }) => {
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /dump\.json is truncated or invalid JSON/);
      return true;
    });
    await writeFile(file, '{"kind": "List"}');
    await assert.rejects(ConfigDumpAdapter.fromFile(file), /is not an Envoy config dump/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('/certs: the workload chain and CA, expiry and SPIFFE ID, issuer unknown with the reason', () => {
  // Field names of envoy.admin.v3.Certificates; 64-bit days as a string, as protobuf JSON writes them.
  const doc = {
    certificates: [
      {
        ca_cert: [{ path: '<inline>', serial_number: '0193A543FE2B0D9CD4847675394DFC54', subject_alt_names: [], days_until_expiration: '2313', valid_from: '2023-05-05T03:41:33Z', expiration_time: '2033-05-02T03:41:33Z' }],
        cert_chain: [
          {
            path: '<inline>',
            serial_number: '6FBEE254C22900615CB1F74E3D2F1713',
            subject_alt_names: [{ uri: 'spiffe://cluster.local/ns/default/sa/reviews' }],
            days_until_expiration: '0',
            valid_from: '2025-12-31T12:00:00Z',
            expiration_time: '2026-01-01T12:00:00Z',
          },
        ],
      },
    ],
  };
  const certs = parseCertsJson(doc, NOW);
  const leaf = certs.find((c) => c.kind === 'cert_chain')!;
  assert.equal(leaf.spiffeId, 'spiffe://cluster.local/ns/default/sa/reviews');
  assert.equal(leaf.trustDomain, 'cluster.local');
  assert.equal(leaf.serial, '6fbee254c22900615cb1f74e3d2f1713');
  assert.equal(leaf.secondsLeft, 12 * 3600);
  assert.equal(leaf.valid, true);
  assert.equal(leaf.issuer, null);
  assert.match(leaf.missing.issuer!, /does not report the issuer/);
  assert.equal(certs.find((c) => c.kind === 'ca')!.notAfter, '2033-05-02T03:41:33Z');
});
