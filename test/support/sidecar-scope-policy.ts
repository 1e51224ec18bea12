// The policy of the Sidecar scope tests: frontend's Sidecar lets it know reviews alone; client has no
// Sidecar; ratings has a VirtualService whose timeout a test changes.
import { serviceYaml, workloadYaml } from './policy-yaml.js';

/** frontend's egress is reviews alone; ratings has a VirtualService with a timeout of `ratingsTimeout`. */
export function scopedPolicy(options: { ratingsTimeout?: string; mode?: string; sidecar?: boolean } = {}): string {
  const mode = options.mode ? `\n  outboundTrafficPolicy: { mode: ${options.mode} }` : '';
  const sidecar = options.sidecar === false ? '' : `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: frontend-egress, namespace: default }
spec:
  workloadSelector: { labels: { app: frontend } }
  egress: [{ hosts: ["./reviews.default.svc.cluster.local"] }]${mode}
---`;
  return `${workloadYaml({ name: 'frontend', labels: 'app: frontend', serviceAccount: 'frontend' })}
${workloadYaml({ name: 'client', labels: 'app: client', serviceAccount: 'client' })}
${workloadYaml({ name: 'reviews', labels: 'app: reviews', serviceAccount: 'reviews' })}
${workloadYaml({ name: 'ratings', labels: 'app: ratings', serviceAccount: 'ratings' })}
${serviceYaml('reviews')}
${serviceYaml('ratings')}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec: { hosts: [reviews], http: [{ name: all, route: [{ destination: { host: reviews } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: default }
spec: { hosts: [ratings], http: [{ name: all, timeout: ${options.ratingsTimeout ?? '5s'}, route: [{ destination: { host: ratings } }] }] }
---${sidecar}
`;
}
