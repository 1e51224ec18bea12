// Which Sidecar applies to a pod, and which hosts its sidecar knows, with istiod's rules.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadSources } from '../../../src/lib/policy/load.js';
import { buildMeshModel } from '../../../src/lib/policy/mesh-model.js';
import { egressScopeFor, sidecarFor } from '../../../src/lib/policy/sidecar-scope.js';
import { codesAt, validateText } from '../../support/policy.js';

function model(text: string) {
  const { resources } = loadSources([{ path: 'mesh.yaml', text, format: 'yaml', size: text.length }], { defaultNamespace: 'default' });
  return buildMeshModel(resources);
}

function sidecar(name: string, namespace: string, spec: string, created = ''): string {
  const stamp = created ? `, creationTimestamp: "${created}"` : '';
  return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ${name}, namespace: ${namespace}${stamp} }
spec: ${spec}
---
`;
}

const FRONTEND = { namespace: 'shop', labels: { app: 'frontend' } };
const OTHER = { namespace: 'shop', labels: { app: 'cart' } };

describe('Sidecar scope', () => {
  it('prefers a workload-selected Sidecar, then the namespace one, then the root namespace default', () => {
    const m = model(
      sidecar('mesh-default', 'istio-system', '{ egress: [{ hosts: ["istio-system/*"] }] }')
      + sidecar('shop-default', 'shop', '{ egress: [{ hosts: ["./*"] }] }')
      + sidecar('frontend', 'shop', '{ workloadSelector: { labels: { app: frontend } }, egress: [{ hosts: ["*/*"] }] }'),
    );
    assert.equal(sidecarFor(m.sidecars, m.rootNamespace, FRONTEND)?.name, 'frontend');
    assert.equal(sidecarFor(m.sidecars, m.rootNamespace, OTHER)?.name, 'shop-default');
    assert.equal(sidecarFor(m.sidecars, m.rootNamespace, { namespace: 'billing', labels: {} })?.name, 'mesh-default');
    // A selector in another namespace never applies.
    assert.equal(sidecarFor(m.sidecars, m.rootNamespace, { namespace: 'istio-system', labels: { app: 'frontend' } })?.name, 'mesh-default');
  });

  it('takes the oldest of several matching Sidecars, then the first by name', () => {
    const m = model(
      sidecar('b-newer', 'shop', '{ workloadSelector: { labels: { app: frontend } }, egress: [{ hosts: ["./*"] }] }', '2026-01-02T00:00:00Z')
      + sidecar('c-older', 'shop', '{ workloadSelector: { labels: { app: frontend } }, egress: [{ hosts: ["./*"] }] }', '2026-01-01T00:00:00Z')
      + sidecar('a', 'billing', '{ egress: [{ hosts: ["./*"] }] }')
      + sidecar('b', 'billing', '{ egress: [{ hosts: ["./*"] }] }'),
    );
    assert.equal(sidecarFor(m.sidecars, m.rootNamespace, FRONTEND)?.name, 'c-older');
    assert.equal(sidecarFor(m.sidecars, m.rootNamespace, { namespace: 'billing', labels: {} })?.name, 'a');
  });

  it('reads namespace/dnsName hosts: ./, */, wildcards, ~ exclusions, and a short name taken as written', () => {
    const m = model(sidecar('frontend', 'shop', `{ workloadSelector: { labels: { app: frontend } }, egress: [
      { hosts: ["./reviews.shop.svc.cluster.local", "*/*.example.com", "billing/*", "~billing/secret.billing.svc.cluster.local"] },
      { port: { number: 9090, protocol: HTTP }, hosts: ["./ratings"] }] }`));
    const scope = egressScopeFor(m.sidecars, m.rootNamespace, FRONTEND)!;
    assert.equal(scope.sidecar, 'shop/frontend');
    assert.equal(scope.mode, 'ALLOW_ANY');
    assert.equal(scope.importsService('reviews.shop.svc.cluster.local', 'shop'), true);
    assert.equal(scope.importsService('reviews.other.svc.cluster.local', 'other'), false);
    assert.equal(scope.importsService('api.example.com', 'anywhere'), true);
    assert.equal(scope.importsService('example.com', 'anywhere'), false);
    assert.equal(scope.importsService('*.api.example.com', 'anywhere'), true);
    assert.equal(scope.importsService('pay.billing.svc.cluster.local', 'billing'), true);
    assert.equal(scope.importsService('secret.billing.svc.cluster.local', 'billing'), false);
    // Istio does not expand a short name in egress hosts: ./ratings names the host "ratings" only.
    assert.equal(scope.importsService('ratings.shop.svc.cluster.local', 'shop'), false);
  });

  it('imports a VirtualService by its namespace and hosts, wildcards matching both ways', () => {
    const m = model(`${sidecar('frontend', 'shop', '{ workloadSelector: { labels: { app: frontend } }, egress: [{ hosts: ["./reviews.shop.svc.cluster.local", "ext/api.example.com"] }] }')}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: shop }
