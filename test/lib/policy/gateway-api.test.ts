// Gateway API in the mesh model: which routes a Gateway listener or a Service gets from HTTPRoutes,
// in which order (the specification's precedence), and the status a controller would write.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadSources } from '../../../src/lib/policy/load.js';
import { buildMeshModel, type MeshModel } from '../../../src/lib/policy/mesh-model.js';
import { intersectHostnames } from '../../../src/lib/policy/gateway-api/translate.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SHARED } from '../../support/shared.js';

function model(yaml: string): MeshModel {
  const { resources } = loadSources([{ path: 'routes.yaml', text: yaml, format: 'yaml', size: yaml.length }], { defaultNamespace: 'default' });
  return buildMeshModel(resources);
}

const BASE = `
apiVersion: v1
kind: Namespace
metadata: { name: apps, labels: { team: blue } }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { selector: { app: web }, ports: [{ port: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: api, namespace: apps }
spec: { selector: { app: api }, ports: [{ port: 8080 }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec:
  gatewayClassName: any
  listeners:
  - { name: http, port: 80, protocol: HTTP }
  - { name: shop, port: 80, protocol: HTTP, hostname: "*.shop.example", allowedRoutes: { namespaces: { from: Selector, selector: { matchLabels: { team: blue } } } } }
  - { name: tls, port: 443, protocol: HTTPS }
---`;

function route(name: string, namespace: string, spec: string): string {
  return `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
---`;
}

const statusOf = (m: MeshModel, name: string) => m.routeStatuses.find((s) => s.name === name)!.parents.map((p) => p.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`).join(' '));

describe('Gateway API routes in the mesh model', () => {
  it('orders the matches of every route of a host by the specification: Exact, longest prefix, method, headers, query, then age and name', () => {
    const m = model(BASE
      + route('b-route', 'default', `{ parentRefs: [{ name: edge, sectionName: http }], rules: [
          { matches: [{ path: { type: PathPrefix, value: / } }], backendRefs: [{ name: web, port: 8080 }] },
          { matches: [{ path: { type: PathPrefix, value: /v2 }, headers: [{ name: x, value: "1" }] }], backendRefs: [{ name: web, port: 8080 }] } ] }`)
      + route('a-route', 'default', `{ parentRefs: [{ name: edge, sectionName: http }], rules: [
          { matches: [{ path: { type: PathPrefix, value: /v2 } }, { path: { type: Exact, value: /v2/exact } }, { path: { type: PathPrefix, value: /v2 }, method: POST }], backendRefs: [{ name: web, port: 8080 }] } ] }`));
    const vs = m.virtualServices.find((v) => v.name === 'gateway.edge.80.any.any')!;
    assert.deepEqual(vs.http.map((h) => h.name), [
      'default.a-route.0.1', // Exact
      'default.a-route.0.2', // /v2 with a method
      'default.b-route.1.0', // /v2 with a header
      'default.a-route.0.0', // /v2
      'default.b-route.0.0', // /
      'no-matching-rule',
    ]);
    assert.equal(vs.http.at(-1)!.directResponse?.status, 404);
    assert.deepEqual(vs.http[3].match[0].uri, { regex: '\\/v2(?:/.*)?' }, 'a PathPrefix matches whole segments');
  });

  it('intersects route and listener hostnames, the more specific name winning', () => {
    assert.deepEqual(intersectHostnames(null, []), ['*']);
    assert.deepEqual(intersectHostnames('*.example.com', ['foo.example.com', 'bar.org']), ['foo.example.com']);
    assert.deepEqual(intersectHostnames('foo.example.com', ['*.example.com']), ['foo.example.com']);
    assert.deepEqual(intersectHostnames('*.foo.example.com', ['*.example.com']), ['*.foo.example.com']);
    assert.deepEqual(intersectHostnames('*.example.com', ['example.com']), [], 'a wildcard never matches its own suffix');
  });

  it('reports Accepted and ResolvedRefs per parent with the Gateway API reasons', () => {
    const m = model(BASE
      + route('missing-gateway', 'default', '{ parentRefs: [{ name: nowhere }], rules: [{ backendRefs: [{ name: web, port: 8080 }] }] }')
      + route('wrong-section', 'default', '{ parentRefs: [{ name: edge, sectionName: nope }], rules: [{ backendRefs: [{ name: web, port: 8080 }] }] }')
      + route('other-namespace', 'elsewhere', '{ parentRefs: [{ name: edge, namespace: default, sectionName: shop }], rules: [{ backendRefs: [{ name: web, namespace: default, port: 8080 }] }] }')
      + route('no-hostname', 'apps', '{ parentRefs: [{ name: edge, namespace: default, sectionName: shop }], hostnames: [other.example], rules: [{ backendRefs: [{ name: api, port: 8080 }] }] }')
      + route('bad-refs', 'default', `{ parentRefs: [{ name: edge, sectionName: http }], rules: [
          { backendRefs: [{ name: nothing, port: 8080 }] },
          { matches: [{ path: { type: Exact, value: /kind } }], backendRefs: [{ group: example.org, kind: Thing, name: web }] } ] }`)
      + route('cross', 'default', '{ parentRefs: [{ name: edge, sectionName: http }], rules: [{ backendRefs: [{ name: api, namespace: apps, port: 8080 }] }] }')
      + route('mesh', 'default', '{ parentRefs: [{ group: "", kind: Service, name: web }], rules: [{ backendRefs: [{ name: web, port: 8080 }] }] }'));
    assert.deepEqual(statusOf(m, 'missing-gateway'), ['Accepted=False:NoMatchingParent ResolvedRefs=True:ResolvedRefs']);
    assert.deepEqual(statusOf(m, 'wrong-section'), ['Accepted=False:NoMatchingParent ResolvedRefs=True:ResolvedRefs']);
    assert.deepEqual(statusOf(m, 'other-namespace'), ['Accepted=False:NotAllowedByListeners ResolvedRefs=False:RefNotPermitted']);
    assert.deepEqual(statusOf(m, 'no-hostname'), ['Accepted=False:NoMatchingListenerHostname ResolvedRefs=True:ResolvedRefs']);
    assert.deepEqual(statusOf(m, 'bad-refs'), ['Accepted=True:Accepted ResolvedRefs=False:InvalidKind']);
    assert.deepEqual(statusOf(m, 'cross'), ['Accepted=True:Accepted ResolvedRefs=False:RefNotPermitted']);
    assert.deepEqual(statusOf(m, 'mesh'), ['Accepted=True:Accepted ResolvedRefs=True:ResolvedRefs']);
    // A rule whose every backend is invalid answers 500 instead of forwarding.
    const rules = m.virtualServices.find((v) => v.name === 'gateway.edge.80.any.any')!.http;
    assert.equal(rules.find((h) => h.name === 'default.bad-refs.0.0')!.directResponse?.status, 500);
    assert.equal(rules.find((h) => h.name === 'default.bad-refs.1.0')!.directResponse?.status, 500);
    assert.ok(m.notes.some((n) => /listener tls: protocol HTTPS is not served/.test(n)));
  });

  it('lets a ReferenceGrant in the backend namespace allow a cross-namespace backendRef', () => {
    const m = model(BASE
      + route('cross', 'default', '{ parentRefs: [{ name: edge, sectionName: http }], rules: [{ backendRefs: [{ name: api, namespace: apps, port: 8080 }] }] }')
      + `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: allow-default, namespace: apps }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default }]
  to: [{ group: "", kind: Service }]
