// The policy of the data-plane tests: a small bookinfo (productpage → reviews v1/v2) with a Gateway.
import { serviceYaml, workloadYaml } from './policy-yaml.js';

/** `weights` are reviews' v1/v2 split of the catch-all route; `extraRoutes` go first in its http list. */
export function bookinfoPolicy(options: { weights?: [number, number]; extraRoutes?: string } = {}): string {
  const [v1, v2] = options.weights ?? [80, 20];
  return `${workloadYaml({ name: 'productpage', labels: 'app: productpage, version: v1', serviceAccount: 'bookinfo-productpage', command: ['node', 'productpage.js'] })}
${workloadYaml({ name: 'reviews-v1', labels: 'app: reviews, version: v1', serviceAccount: 'bookinfo-reviews', command: ['node', 'reviews.js'] })}
${workloadYaml({ name: 'reviews-v2', labels: 'app: reviews, version: v2', serviceAccount: 'bookinfo-reviews', command: ['node', 'reviews.js'] })}
${serviceYaml('productpage')}
${serviceYaml('reviews')}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 }, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
${options.extraRoutes ?? ''}
  - name: jason
    match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - name: api
    match: [{ uri: { prefix: /api/v1/ } }]
    rewrite: { uri: /v1/ }
    headers:
      request: { set: { x-route: api }, remove: [x-drop-me] }
      response: { add: { x-mesh-route: api } }
    route: [{ destination: { host: reviews, subset: v1 } }]
  - name: split
    route:
    - { destination: { host: reviews, subset: v1 }, weight: ${v1} }
    - { destination: { host: reviews, subset: v2 }, weight: ${v2} }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: bookinfo-gateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 8080, name: http, protocol: HTTP }, hosts: ["*"] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default }
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - match: [{ uri: { exact: /productpage } }, { uri: { prefix: /static/ } }]
    route: [{ destination: { host: productpage } }]
  - match: [{ uri: { prefix: /reviews/ } }]
    rewrite: { uri: / }
    route:
    - { destination: { host: reviews, subset: v1 }, weight: ${v1} }
    - { destination: { host: reviews, subset: v2 }, weight: ${v2} }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: productpage-permissive, namespace: default }
spec: { selector: { matchLabels: { app: productpage } }, mtls: { mode: PERMISSIVE } }
`;
}