spec: { hosts: [reviews], http: [{ route: [{ destination: { host: reviews } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: shop }
spec: { hosts: [ratings], http: [{ route: [{ destination: { host: ratings } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: wild, namespace: ext }
spec: { hosts: ["*.example.com"], http: [{ route: [{ destination: { host: api.example.com } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-elsewhere, namespace: other }
spec: { hosts: [reviews.shop.svc.cluster.local], http: [{ route: [{ destination: { host: reviews.shop.svc.cluster.local } }] }] }
`);
    const scope = egressScopeFor(m.sidecars, m.rootNamespace, FRONTEND)!;
    const imported = m.virtualServices.filter((vs) => scope.importsVirtualService(vs)).map((vs) => `${vs.namespace}/${vs.name}`);
    assert.deepEqual(imported.sort(), ['ext/wild', 'shop/reviews']);
  });

  it('imports the HTTPRoutes attached to a Service with that Service', () => {
    const routes = `apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: shop }
spec: { selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ratings-canary, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: ratings, port: 9080 }]
  rules: [{ backendRefs: [{ name: ratings, port: 9080 }] }]
---
`;
    const imported = (egress: string) => {
      const m = model(routes + sidecar('frontend', 'shop', `{ egress: [{ hosts: ["${egress}"] }] }`));
      assert.ok(m.virtualServices.length > 0);
      const scope = egressScopeFor(m.sidecars, m.rootNamespace, FRONTEND)!;
      return m.virtualServices.filter((vs) => scope.importsVirtualService(vs)).length;
    };
    assert.equal(imported('./ratings.shop.svc.cluster.local'), 1);
    assert.equal(imported('./reviews.shop.svc.cluster.local'), 0);
  });

  it('reads outboundTrafficPolicy: REGISTRY_ONLY when written without a mode, as Istio\'s enum default', () => {
    const m = model(
      sidecar('strict', 'shop', '{ outboundTrafficPolicy: {} }')
      + sidecar('open', 'billing', '{ outboundTrafficPolicy: { mode: ALLOW_ANY } }')
      + sidecar('mesh', 'istio-system', '{ outboundTrafficPolicy: { mode: REGISTRY_ONLY } }'),
    );
    assert.equal(egressScopeFor(m.sidecars, m.rootNamespace, OTHER)?.mode, 'REGISTRY_ONLY');
    assert.equal(egressScopeFor(m.sidecars, m.rootNamespace, { namespace: 'billing', labels: {} })?.mode, 'ALLOW_ANY');
    // The root namespace Sidecar is the mesh default; `./` in it would mean the pod's namespace.
    assert.equal(egressScopeFor(m.sidecars, m.rootNamespace, { namespace: 'ops', labels: {} })?.mode, 'REGISTRY_ONLY');
    assert.equal(egressScopeFor([], m.rootNamespace, OTHER), null);
  });

  it('reads ./ in a root namespace Sidecar as the pod\'s namespace', () => {
    const m = model(sidecar('mesh', 'istio-system', '{ egress: [{ hosts: ["./*"] }] }'));
    const scope = egressScopeFor(m.sidecars, m.rootNamespace, { namespace: 'ops', labels: {} })!;
    assert.equal(scope.importsService('a.ops.svc.cluster.local', 'ops'), true);
    assert.equal(scope.importsService('a.istio-system.svc.cluster.local', 'istio-system'), false);
  });

  it('imports nothing from ~/*', () => {
    const m = model(sidecar('closed', 'shop', '{ egress: [{ hosts: ["~/*"] }] }'));
    const scope = egressScopeFor(m.sidecars, m.rootNamespace, OTHER)!;
    assert.equal(scope.importsService('reviews.shop.svc.cluster.local', 'shop'), false);
  });
});

describe('Sidecar fields the local mesh does not enforce', () => {
  it('are each a warning at its field from validate and a note from the mesh model, the enforced ones none', async () => {
    const text = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: frontend, namespace: shop }
spec:
  workloadSelector: { labels: { app: frontend } }
  ingress:
  - { port: { number: 9080, protocol: HTTP, name: http }, defaultEndpoint: "127.0.0.1:8080" }
  egress:
  - port: { number: 9080, protocol: HTTP, name: http }
    bind: 127.0.0.1
    captureMode: NONE
    hosts: ["./*"]
  inboundConnectionPool: { http: { http1MaxPendingRequests: 10 } }
  outboundTrafficPolicy:
    mode: ALLOW_ANY
    egressProxy: { host: egress.example.com, port: { number: 80 } }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: strict, namespace: billing }
spec:
  egress: [{ hosts: ["./*", "istio-system/*"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
`;
    const r = await validateText(text, { analyzers: ['meshctl.NotEnforcedLocally'] });
    assert.deepEqual(codesAt(r.findings), ['MSH2015@6', 'MSH2015@9', 'MSH2015@10', 'MSH2015@11', 'MSH2015@13', 'MSH2015@15', 'MSH2015@16']);
    assert.match(r.findings[0]!.message, /^ingress of Sidecar shop\/frontend is not enforced by the local mesh/);
    assert.match(r.findings[5]!.message, /^outboundTrafficPolicy\.mode of Sidecar shop\/frontend is not enforced by the local mesh \(a request through the sidecar to a host outside the mesh's registry gets 404/);
    const notes = model(text).notes;
    assert.equal(notes.length, 7);
    assert.ok(notes.every((n) => n.includes('Sidecar shop/frontend')), notes.join('\n'));
  });
});
