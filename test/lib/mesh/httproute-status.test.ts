// meshctl get httproutes -o yaml and meshctl status: the status a Gateway API controller would write
// on each applied HTTPRoute, so that a user sees why a route routes nothing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getListing } from '../../../src/lib/mesh/get.js';
import type { StoredResource } from '../../../src/lib/mesh/state.js';
import { modelOf } from '../../../src/lib/mesh/pods.js';
import { routeStatusLines } from '../../../src/lib/policy/gateway-api/status.js';

const applied: StoredResource[] = [
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { app: 'web' }, ports: [{ port: 8080 }] } },
  {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'edge', namespace: 'shop' },
    spec: { gatewayClassName: 'any', listeners: [{ name: 'http', port: 8080, protocol: 'HTTP' }] },
  },
  {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'good', namespace: 'shop' },
    spec: { parentRefs: [{ name: 'edge' }], rules: [{ backendRefs: [{ name: 'web', port: 8080 }] }] },
  },
  {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'typo', namespace: 'shop' },
    spec: { parentRefs: [{ name: 'edge' }], rules: [{ backendRefs: [{ name: 'wbe', port: 8080 }] }] },
  },
];

describe('HTTPRoute status in get and status', () => {
  it('get httproutes -o yaml carries Accepted and ResolvedRefs per parent', async () => {
    const listing = await getListing({ types: 'httproutes', wide: false }, [], applied);
    const items = (listing.document as { items: { metadata: { name: string }; status: { parents: { parentRef: { name: string }; conditions: { type: string; status: string; reason: string }[] }[] } }[] }).items;
    assert.deepEqual(items.map((i) => [i.metadata.name, i.status.parents.map((p) => [p.parentRef.name, ...p.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`)])]), [
      ['good', [['edge', 'Accepted=True:Accepted', 'ResolvedRefs=True:ResolvedRefs']]],
      ['typo', [['edge', 'Accepted=True:Accepted', 'ResolvedRefs=False:BackendNotFound']]],
    ]);
  });

  it('status says which route does not route and why', () => {
    assert.deepEqual(routeStatusLines(modelOf(applied).routeStatuses), [
      '1/2 HTTPRoutes accepted with every reference resolved',
      'HTTPRoute shop/typo on Gateway shop/edge: ResolvedRefs False (BackendNotFound): backendRef shop/wbe names no Service',
    ]);
  });
});
