// The bookinfo example on a live local mesh: routing by Istio policy through the ingress, a weight
// change under steady load, the agent bringing back what is killed, and an uninstall that leaves no
// process and no listening port behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { load } from 'js-yaml';
import { hasStackTrace } from '../support/cli.js';
import { jsonOutput } from '../support/output-schemas.js';
import { answered, request, steadyLoad, type HttpAnswer } from '../support/net.js';
import { homeLayout } from '../../src/lib/mesh/home.js';
import { meshPod, readPlacement } from '../../src/lib/mesh/pods.js';
import { readRouteWeights } from '../../src/lib/runtime/haproxy/weights.js';
import { agentPid, alive, bookinfoCopy, eventually, freePort, liveGroupMembers, makeHome, podPid, portClosed, type E2eHome } from './support.js';

interface PodJson {
  name: string;
  ready: boolean;
  inSync: boolean;
  proxyRevision: number | null;
  containers: { container: string; process: { pid: number | null } | null }[];
}

let h: E2eHome;
let ingress: number;
let bookinfo: string;
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 16 });

before(async () => {
  h = await makeHome('mesh-bookinfo');
  ingress = await freePort();
  bookinfo = await bookinfoCopy(h.dir, ingress);
  const install = await h.run(['install']);
  assert.equal(install.code, 0, install.stderr);
});

after(async () => {
  keepAlive.destroy();
  await h.cleanup();
});

async function pods(): Promise<PodJson[]> {
  const r = await h.run(['get', 'pods', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return jsonOutput<{ items: PodJson[] }>('get', r.stdout).items;
}

function productpage(headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return request({ port: ingress, path: '/productpage', headers, agent: keepAlive, timeoutMs: 10_000 });
}

/** The reviews version that answered a productpage request ('error <status>' when it failed). */
function reviewsVersion(a: HttpAnswer): string {
  if (a.status !== 200) return `error ${a.status}`;
  return (JSON.parse(a.body) as { reviews: { version: string } }).reviews.version;
}

/** Sends `n` requests, at most `concurrency` at once (a bounded loop), and counts answers by key. */
async function countVersions(n: number, concurrency: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      next++;
      let key: string;
      try {
        key = reviewsVersion(await productpage(headers));
      } catch (err) {
        key = `error ${(err as Error).message}`;
      }
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }));
  return counts;
}

async function statusHealthy(): Promise<boolean> {
  const r = await h.run(['status', '-o', 'json']);
  return r.code === 0;
}

test('apply bookinfo: validated, stored as revision 1, every pod ready and every proxy on it when apply returns', async () => {
  const r = await h.run(['apply', '-f', bookinfo, '--timeout', '90s']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /virtualservice\.networking\.istio\.io\/reviews created/);
  assert.match(r.stdout, /pod\/reviews-v2-0 created/);
  assert.match(r.stdout, /Revision 1 applied: every pod is ready and every proxy serves it/);
  const list = await pods();
  assert.deepEqual(list.map((p) => p.name).sort(), ['bookinfo-gateway', 'productpage-v1-0', 'ratings-v1-0', 'reviews-v1-0', 'reviews-v2-0', 'reviews-v3-0']);
  for (const p of list) {
    assert.equal(p.ready, true, `${p.name} not ready`);
    assert.equal(p.proxyRevision, 1, `${p.name} serves ${p.proxyRevision}`);
  }
  const again = await h.run(['apply', '-f', bookinfo]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /No change: the mesh stays at revision 1/);
});

