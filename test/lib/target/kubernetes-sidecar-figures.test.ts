// One reader behind `top` on a cluster and route shift's `--metrics envoy` gates: for the same two
// readings of the calling sidecars, the success rate and p99 a shift gates on are those top shows,
// and a pod first read in the later reading (its counters are from before the window) counts in neither.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeClient } from '../../../src/lib/kube/client.js';
import { EnvoyStatsTraffic } from '../../../src/lib/shift/envoy-stats.js';
import { KubernetesTarget } from '../../../src/lib/target/kubernetes.js';
import { IstioExporter } from '../../support/istio-metrics.js';
import { StandInApiServer, writeKubeconfig, type KubeObject } from '../../support/kube-apiserver.js';

const HOST = 'reviews.default.svc.cluster.local';

function sidecarPod(name: string, version: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app: name.split('-')[0]!, version } }, spec: { containers: [{ name: name.split('-')[0]! }, { name: 'istio-proxy' }] }, status: { phase: 'Running' } };
}

describe('top on a cluster and the envoy gates read the same figures', () => {
  let server: StandInApiServer;
  let caller: IstioExporter;
  let newcomer: IstioExporter;
  let dir: string;
  let target: KubernetesTarget;

  before(async () => {
    server = await StandInApiServer.start();
    caller = new IstioExporter('reviews', 'default', 'source');
    newcomer = new IstioExporter('reviews', 'default', 'source');
    await caller.start();
    await newcomer.start();
    server.seed(
      sidecarPod('productpage-v1-b', 'v1'),
      sidecarPod('ratings-v1-c', 'v1'),
      sidecarPod('reviews-v1-a', 'v1'),
      sidecarPod('reviews-v2-a', 'v2'),
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'default' }, spec: { host: 'reviews', subsets: [{ name: 'stable', labels: { version: 'v1' } }, { name: 'canary', labels: { version: 'v2' } }] } },
    );
    server.podProxies.set('default/productpage-v1-b:15020', caller.port);
    dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-kubefigures-'));
    const kubeconfig = writeKubeconfig(path.join(dir, 'config'), server);
    target = new KubernetesTarget(KubeClient.fromFlags({ kubeconfig, namespace: 'default' }), { namespace: 'default' });
  });
  after(async () => {
    await newcomer?.close();
    await caller?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the same success rate and p99 per subset, from the same two readings', async () => {
    // What the caller's sidecar counted since it started, before either reader's first reading.
    caller.record('v1', 200, 1000, 12);
    caller.record('v2', 200, 400, 40);
    caller.record('v2', 503, 100, 40);
    const top = target.trafficOfEveryService();
    const gate = new EnvoyStatsTraffic(target.envoyStats(), HOST);
    await top.startNow();
    await gate.startNow();
    const sinceMs = Date.now();

    // The window: 90 OK to v1 in 12 ms; 8 OK and 2 failed to v2 in 40 ms. A sidecar that answers only
    // now reports 50 slow failures to v2 that it counted before the window.
    caller.record('v1', 200, 90, 12);
    caller.record('v2', 200, 8, 40);
    caller.record('v2', 503, 2, 40);
    newcomer.record('v2', 503, 50, 400);
    server.podProxies.set('default/ratings-v1-c:15020', newcomer.port);

    const window = { sinceMs, untilMs: Date.now() };
    const shown = await top.figures(window);
    const gated = await gate.figures(window);
    const bySubset = (rows: { host: string; subset: string; requests: number; successRate: number | null; latencyMs: { p99: number | null } }[]) =>
      Object.fromEntries(rows.filter((r) => r.host === HOST).map((r) => [r.subset, { requests: r.requests, successRate: r.successRate, p99: r.latencyMs.p99 }]));

    assert.deepEqual(bySubset(shown), bySubset(gated), 'top shows what the gates judge');
    // rank 9.9 of 10 in (25, 50] and rank 89.1 of 90 in (10, 25], as histogram_quantile interpolates.
    assert.deepEqual(bySubset(gated), {
      stable: { requests: 90, successRate: 100, p99: 24.85 },
      canary: { requests: 10, successRate: 80, p99: 49.75 },
    });
  });
});
