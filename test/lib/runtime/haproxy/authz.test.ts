// AuthorizationPolicy compiled for the inbound listener: the lines each form becomes, nothing at all
// for a pod without policy, and Istio's handling of values it cannot turn into a matcher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadSources } from '../../../../src/lib/policy/load.js';
import { buildMeshModel, desiredPods } from '../../../../src/lib/policy/mesh-model.js';
import { authorizationFor } from '../../../../src/lib/policy/authorization.js';
import { authorizationLines } from '../../../../src/lib/runtime/haproxy/authz.js';
import { compileMesh } from '../../../../src/lib/runtime/haproxy/compiler.js';
import { proxyPaths } from '../../../../src/lib/runtime/haproxy/types.js';

function model(text: string) {
  const { resources } = loadSources([{ path: 'mesh.yaml', text, format: 'yaml', size: text.length }], { defaultNamespace: 'default' });
  return buildMeshModel(resources);
}

const WEB = `apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: { name: web, namespace: default, labels: { app: web } }
spec: { command: [node, app.js], port: 9080, serviceAccount: web }
---
`;

const ap = (spec: string, name = 'p') => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: default }
spec: ${spec}
---
`;

function linesOf(policies: string): string[] {
  const m = model(policies);
  return authorizationLines(authorizationFor(m.authorizationPolicies, m.rootNamespace, { namespace: 'default', labels: { app: 'web' } }), { destinationPort: 9080, remoteAddress: 'forwarded-for' }).lines;
}

test('a pod without policy gets no authorization rule and no log field; a guarded pod logs the decision', () => {
  const m = model(WEB);
  let port = 31000;
  const pods = desiredPods(m).map((p) => ({ ...p, ports: { app: port++, inbound: port++, outbound: port++, admin: port++ }, paths: proxyPaths(path.join('mesh', p.name)) }));
  const plain = compileMesh(m, { pods }, { revision: 1 }).sidecars[0]!.config;
  assert.doesNotMatch(plain, /authz|expose-experimental-directives|RBAC/);
  const guarded = compileMesh(model(WEB + ap('{ rules: [{ to: [{ operation: { paths: ["/api/*"] } }] }] }')), { pods }, { revision: 1 }).sidecars[0]!.config;
  assert.match(guarded, /^ {2}expose-experimental-directives$/m);
  assert.match(guarded, /^ {2}http-request normalize-uri path-strip-dotdot$/m);
  // The inbound line carries the decision as a field of its own (access-log.ts reads it back).
  assert.match(guarded, /^ {2}log-format .*\\t%\[var\(txn\.authz\),url_enc\]\\t/m);
});

test('an ALLOW rule costs one ACL per field, and one policy three rules in all', () => {
  assert.deepEqual(linesOf(ap('{ rules: [{ from: [{ source: { principals: [cluster.local/ns/default/sa/caller] } }], to: [{ operation: { methods: [GET, HEAD] } }] }] }')), [
    'acl authz_decided var(txn.authz) -m found',
    'acl authz_0 var(sess.peer) -m str -- spiffe://cluster.local/ns/default/sa/caller',
    'acl authz_1 method -m str -- GET',
    'acl authz_1 method -m str -- HEAD',
    "http-request set-var(txn.authz) str('rbac_allowed_matched_policy[ns[default]-policy[p]-rule[0]]') if !authz_decided authz_0 authz_1",
    "http-request set-var(txn.authz) str('rbac_access_denied_matched_policy[none]') unless authz_decided",
    "http-request return status 403 content-type text/plain string 'RBAC: access denied' if { var(txn.authz) -m beg rbac_access_denied }",
  ]);
});

test('each value form becomes the matcher Envoy builds for it', () => {
  const acls = (source: string) => linesOf(ap(`{ action: DENY, rules: [${source}] }`)).filter((l) => l.startsWith('acl authz_0'));
  assert.deepEqual(acls('{ from: [{ source: { principals: ["*/sa/admin", "cluster.local/ns/ops/*", "*"] } }] }'), [
    "acl authz_0 var(sess.peer) -m reg -- '^spiffe://.*\\/sa\\/admin$'",
    'acl authz_0 var(sess.peer) -m beg -- spiffe://cluster.local/ns/ops/',
    'acl authz_0 var(sess.peer) -m found',
  ]);
  assert.deepEqual(acls('{ from: [{ source: { namespaces: [ops, "team-*"] } }] }'), [
    'acl authz_0 var(sess.peer) -m sub -- /ns/ops/',
    "acl authz_0 var(sess.peer) -m reg -- '^.*/ns/team-.*/.*$'",
  ]);
  assert.deepEqual(acls('{ from: [{ source: { serviceAccounts: [robot, ops/deployer] } }] }'), [
    "acl authz_0 var(sess.peer) -m reg -- '^spiffe://.+/ns/default/(.+/|)sa/robot(/.+)?$'",
    "acl authz_0 var(sess.peer) -m reg -- '^spiffe://.+/ns/ops/(.+/|)sa/deployer(/.+)?$'",
  ]);
  assert.deepEqual(acls('{ to: [{ operation: { hosts: ["*.example.com", "api.*", Web.Local] } }] }'), [
    'acl authz_0 req.hdr(host) -i -m end -- .example.com',
    'acl authz_0 req.hdr(host) -i -m beg -- api.',
    'acl authz_0 req.hdr(host) -i -m str -- Web.Local',
  ]);
  assert.deepEqual(acls('{ when: [{ key: "request.headers[X-User]", values: ["*"] }] }'), ['acl authz_0 req.fhdr(x-user) -m found']);
  assert.deepEqual(acls('{ from: [{ source: { remoteIpBlocks: [203.0.113.0/24] } }] }'), ['acl authz_0 var(txn.authz_remote_ip) -m ip -- 203.0.113.0/24']);
});

test('ports are the pod\'s own: a rule for another port is left out, and a matching one tests nothing per request', () => {
  const rules = (spec: string) => linesOf(ap(spec)).filter((l) => l.startsWith('http-request set-var(txn.authz) str(\'rbac_access_denied_matched_policy[ns'));
  assert.deepEqual(rules('{ action: DENY, rules: [{ to: [{ operation: { ports: ["8080"] } }] }] }'), []);
  assert.deepEqual(rules('{ action: DENY, rules: [{ to: [{ operation: { ports: ["9080"] } }] }] }'), ["http-request set-var(txn.authz) str('rbac_access_denied_matched_policy[ns[default]-policy[p]-rule[0]]') if TRUE"]);
});

test('a value Istio cannot read drops the whole ALLOW rule, but only itself from a DENY rule', () => {
  const allow = linesOf(ap('{ rules: [{ from: [{ source: { ipBlocks: [not-an-ip, 10.0.0.0/8] } }] }] }'));
  assert.equal(allow.some((l) => l.includes('rbac_allowed_matched_policy')), false, allow.join('\n'));
  const deny = linesOf(ap('{ action: DENY, rules: [{ from: [{ source: { ipBlocks: [not-an-ip, 10.0.0.0/8] } }] }] }'));
  assert.deepEqual(deny.filter((l) => l.startsWith('acl authz_0')), ['acl authz_0 src -m ip -- 10.0.0.0/8']);
});

test('a header name the configuration could not carry is a value Istio would not read; rule names stay one sample argument', () => {
  const allow = linesOf(ap('{ rules: [{ when: [{ key: "request.headers[x#team]", values: [blue] }] }] }'));
  assert.equal(allow.some((l) => l.includes('req.fhdr')), false, allow.join('\n'));
  const named = linesOf(ap('{ action: DENY, rules: [{}] }', '"odd,name)"'));
  assert.ok(named.includes("http-request set-var(txn.authz) str('rbac_access_denied_matched_policy[ns[default]-policy[odd_name_]-rule[0]]') if TRUE"), named.join('\n'));
});
