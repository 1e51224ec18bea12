// YAML documents the live tests' policies are made of, each ending with its separator: a Workload
// (an app and its sidecar per replica) and a Service selecting an app's pods on port 9080.

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
