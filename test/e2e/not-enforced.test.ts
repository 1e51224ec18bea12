// The local mesh never ignores policy silently: apply's text output names every field it accepts but
// does not enforce, one line each, and its findings point at the same fields.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { makeHome, type E2eHome } from './support.js';

let h: E2eHome;
before(async () => {
  h = await makeHome('mesh-unenforced');
  const r = await h.run(['install']);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await h.cleanup();
});

const policy = [
  'apiVersion: meshctl.dev/v1alpha1',
  'kind: Workload',
  'metadata: {name: greeter, labels: {app: greeter, version: v1}}',
  'spec:',
  "  command: [node, -e, \"require('http').createServer((q, s) => s.end('hi')).listen(process.env.PORT)\"]",
  '  port: 8000',
  '---',
  'apiVersion: v1',
  'kind: Service',
  'metadata: {name: greeter}',
  'spec:',
  '  selector: {app: greeter}',
  '  ports: [{name: http, port: 8000}]',
  '---',
  'apiVersion: security.istio.io/v1',
  'kind: AuthorizationPolicy',
  'metadata: {name: deny-post}',
  'spec:',
  '  selector: {matchLabels: {app: greeter}}',
  '  action: DENY',
  '  rules: [{to: [{operation: {methods: [POST]}}]}]',
  '---',
  'apiVersion: networking.istio.io/v1alpha3',
  'kind: EnvoyFilter',
  'metadata: {name: local-ratelimit}',
  'spec:',
  '  workloadSelector: {labels: {app: greeter}}',
  '  configPatches:',
  '  - applyTo: HTTP_FILTER',
  '    patch: {operation: INSERT_BEFORE, value: {name: envoy.filters.http.local_ratelimit}}',
  '---',
  'apiVersion: networking.istio.io/v1',
  'kind: VirtualService',
  'metadata: {name: greeter}',
  'spec:',
  '  hosts: [greeter]',
  '  http:',
  '  - route: [{destination: {host: greeter}}]',
  '    retries: {attempts: 2, retryRemoteLocalities: true}',
  '',
].join('\n');

test('apply prints one note per field the local mesh does not enforce, and warns at each field', async () => {
  const file = path.join(h.dir, 'greeter.yaml');
  await fs.writeFile(file, policy);
  const r = await h.run(['apply', '-f', file, '--timeout', '60s']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const notes = r.stdout.split('\n').filter((l) => l.startsWith('Note: ') && l.includes('not enforced by the local mesh'));
  assert.deepEqual(notes.map((l) => l.replace(/ \(.*\); /, ' (…); ')).sort(), [
    'Note: EnvoyFilter default/local-ratelimit is not enforced by the local mesh (…); it takes effect on Istio.',
    'Note: http[0].retries.retryRemoteLocalities of VirtualService default/greeter is not enforced by the local mesh (…); it takes effect on Istio.',
  ]);
  assert.match(r.stdout, /^Revision 1 applied: every pod is ready/m);
  // The same items as warnings, each at its line.
  // The DENY policy is enforced by the sidecars: neither a note nor a warning.
  assert.doesNotMatch(r.stdout + r.stderr, /deny-post is not enforced/);
  assert.match(r.stderr, /greeter\.yaml:23:1\s+warning\s+MSH2015\s+EnvoyFilter default\/local-ratelimit is not enforced/);
  assert.match(r.stderr, /greeter\.yaml:39:28\s+warning\s+MSH2015\s+http\[0\]\.retries\.retryRemoteLocalities/);

  // Nothing applied twice: an unchanged apply says so, and still names what is not enforced.
  const again = await h.run(['apply', '-f', file, '--timeout', '60s']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^Note: EnvoyFilter default\/local-ratelimit is not enforced by the local mesh/m);
});