test('apply, get and status -o json hold to their schemas, and -o yaml prints the same documents', async () => {
  const unchanged = await h.run(['apply', '-f', bookinfo, '-o', 'json']);
  assert.equal(unchanged.code, 0, unchanged.stderr);
  const applied = jsonOutput<{ revision: number; committed: boolean; changes: { action: string }[] }>('apply', unchanged.stdout);
  assert.equal(applied.revision, 1);
  assert.equal(applied.committed, false);
  assert.ok(applied.changes.every((c) => c.action === 'unchanged'), JSON.stringify(applied.changes));

  const status = await h.run(['status', '-o', 'json']);
  assert.equal(status.code, 0, status.stderr);
  const mesh = jsonOutput<{ revision: number; pods: { name: string }[] }>('status', status.stdout);
  assert.equal(mesh.revision, 1);
  assert.equal(mesh.pods.length, 6);
  const statusYaml = await h.run(['status', '-o', 'yaml']);
  assert.equal(statusYaml.code, 0);
  // Two reads of a live mesh: the documents agree on everything but the clock-driven fields.
  const asYaml = load(statusYaml.stdout) as { revision: number; pods: { name: string; ready: boolean }[] };
  assert.equal(asYaml.revision, mesh.revision);
  assert.deepEqual(asYaml.pods.map((p) => p.name), mesh.pods.map((p) => p.name));

  const services = await h.run(['get', 'virtualservices', '-o', 'json']);
  assert.equal(services.code, 0, services.stderr);
  const list = jsonOutput<{ kind: string; items: { metadata: { name: string } }[] }>('get', services.stdout);
  assert.equal(list.kind, 'List');
  assert.ok(list.items.some((r) => r.metadata.name === 'reviews'));
  const servicesYaml = await h.run(['get', 'virtualservices', '-o', 'yaml']);
  assert.deepEqual(load(servicesYaml.stdout), list);

  const one = await h.run(['get', 'pods', 'reviews-v2-0', '-o', 'json']);
  assert.equal(jsonOutput<{ name: string }>('get', one.stdout).name, 'reviews-v2-0');
  const reviews = await h.run(['get', 'virtualservice', 'reviews', '-o', 'json']);
  assert.equal(jsonOutput<{ kind: string }>('get', reviews.stdout).kind, 'VirtualService');
  const mixed = await h.run(['get', 'pods,vs', '-o', 'json']);
  assert.equal(mixed.code, 0, mixed.stderr);
  const kinds = jsonOutput<{ items: { kind?: string; name?: string }[] }>('get', mixed.stdout).items.map((i) => i.kind ?? 'pod');
  assert.ok(kinds.includes('pod') && kinds.includes('VirtualService'), kinds.join(','));
  const names = await h.run(['get', 'vs', '-o', 'name']);
  assert.equal(names.code, 0, names.stderr);
  assert.match(names.stdout, /^virtualservice\.networking\.istio\.io\/reviews$/m);
});

