// The target seam: route shift talks to a mesh only through MeshTarget, so a mesh that is not the local
// one drives a shift end to end. The mesh here is held in memory (as a Kubernetes target would hold an
// API server's answers): its applied resources, the weights its proxies serve, their traffic and the
// shift's record. It proves the seam, not a mesh: the live tests prove the local one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usageError } from '../../../src/lib/errors.js';
import { figuresOf, type TrafficWindow, type UpstreamFigures } from '../../../src/lib/runtime/figures.js';
import type { ProxyAdapter } from '../../../src/lib/runtime/adapter.js';
import { runShift } from '../../../src/lib/shift/shift.js';
import { routeStatus } from '../../../src/lib/shift/status.js';
import { findVirtualService, storedWeights } from '../../../src/lib/shift/route.js';
import type { ShiftEvent } from '../../../src/lib/shift/events.js';
import type { ShiftRecord } from '../../../src/lib/shift/record.js';
import type {
  AppliedPolicy,
  MeshProxy,
  MeshResource,
  MeshTarget,
  ProxyStatusReport,
  RouteRef,
  ServedWeights,
  ShiftRecordStore,
  TrafficReader,
  Weights,
  WriteReport,
} from '../../../src/lib/target/target.js';
import { shiftPolicy, storedResources } from '../../support/shift-policy.js';

const HOST = 'reviews.default.svc.cluster.local';
const key = (r: MeshResource) => `${r.apiVersion}/${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;

class InMemoryMesh implements MeshTarget {
  readonly location = 'in-memory mesh';
  resources: MeshResource[] = storedResources(shiftPolicy({ route: { v1: 100, v2: 0 } }));
  revision = 1;
  served: Weights = { v1: 100, v2: 0 };
  writes: Weights[] = [];
  /** The shift record's pending change when each write of weights reached the proxies. */
  pendingAtWrite: (Weights | null)[] = [];
  records = new Map<string, unknown>();
  requests = new Map<string, { id: string }>();
  private lock: Promise<unknown> = Promise.resolve();

  async installed() { return true; }
  async proxies(): Promise<MeshProxy[]> {
    return [{ name: 'caller-0', namespace: 'default', kind: 'sidecar', workload: 'caller', labels: { app: 'caller' } }];
  }
  async applied(): Promise<AppliedPolicy> { return { revision: this.revision, resources: structuredClone(this.resources) }; }
  async apply(resources: MeshResource[]) {
    const incoming = new Map(resources.map((r) => [key(r), r]));
    this.resources = this.resources.map((r) => incoming.get(key(r)) ?? r);
    this.revision += 1;
  }
  async routedUpstreams() { return [{ host: HOST, subset: 'v1' }, { host: HOST, subset: 'v2' }]; }
  async routeCarriers(route: RouteRef) { return route.host === HOST ? ['caller-0'] : []; }
  async readRouteWeights(): Promise<ServedWeights[]> {
    return [{ proxy: 'caller-0', kind: 'sidecar', weights: { ...this.served }, error: null }];
  }
  async writeRouteWeights(_route: RouteRef, weights: Weights): Promise<WriteReport> {
    const record = [...this.records.values()][0] as ShiftRecord | undefined;
    this.pendingAtWrite.push(record?.pending?.weights ?? null);
    this.writes.push({ ...weights });
    this.served = { ...weights };
    return { served: ['caller-0'], notRunning: [] };
  }
  traffic(): TrafficReader {
    // Every window: 100 requests split as the proxies serve, all answered 200 in 4 ms.
    return {
      startNow: async () => undefined,
      figures: async (window: TrafficWindow): Promise<UpstreamFigures[]> => Object.entries(this.served).map(([subset, weight]) => ({
        host: HOST,
        subset,
        ...figuresOf(Array.from({ length: weight }, () => ({ startMs: window.sinceMs, status: 200, durationMs: 4, retries: 0 })), window),
      })),
    };
  }
  async proxyAdmin(name: string): Promise<ProxyAdapter> { throw usageError(`${name}: this mesh keeps no admin model.`); }
  async proxyStatus(): Promise<ProxyStatusReport> {
    return { home: this.location, installed: true, appliedRevision: this.revision, readAt: new Date().toISOString(), proxies: [], summary: { total: 0, synced: 0, stale: 0, unreachable: 0, notReady: 0 }, ok: true };
  }
  shiftRecords<R, Q extends { id: string }>(host: string): ShiftRecordStore<R, Q> {
    const mesh = this;
    return {
      async read() { return (structuredClone(mesh.records.get(host)) as R | undefined) ?? null; },
      async write(record: R) { mesh.records.set(host, structuredClone(record)); },
      async remove() { mesh.records.delete(host); },
      locked<T>(fn: () => Promise<T>): Promise<T> {
        const run = mesh.lock.then(fn, fn);
        mesh.lock = run.catch(() => undefined);
        return run;
      },
      async readRequest() { return (mesh.requests.get(host) as Q | undefined) ?? null; },
      async writeRequest(request: Q) { mesh.requests.set(host, request); },
      async clearRequest(id?: string) { if (id === undefined || mesh.requests.get(host)?.id === id) mesh.requests.delete(host); },
    };
  }
}

test('a mesh other than the local one drives a shift to its end through MeshTarget alone', async () => {
  const mesh = new InMemoryMesh();
  const events: ShiftEvent[] = [];
  const outcome = await runShift(
    { mesh, host: 'reviews', namespace: 'default', to: 'v2', plan: { steps: [50, 100], intervalMs: 100, gates: { minRequests: 10 } }, manual: false, dryRun: false, resume: false, commonFlags: '' },
    { emit: (e) => events.push(e), onInterrupt: async () => 'hold' },
  );
  assert.equal(outcome.result?.phase, 'promoted');
  assert.deepEqual(events.map((e) => `${e.type}:${e.step}`), ['planned:0', 'step:1', 'analysis:1', 'step:2', 'analysis:2', 'promoted:2']);
  assert.deepEqual((events[0] as Extract<ShiftEvent, { type: 'planned' }>).proxies, ['caller-0']);
  // The weights reached the proxies step by step, each change recorded as pending first.
  assert.deepEqual(mesh.writes, [{ v1: 50, v2: 50 }, { v1: 0, v2: 100 }]);
  assert.deepEqual(mesh.pendingAtWrite, mesh.writes);
  assert.deepEqual(mesh.served, { v1: 0, v2: 100 });
  // The gates judged the mesh's own figures.
  const first = events[2] as Extract<ShiftEvent, { type: 'analysis' }>;
  assert.deepEqual([first.outcome, first.canary.requests, first.canary.successRate, first.canary.latencyMs.p99, first.stable.requests], ['passed', 50, 100, 4, 50]);
  // The applied VirtualService records the last step, and the shift's record is where the mesh keeps it.
  const route = outcome.record!.route;
  assert.deepEqual(storedWeights(mesh.resources, route), { v1: 0, v2: 100 });
  assert.ok(findVirtualService(mesh.resources, route.virtualService));
  const status = await routeStatus(mesh, { host: 'reviews', namespace: 'default' });
  assert.equal(status.shift.state, 'promoted');
  assert.deepEqual(status.served.proxies.map((p) => [p.proxy, p.weights]), [['caller-0', { v1: 0, v2: 100 }]]);
});
