// The resilience and security policy of the live resilience tests, for the shift mesh's reviews: a
// connection pool of one connection and one pending request, outlier detection after three 5xx, a DENY
// of /admin*, and a rate limit of 2 requests a minute on /limited.
export const RESILIENCE_POLICY = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } }
    outlierDetection: { consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100 }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-admin, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin*"] } }] }]
---
apiVersion: meshctl.dev/v1alpha1
kind: RateLimit
metadata: { name: reviews, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  limits: [{ requests: 2, per: 1m, match: { pathPrefix: /limited } }]
`;