test('apply refuses a file with error findings, prints them, and stores nothing', async () => {
  const bad = path.join(h.dir, 'bad.yaml');
  await fs.writeFile(bad, ['apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata: {name: reviews}', 'spec:', '  hosts: [reviews]', '  http:', '  - route:', '    - destination: {host: reviews, subset: v9}', ''].join('\n'));
  const r = await h.run(['apply', '-f', bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.yaml:8:\d+\s+error/);
  assert.match(r.stderr, /Error: Nothing was applied/);
  assert.ok(!hasStackTrace(r.stderr));
  const vs = await h.run(['get', 'virtualservice', 'reviews', '-o', 'json']);
  assert.equal((JSON.parse(vs.stdout) as { spec: { http: unknown[] } }).spec.http.length, 2, 'the stored VirtualService changed');
});

test('1,000 requests through the ingress: reviews splits 80/20 between v1 and v2, and end-user jason always gets v2', async () => {
  const counts = await countVersions(1000, 8);
  const v1 = counts.get('v1') ?? 0;
  const v2 = counts.get('v2') ?? 0;
  assert.equal(v1 + v2, 1000, `unexpected answers: ${JSON.stringify([...counts])}`);
  assert.ok(v1 >= 750 && v1 <= 850, `v1 got ${v1} of 1000 (want 800 ± 50)`);
  assert.ok(v2 >= 150 && v2 <= 250, `v2 got ${v2} of 1000 (want 200 ± 50)`);

  const jason = await countVersions(100, 4, { 'end-user': 'jason' });
  assert.deepEqual([...jason], [['v2', 100]]);
  const v2page = JSON.parse((await productpage({ 'end-user': 'jason' })).body) as { reviews: { ratings: { service: string } } };
  assert.equal(v2page.reviews.ratings.service, 'ratings', 'reviews v2 reaches ratings through the mesh');
});

test('a weight change under a steady 200 rps: no request fails, and every sidecar serves the new weights when apply returns', async () => {
  const routing = path.join(bookinfo, 'routing.yaml');
  const text = await fs.readFile(routing, 'utf8');
  const split = path.join(h.dir, 'routing-50-50.yaml');
  await fs.writeFile(split, text.replace('weight: 80', 'weight: 50').replace('weight: 20', 'weight: 50'));
  let applied: { code: number; stdout: string; stderr: string } | null = null;
  let weightsAtReturn: number[] = [];
  const load = await steadyLoad({
    rps: 200,
    durationMs: 3000,
    send: () => productpage(),
    maxInFlight: 64,
    during: async (progress) => {
      // A fifth of the load answered before the apply: it lands under way, not at the start.
      await answered(progress, 120);
      applied = await h.run(['apply', '-f', split]);
      // Read straight from the proxy that routes to reviews: the weights it serves now.
      const layout = homeLayout(h.home);
      const record = (await readPlacement(layout)).pods.find((p) => p.name === 'productpage-v1-0')!;
      const served = await readRouteWeights(meshPod(layout, record));
      weightsAtReturn = served.routes.find((r) => r.virtualService?.name === 'reviews')?.destinations.map((d) => d.weight) ?? [];
    },
  });
  assert.ok(applied, 'apply did not run');
  const a = applied as { code: number; stdout: string; stderr: string };
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /virtualservice\.networking\.istio\.io\/reviews configured/);
  assert.match(a.stdout, /Revision 2 applied: every pod is ready and every proxy serves it/);
  assert.deepEqual(weightsAtReturn, [50, 50]);
  assert.equal(load.sent, 600);
  assert.deepEqual(load.failures, [], `${load.failures.length} requests failed`);
  const after = await countVersions(400, 8);
  assert.ok(Math.abs((after.get('v1') ?? 0) - 200) <= 40 && Math.abs((after.get('v2') ?? 0) - 200) <= 40, JSON.stringify([...after]));
  // Every sidecar knows the reviews route and takes revision 2; the gateway routes productpage alone, so
  // the change leaves it alone, serving the revision its configuration is at.
  const served = Object.fromEntries((await pods()).map((p) => [p.name, [p.proxyRevision, p.inSync]]));
  assert.deepEqual(served, {
    'bookinfo-gateway': [1, true],
    'productpage-v1-0': [2, true],
    'ratings-v1-0': [2, true],
    'reviews-v1-0': [2, true],
    'reviews-v2-0': [2, true],
    'reviews-v3-0': [2, true],
  });
});

test('kill -9 an app, then a sidecar: each comes back on its own and serves again', async () => {
  for (const container of ['app', 'proxy'] as const) {
    const before = podPid(h.home, 'reviews-v2-0', container);
    assert.ok(before && alive(before), `reviews-v2-0 ${container} does not run`);
    process.kill(before, 'SIGKILL');
    await eventually(`reviews-v2-0 ${container} to be restarted`, () => {
      const now = podPid(h.home, 'reviews-v2-0', container);
      return now !== null && now !== before && alive(now);
    });
    h.record();
    await eventually('every pod ready and in sync again', statusHealthy, 30_000, 200);
    const jason = await countVersions(20, 2, { 'end-user': 'jason' });
    assert.deepEqual([...jason], [['v2', 20]], `after kill -9 of the ${container}`);
  }
  const list = await pods();
  const restarted = list.find((p) => p.name === 'reviews-v2-0') as PodJson & { restarts?: number };
  assert.ok(restarted, 'reviews-v2-0 is gone');
});