---`);
    assert.deepEqual(statusOf(m, 'cross'), ['Accepted=True:Accepted ResolvedRefs=True:ResolvedRefs']);
    const rule = m.virtualServices.find((v) => v.name === 'gateway.edge.80.any.any')!.http[0];
    assert.deepEqual(rule.route.map((d) => d.fqdn), ['api.apps.svc.cluster.local']);
  });

  it('gives a mesh route the Service host and keeps each listener hostname isolated', () => {
    const m = model(BASE
      + route('mesh', 'default', '{ parentRefs: [{ group: "", kind: Service, name: web }], rules: [{ matches: [{ path: { type: Exact, value: /a } }], backendRefs: [{ name: web, port: 8080 }] }] }')
      + route('shop', 'apps', '{ parentRefs: [{ name: edge, namespace: default, sectionName: shop }], hostnames: [cart.shop.example], rules: [{ backendRefs: [{ name: api, port: 8080 }] }] }'));
    const mesh = m.virtualServices.find((v) => v.name === 'mesh.web')!;
    assert.deepEqual([mesh.hosts, mesh.gateways], [['web.default.svc.cluster.local'], ['mesh']]);
    const names = m.virtualServices.filter((v) => v.gateways.includes('default/edge')).map((v) => v.name);
    // The shop listener's own hostname answers 404 for names its routes do not serve, before the catch-all listener.
    assert.deepEqual(names, ['gateway.edge.80.wildcard.shop.example.cart.shop.example', 'gateway.edge.80.wildcard.shop.example.wildcard.shop.example']);
  });
});

describe('HTTPRoute status for the invalid references of the Gateway API conformance corpus', () => {
  const dir = path.join(SHARED, 'conformance', 'gateway-api', 'manifests');
  const corpusModel = (file: string) => {
    const files = [path.join(dir, 'base', 'manifests.yaml'), path.join(dir, 'tests', file)].map((p) => {
      const text = readFileSync(p, 'utf8');
      return { path: p, text, format: 'yaml' as const, size: text.length };
    });
    return buildMeshModel(loadSources(files, { defaultNamespace: 'default' }).resources);
  };
  for (const [file, route, reason] of [
    ['httproute-invalid-backendref-unknown-kind.yaml', 'invalid-backend-ref-unknown-kind', 'InvalidKind'],
    ['httproute-invalid-cross-namespace-backend-ref.yaml', 'invalid-cross-namespace-backend-ref', 'RefNotPermitted'],
    ['httproute-invalid-nonexistent-backendref.yaml', 'invalid-nonexistent-backend-ref', 'BackendNotFound'],
    ['httproute-invalid-reference-grant.yaml', 'reference-grant', 'RefNotPermitted'],
    ['httproute-reference-grant.yaml', 'reference-grant', 'ResolvedRefs'],
  ] as const) {
    it(`${route}: Accepted, ResolvedRefs ${reason}`, () => {
      const status = corpusModel(file).routeStatuses.find((s) => s.name === route);
      assert.ok(status, `no status for ${route}`);
      assert.deepEqual(status.parents.map((p) => p.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`).join(' ')), [`Accepted=True:Accepted ResolvedRefs=${reason === 'ResolvedRefs' ? 'True' : 'False'}:${reason}`]);
    });
  }
});
