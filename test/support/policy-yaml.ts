// YAML documents the live tests' policies are made of, each ending with its separator: a Workload
// (an app and its sidecar per replica), a Service selecting an app's pods on port 9080, and a
// ServiceEntry for a server outside the mesh.

export interface WorkloadYaml {
  name: string;
  /** Labels in flow style, e.g. `app: reviews, version: v1`. */
  labels: string;
  serviceAccount: string;
  command?: string[];
  env?: Record<string, string>;
  replicas?: number;
}

export function workloadYaml(w: WorkloadYaml): string {
  const env = w.env ? `, env: ${JSON.stringify(w.env)}` : '';
  return `
apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: { name: ${w.name}, namespace: default, labels: { ${w.labels} } }
spec: { command: ${JSON.stringify(w.command ?? ['node', 'app.js'])}${env}, port: 9080, replicas: ${w.replicas ?? 1}, serviceAccount: ${w.serviceAccount} }
---`;
}

/** A Service `name` whose endpoints are the pods labelled `app: <app>` (the service's own name by default). */
export function serviceYaml(name: string, app = name): string {
  return `
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec: { selector: { app: ${app} }, ports: [{ name: http, port: 9080 }] }
---`;
}

/**
 * A ServiceEntry `name` for `host`, one port (`protocol` HTTP on 80, or HTTPS on 443) whose endpoint
 * is 127.0.0.1:`port`: a server outside the mesh, with no sidecar.
 */
export function serviceEntryYaml(name: string, host: string, port: number, protocol: 'HTTP' | 'HTTPS' = 'HTTP'): string {
  const portName = protocol.toLowerCase();
  return `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${host}]
  ports: [{ number: ${protocol === 'HTTP' ? 80 : 443}, name: ${portName}, protocol: ${protocol} }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { ${portName}: ${port} } }]
---`;
}