test('kill -9 the agent: the next command starts it again, it adopts the running pods, and the applied resources are intact', async () => {
  const vsBefore = await h.run(['get', 'virtualservices', '-o', 'json']);
  const before = agentPid(h.home)!;
  const podsBefore = (await pods()).map((p) => [p.name, p.containers.map((c) => c.process?.pid)] as const);
  process.kill(before, 'SIGKILL');
  await eventually('the agent to die', () => !alive(before));
  // Traffic does not depend on the agent.
  assert.equal(reviewsVersion(await productpage({ 'end-user': 'jason' })), 'v2');

  const status = await h.run(['status']);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stdout, /Revision\s+2/);
  const after = agentPid(h.home)!;
  assert.ok(after !== before && alive(after), 'no new agent runs');
  assert.deepEqual((await pods()).map((p) => [p.name, p.containers.map((c) => c.process?.pid)] as const), podsBefore, 'pods were restarted instead of adopted');
  const vsAfter = await h.run(['get', 'virtualservices', '-o', 'json']);
  assert.equal(vsAfter.stdout, vsBefore.stdout);

  // The new agent supervises what it adopted.
  const app = podPid(h.home, 'ratings-v1-0', 'app')!;
  process.kill(app, 'SIGKILL');
  await eventually('ratings-v1-0 app to be restarted by the new agent', () => {
    const now = podPid(h.home, 'ratings-v1-0', 'app');
    return now !== null && now !== app && alive(now);
  });
  h.record();
  await eventually('every pod ready again', statusHealthy, 30_000, 200);
});

test('a URI prefix match with a rewrite, applied to the mesh, takes effect in the calling sidecar', async () => {
  const file = path.join(h.dir, 'ratings-rewrite.yaml');
  await fs.writeFile(file, [
    'apiVersion: networking.istio.io/v1',
    'kind: VirtualService',
    'metadata: {name: ratings}',
    'spec:',
    '  hosts: [ratings]',
    '  http:',
    '  - match: [{uri: {prefix: /stars/}}]',
    '    rewrite: {uri: /ratings/}',
    '    route: [{destination: {host: ratings, subset: v1}}]',
    '  - route: [{destination: {host: ratings, subset: v1}}]',
    '',
  ].join('\n'));
  const r = await h.run(['apply', '-f', file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /virtualservice\.networking\.istio\.io\/ratings configured/);
  // Call as productpage's app would: its sidecar's outbound listener, origin-form with a Host header.
  const pod = (JSON.parse((await h.run(['get', 'pods', 'productpage-v1-0', '-o', 'json'])).stdout) as { ports: { outbound: number } });
  const rewritten = await request({ port: pod.ports.outbound, path: '/stars/7', headers: { host: 'ratings' } });
  assert.equal(rewritten.status, 200, rewritten.body);
  assert.deepEqual((JSON.parse(rewritten.body) as { service: string; product: number }).product, 7);
  const plain = await request({ port: pod.ports.outbound, path: '/other', headers: { host: 'ratings' } });
  assert.equal(plain.status, 404, 'a path outside the prefix was rewritten');
});

test('uninstall stops every process the mesh started and leaves no port listening', async () => {
  h.record();
  const pids = new Set(h.pids);
  const ports = [...h.ports];
  assert.ok(pids.size >= 12, `only ${pids.size} pids recorded`);
  assert.ok(ports.includes(ingress));
  const r = await h.run(['uninstall', '--yes']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual([...pids].filter(alive), [], 'processes still alive');
  assert.deepEqual(liveGroupMembers(pids), [], 'children of mesh processes still alive');
  const open: number[] = [];
  for (const port of ports) if (!(await portClosed(port))) open.push(port);
  assert.deepEqual(open, [], 'ports still listening');
});
