import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';
import { applyMeshConfig } from '../../../../src/lib/policy/mesh-config.js';

const analyzers = ['serviceentry.Analyzer'];

const entry = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db}
spec:
  hosts: [db.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports:
  - number: 443
    name: https
    protocol: HTTPS
  - number: 5432
    name: postgres
    protocol: tcp
`;

test('a TCP port of a ServiceEntry without addresses is IST0134 at its protocol', async () => {
  assert.deepEqual(codesAt((await validateText(entry, { analyzers })).findings), ['IST0134@14']);
});

test('addresses, or DNS capture with auto-allocation in the mesh config, give no finding', async () => {
  const withAddress = entry.replace('  location:', '  addresses: [240.0.0.10]\n  location:');
  assert.deepEqual(codesAt((await validateText(withAddress, { analyzers })).findings), []);
  const meshConfig = applyMeshConfig({ defaultConfig: { proxyMetadata: { ISTIO_META_DNS_CAPTURE: 'true', ISTIO_META_DNS_AUTO_ALLOCATE: 'true' } } });
  assert.deepEqual(codesAt((await validateText(entry, { analyzers, meshConfig })).findings), []);
});
