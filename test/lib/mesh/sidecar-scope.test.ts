// Live: a Sidecar resource restricting a pod's egress, on real HAProxy sidecars on loopback. The
// restricted pod reaches its in-scope host and is answered 502 (NR) for the other; a pod without a
// Sidecar reaches both; a change to the out-of-scope host leaves the restricted sidecar running as it was.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { meshForSuite, type EchoAnswer } from '../../support/mesh.js';
import { request } from '../../support/net.js';
import { scopedPolicy } from '../../support/sidecar-scope-policy.js';
import { readAccessLog } from '../../../src/lib/runtime/haproxy/access-log.js';
import { waitFor } from '../../../src/lib/runtime/haproxy/admin.js';
import { proxyStatus } from '../../../src/lib/runtime/haproxy/apply.js';
import { getListing } from '../../../src/lib/mesh/get.js';
import type { PodStatus } from '../../../src/lib/mesh/agent/protocol.js';
import type { StoredResource } from '../../../src/lib/mesh/state.js';

describe('Sidecar egress scope (live HAProxy on loopback)', { timeout: 120_000 }, () => {
  const suite = meshForSuite(scopedPolicy({ mode: 'REGISTRY_ONLY' }));

  const call = (from: string, host: string, requestId: string) =>
    request({ port: suite.mesh.pod(`${from}-0`).ports.outbound, path: '/scope', headers: { host, 'x-request-id': requestId }, agent: suite.agent });

  const logged = (pod: string, requestId: string) => waitFor(`the access log line of ${requestId}`, async () => {
    const { entries } = await readAccessLog(suite.mesh.pod(pod).paths.accessLog);
    return entries.find((e) => e.requestId === requestId && e.direction === 'outbound');
  }, { timeoutMs: 5000 });

  const proxyPid = async (pod: string) => {
    const { pid } = await proxyStatus(suite.mesh.pod(pod));
    assert.ok(pid, `${pod}'s proxy does not run`);
    return pid;
  };

  it('makes the out-of-scope host unreachable from the restricted pod (502, NR) while its in-scope host still works', async () => {
    const inScope = await call('frontend', 'reviews', 'scope-in-1');
    assert.equal(inScope.status, 200, inScope.body);
    assert.equal((JSON.parse(inScope.body) as EchoAnswer).pod, 'reviews-0');
    for (const host of ['ratings', 'ratings.default.svc.cluster.local', 'unknown.example.com']) {
      const id = `scope-out-${host}`;
      const blocked = await call('frontend', host, id);
      assert.equal(blocked.status, 502, `${host}: ${blocked.body}`);
      assert.match(blocked.body, /is not in the egress hosts of Sidecar default\/frontend-egress/);
      const entry = await logged('frontend-0', id);
      assert.equal(entry.status, 502);
      assert.deepEqual(entry.responseFlags, ['NR']);
    }
    assert.equal(suite.mesh.app('ratings-0').received.filter((r) => r.headers['x-request-id']?.toString().startsWith('scope-out')).length, 0);
  });

  it('lets a pod without that Sidecar reach both hosts, and answer an unknown host with its usual 404', async () => {
    for (const [host, pod] of [['reviews', 'reviews-0'], ['ratings', 'ratings-0']]) {
      const a = await call('client', host!, `scope-client-${host}`);
      assert.equal(a.status, 200, a.body);
      assert.equal((JSON.parse(a.body) as EchoAnswer).pod, pod);
    }
    const unknown = await call('client', 'unknown.example.com', 'scope-client-unknown');
    assert.equal(unknown.status, 404);
    assert.deepEqual((await logged('client-0', 'scope-client-unknown')).responseFlags, ['NR']);
  });

  it('leaves the restricted sidecar untouched when the out-of-scope host\'s VirtualService changes', async () => {
    const frontendPid = await proxyPid('frontend-0');
    const before = { frontend: suite.mesh.compiledOf('frontend-0').config, client: suite.mesh.compiledOf('client-0').runtimeState };
    const results = await suite.mesh.apply(scopedPolicy({ mode: 'REGISTRY_ONLY', ratingsTimeout: '250ms' }));
    // The change is the client's, which knows ratings (a new timeout is a runtime value, not configuration text)...
    assert.notDeepEqual(suite.mesh.compiledOf('client-0').runtimeState, before.client);
    assert.notEqual(results.get('client-0')?.action, 'unchanged');
    // ...and not the restricted sidecar's: the same configuration, served by the same process.
    assert.equal(suite.mesh.compiledOf('frontend-0').config, before.frontend);
    assert.notEqual(results.get('frontend-0')?.action, 'reloaded');
    assert.equal(await proxyPid('frontend-0'), frontendPid);
    assert.equal((await call('frontend', 'reviews', 'scope-after-in')).status, 200);
    assert.equal((await call('frontend', 'ratings', 'scope-after-out')).status, 502);
    assert.equal((await call('client', 'ratings', 'scope-after-client')).status, 200);
  });
});

describe('get sidecars', () => {
  const sidecar = (name: string, namespace: string, spec: Record<string, unknown>): StoredResource => ({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name, namespace }, spec });
  const pod = (name: string, namespace: string, labels: Record<string, string>) => ({ name, namespace, labels, type: 'pod', containers: [] }) as unknown as PodStatus;
  const applied = [
    sidecar('frontend-egress', 'default', { workloadSelector: { labels: { app: 'frontend' } }, egress: [{ hosts: ['./reviews.default.svc.cluster.local'] }], outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } }),
    sidecar('default', 'default', { egress: [{ hosts: ['./*', 'istio-system/*'] }] }),
    sidecar('mesh', 'istio-system', { outboundTrafficPolicy: { mode: 'ALLOW_ANY' } }),
  ];
  const pods = [pod('frontend-0', 'default', { app: 'frontend' }), pod('client-0', 'default', { app: 'client' }), pod('ops-0', 'ops', { app: 'ops' })];

  it('lists each Sidecar with its selector, egress hosts, outbound policy and the pods it applies to', async () => {
    const listing = await getListing({ types: 'sidecars', wide: true }, pods, applied);
    const [head, ...rows] = listing.text.trim().split('\n').map((l) => l.trim().split(/\s{2,}/));
    assert.deepEqual(head, ['NAMESPACE', 'NAME', 'SELECTOR', 'EGRESS HOSTS', 'OUTBOUND', 'PODS']);
    assert.deepEqual(rows.sort(), [
      ['default', 'default', '<none>', './*,istio-system/*', 'ALLOW_ANY (mesh default)', 'client-0'],
      ['default', 'frontend-egress', 'app=frontend', './reviews.default.svc.cluster.local', 'REGISTRY_ONLY', 'frontend-0'],
      ['istio-system', 'mesh', '<none>', '*/*', 'ALLOW_ANY', 'ops-0'],
    ]);
    assert.deepEqual(listing.names.sort(), ['sidecar.networking.istio.io/default', 'sidecar.networking.istio.io/frontend-egress', 'sidecar.networking.istio.io/mesh']);
  });
});
