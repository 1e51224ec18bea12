// The AuthorizationPolicy model: Istio's rule shape (from × to, when joined to both) and which
// policies reach a workload (root namespace, own namespace, selector; never targetRefs or dry-run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSources } from '../../../src/lib/policy/load.js';
import { buildMeshModel } from '../../../src/lib/policy/mesh-model.js';
import { authorizationFor } from '../../../src/lib/policy/authorization.js';

function model(text: string) {
  const { resources } = loadSources([{ path: 'mesh.yaml', text, format: 'yaml', size: text.length }], { defaultNamespace: 'default' });
  return buildMeshModel(resources);
}

const ap = (namespace: string, name: string, spec: string, annotations = '') => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${namespace}${annotations} }
spec: ${spec}
---
`;

test('a rule reads into sources × operations, with when conditions joined to the side Istio puts them on', () => {
  const m = model(ap('shop', 'web', `{ rules: [{ from: [{ source: { principals: [a], notNamespaces: [x] } }, { source: { ipBlocks: [10.0.0.0/8] } }], to: [{ operation: { methods: [GET], notPaths: ["/admin/*"] } }], when: [{ key: "request.headers[X-Team]", values: [blue] }, { key: destination.port, notValues: ["81"] }] }] }`));
  const [policy] = m.authorizationPolicies;
  assert.equal(policy!.action, 'ALLOW');
  const [rule] = policy!.rules;
  assert.deepEqual(rule!.sources, [
    [
      { attribute: 'source.principal', values: ['a'], notValues: [] },
      { attribute: 'source.namespace', values: [], notValues: ['x'] },
      { attribute: 'request.headers', header: 'X-Team', values: ['blue'], notValues: [] },
    ],
    [
      { attribute: 'source.ip', values: ['10.0.0.0/8'], notValues: [] },
      { attribute: 'request.headers', header: 'X-Team', values: ['blue'], notValues: [] },
    ],
  ]);
  assert.deepEqual(rule!.operations, [[
    { attribute: 'method', values: ['GET'], notValues: [] },
    { attribute: 'path', values: [], notValues: ['/admin/*'] },
    { attribute: 'destination.port', values: [], notValues: ['81'] },
  ]]);
  assert.equal(rule!.skipped, null);
});

test('a rule with an unknown when key is skipped, as Istio skips it; an empty rule matches everything', () => {
  const m = model(ap('shop', 'odd', `{ action: DENY, rules: [{ when: [{ key: request.colour, values: [red] }] }, {}] }`));
  const [skipped, empty] = m.authorizationPolicies[0]!.rules;
  assert.match(skipped!.skipped ?? '', /request\.colour/);
  assert.deepEqual([empty!.sources, empty!.operations], [[[]], [[]]]);
});

test('scope: root-namespace policies reach every namespace (by selector too), namespace policies their own; targetRefs and dry-run reach no sidecar', () => {
  const m = model([
    ap('istio-system', 'mesh-wide', '{ action: DENY, rules: [{}] }'),
    ap('istio-system', 'mesh-selected', '{ selector: { matchLabels: { app: web } }, rules: [{}] }'),
    ap('shop', 'shop-wide', '{ action: AUDIT, rules: [{}] }'),
    ap('shop', 'web-only', '{ selector: { matchLabels: { app: web } }, action: CUSTOM, provider: { name: ext }, rules: [{}] }'),
    ap('shop', 'db-only', '{ selector: { matchLabels: { app: db } }, rules: [{}] }'),
    ap('shop', 'targeted', '{ targetRefs: [{ kind: Service, group: "", name: web }], action: DENY, rules: [{}] }'),
    ap('shop', 'trial', '{ action: DENY, rules: [{}] }', ', annotations: { istio.io/dry-run: "true" }'),
    ap('other', 'elsewhere', '{ action: DENY, rules: [{}] }'),
  ].join(''));
  const names = (ps: { name: string }[]) => ps.map((p) => p.name);
  const web = authorizationFor(m.authorizationPolicies, m.rootNamespace, { namespace: 'shop', labels: { app: 'web' } });
  assert.deepEqual([names(web.custom), names(web.audit), names(web.deny), names(web.allow)], [['web-only'], ['shop-wide'], ['mesh-wide'], ['mesh-selected']]);
  const db = authorizationFor(m.authorizationPolicies, m.rootNamespace, { namespace: 'shop', labels: { app: 'db' } });
  assert.deepEqual([names(db.deny), names(db.allow)], [['mesh-wide'], ['db-only']]);
  const elsewhere = authorizationFor(m.authorizationPolicies, m.rootNamespace, { namespace: 'other', labels: { app: 'web' } });
  assert.deepEqual([names(elsewhere.deny), names(elsewhere.allow), names(elsewhere.audit)], [['mesh-wide', 'elsewhere'], ['mesh-selected'], []]);
});
