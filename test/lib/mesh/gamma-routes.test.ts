// Live: HTTPRoutes bound to a Service (GAMMA) on the local mesh, where the route's namespace or the
// parentRef's port narrows who the route applies to (GEP-1294): a consumer route (an HTTPRoute in the
// caller's namespace for a Service of another) changes that namespace's calls alone, and needs no
// ReferenceGrant to send to the Service; a route naming a Service port applies to calls to that port.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { meshForSuite } from '../../support/mesh.js';
import { request, type HttpAnswer } from '../../support/net.js';

const workload = (name: string, namespace: string) => `
apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: { name: ${name}, namespace: ${namespace}, labels: { app: ${name} } }
spec: { command: ["node", "app.js"], port: 9080, replicas: 1, serviceAccount: ${name} }
---`;

const route = (name: string, namespace: string, parentPort: number | null, header: string, service = 'echo') => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  parentRefs: [{ group: "", kind: Service, name: ${service}, namespace: default${parentPort === null ? '' : `, port: ${parentPort}`} }]
  rules:
  - filters: [{ type: ResponseHeaderModifier, responseHeaderModifier: { set: [{ name: x-route, value: ${header} }] } }]
    backendRefs: [{ name: echo, namespace: default, port: 9080 }]
---`;

const POLICY = `
apiVersion: v1
kind: Namespace
metadata: { name: shop }
---
${workload('caller', 'default')}
${workload('shopper', 'shop')}
${workload('echo', 'default')}
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: default }
spec: { selector: { app: echo }, ports: [{ name: http, port: 80 }, { name: admin, port: 8080 }] }
---
${route('shop-view', 'shop', null, 'consumer')}
${route('admin-port', 'default', 8080, 'port-8080')}
apiVersion: v1
kind: Service
metadata: { name: solo, namespace: default }
spec: { selector: { app: echo }, ports: [{ name: http, port: 9080 }] }
---
${route('solo-port', 'default', 9080, 'solo-9080', 'solo')}
`;

describe('GAMMA consumer routes and Service ports on the local mesh (live HAProxy on loopback)', { timeout: 120_000 }, () => {
  const suite = meshForSuite(POLICY);
  const call = (pod: string, host: string): Promise<HttpAnswer> =>
    request({ port: suite.mesh.pod(pod).ports.outbound, path: '/', headers: { host }, agent: suite.agent, timeoutMs: 10_000 });

  it('a consumer route changes the calls of its own namespace, without a ReferenceGrant', async () => {
    const a = await call('shopper-0', 'echo.default');
    assert.equal(a.status, 200, a.body);
    assert.equal(a.headers['x-route'], 'consumer');
    assert.equal(JSON.parse(a.body).pod, 'echo-0');
  });

  it('calls from the Service\'s own namespace are not changed by another namespace\'s consumer route', async () => {
    const a = await call('caller-0', 'echo');
    assert.equal(a.status, 200, a.body);
    assert.equal(a.headers['x-route'], undefined);
  });

  it('a route whose parentRef names a Service port applies to calls to that port alone', async () => {
    const admin = await call('caller-0', 'echo:8080');
    assert.equal(admin.status, 200, admin.body);
    assert.equal(admin.headers['x-route'], 'port-8080');
    for (const host of ['echo', 'echo:80']) {
      const other = await call('caller-0', host);
      assert.equal(other.status, 200, other.body);
      assert.equal(other.headers['x-route'], undefined, `${host} took the port-8080 route`);
    }
  });

  it('a call naming no port goes to the Service\'s port 80, or to its first port without one', async () => {
    for (const host of ['solo', 'solo:9080']) {
      const a = await call('caller-0', host);
      assert.equal(a.status, 200, a.body);
      assert.equal(a.headers['x-route'], 'solo-9080', `${host} did not take the route of port 9080, the Service's only port`);
    }
    const other = await call('caller-0', 'solo:80');
    assert.equal(other.headers['x-route'], undefined, 'solo:80 took the route of port 9080');
  });

  it('the route status says the consumer route resolved its cross-namespace backend', () => {
    const status = suite.mesh.model.routeStatuses.find((s) => s.namespace === 'shop' && s.name === 'shop-view');
    assert.ok(status, 'no status for HTTPRoute shop/shop-view');
    assert.deepEqual(status.parents.map((p) => p.conditions.map((c) => `${c.type}=${c.status}`)), [['Accepted=True', 'ResolvedRefs=True']]);
  });
});
