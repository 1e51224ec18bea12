// A RateLimit on a real local mesh (agent, app processes, HAProxy sidecars): applied, listed by get,
// enforced at the destination's inbound listener, which serves plain text by Istio's PERMISSIVE default.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { makeHome, type E2eHome } from './support.js';
import { jsonOutput } from '../support/output-schemas.js';
import { request } from '../support/net.js';

let h: E2eHome;
before(async () => {
  h = await makeHome('mesh-ratelimit');
  const r = await h.run(['install']);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await h.cleanup();
});

const policy = `apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: {name: greeter, labels: {app: greeter, version: v1}}
spec:
  command: [node, -e, "require('http').createServer((q, s) => s.end('hi')).listen(process.env.PORT)"]
  port: 8000
---
apiVersion: v1
kind: Service
metadata: {name: greeter}
spec: {selector: {app: greeter}, ports: [{name: http, port: 8000}]}
---
apiVersion: meshctl.dev/v1alpha1
kind: RateLimit
metadata: {name: greeter}
spec:
  selector: {matchLabels: {app: greeter}}
  limits: [{requests: 2, per: 1m, match: {pathPrefix: /hello}}]
`;

test('apply a RateLimit: get lists it, the third request a minute to /hello gets 429, other paths are not limited', async () => {
  const file = path.join(h.dir, 'greeter.yaml');
  await fs.writeFile(file, policy);
  const applied = await h.run(['apply', '-f', file, '--timeout', '60s']);
  assert.equal(applied.code, 0, applied.stdout + applied.stderr);
  assert.doesNotMatch(applied.stdout, /Note: .*RateLimit/);
  const listed = await h.run(['get', 'ratelimits']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^greeter\s+app=greeter\s+2\/1m \/hello$/m);

  const pods = await h.run(['get', 'pods', '-o', 'json']);
  const pod = jsonOutput<{ items: { name: string; ports: Record<string, number> }[] }>('get', pods.stdout).items.find((p) => p.name === 'greeter-0')!;
  const inbound = pod.ports.inbound!;
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await request({ port: inbound, path: '/hello', headers: { host: 'greeter' } })).status);
  assert.deepEqual(statuses, [200, 200, 429]);
  const refused = await request({ port: inbound, path: '/hello/again', headers: { host: 'greeter' } });
  assert.equal(refused.status, 429);
  assert.deepEqual([refused.headers['x-ratelimit-limit'], refused.headers['x-ratelimit-remaining'], refused.headers['x-ratelimit-reset']], ['2', '0', '60']);
  assert.equal((await request({ port: inbound, path: '/', headers: { host: 'greeter' } })).status, 200);

  // The limit's stick table is no upstream cluster of the sidecar.
  const inspected = await h.run(['inspect', 'pod', 'greeter-0', '--section', 'clusters', '-o', 'json']);
  assert.equal(inspected.code, 0, inspected.stderr);
  const clusters = (JSON.parse(inspected.stdout) as { clusters: { name: string }[] }).clusters.map((c) => c.name);
  assert.ok(clusters.includes('inbound_app'), clusters.join(', '));
  assert.ok(!clusters.some((c) => c.startsWith('ratelimit')), clusters.join(', '));
});
