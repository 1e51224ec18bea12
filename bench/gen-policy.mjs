// Generates the benchmark policy set: for each host a VirtualService (a header-matched canary route and a
// weighted default route with retries and a timeout), a DestinationRule (connection pool, outlier detection,
// two subsets) and a Service. 3,333 hosts give 9,999 resources, about 5.8 MB of YAML in 99 files.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const NAMESPACES = 10;
const FILES = 100;

/** A small deterministic generator, so two runs (and two machines) produce the same bytes. */
function random(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function virtualService(i, ns, v) {
  const host = `svc-${i}`;
  const canary = v.canaryWeight;
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${host}
  namespace: ${ns}
  labels:
    app: ${host}
    team: team-${i % 17}
  annotations:
    meshctl.dev/owner: "team-${i % 17}@example.com"
spec:
  hosts:
  - ${host}
  http:
  - name: canary-testers
    match:
    - headers:
        x-canary:
          exact: "true"
      uri:
        prefix: /api/v${(i % 3) + 1}/
    route:
    - destination:
        host: ${host}
        subset: v2
        port:
          number: 8080
    timeout: ${v.timeout}
  - name: default
    route:
    - destination:
        host: ${host}
        subset: v1
        port:
          number: 8080
      weight: ${100 - canary}
    - destination:
        host: ${host}
        subset: v2
        port:
          number: 8080
      weight: ${canary}
    retries:
      attempts: ${v.attempts}
      perTryTimeout: 2s
      retryOn: 5xx,reset,connect-failure
    timeout: ${v.timeout}
`;
}

function destinationRule(i, ns, v) {
  const host = `svc-${i}`;
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${host}
  namespace: ${ns}
  labels:
    app: ${host}
spec:
  host: ${host}
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: ${v.maxConnections}
        connectTimeout: 3s
      http:
        http1MaxPendingRequests: 256
        maxRequestsPerConnection: 64
    outlierDetection:
      consecutive5xxErrors: ${v.consecutive5xxErrors}
      interval: 10s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
    tls:
      mode: ISTIO_MUTUAL
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
`;
}

function service(i, ns, v) {
  const host = `svc-${i}`;
  return `apiVersion: v1
kind: Service
metadata:
  name: ${host}
  namespace: ${ns}
  labels:
    app: ${host}
spec:
  selector:
    app: ${host}
  ports:
  - name: ${v.portName}
    port: 8080
    targetPort: 8080
  - name: grpc-admin
    port: 9090
    targetPort: 9090
`;
}

/**
 * The policy set as { relative path: YAML text }. `changed` (0..1) is the share of resources changed from
 * the base version: weights moved, retries, timeouts, outlier thresholds, connection limits, port names.
 */
export function generatePolicySet({ hosts = 3333, changed = 0, seed = 20261124 } = {}) {
  const rand = random(seed);
  const total = hosts * 3;
  const toChange = new Set();
  const want = Math.round(total * changed);
  while (toChange.size < want) toChange.add(Math.floor(rand() * total));
  const files = {};
  const perFile = Math.ceil(hosts / FILES);
  for (let f = 0; f * perFile < hosts; f++) {
    const docs = [];
    for (let i = f * perFile; i < Math.min(hosts, (f + 1) * perFile); i++) {
      const ns = `team-${i % NAMESPACES}`;
      const base = { canaryWeight: 10 + (i % 4) * 5, timeout: '10s', attempts: 3, maxConnections: 1000, consecutive5xxErrors: 5, portName: 'http' };
      const vs = toChange.has(i * 3) ? { ...base, canaryWeight: base.canaryWeight + 40, attempts: i % 2 ? 1 : 5 } : base;
      const dr = toChange.has(i * 3 + 1) ? { ...base, consecutive5xxErrors: 20, maxConnections: 200 } : base;
      const svc = toChange.has(i * 3 + 2) ? { ...base, portName: 'http-web' } : base;
      docs.push(virtualService(i, ns, vs), destinationRule(i, ns, dr), service(i, ns, svc));
    }
    files[`policies/part-${String(f).padStart(3, '0')}.yaml`] = docs.join('---\n');
  }
  return files;
}

/** Writes the set under `dir`; returns the files written and their total size in bytes. */
export function writePolicySet(dir, options = {}) {
  const files = generatePolicySet(options);
  let bytes = 0;
  for (const [rel, text] of Object.entries(files)) {
    const full = path.join(dir, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
    bytes += Buffer.byteLength(text);
  }
  return { files: Object.keys(files).length, bytes, dir: path.join(dir, 'policies') };
}

// The small set: 10,000 short resources in one file, the shape of a policy set exported from a cluster
// (about 350 bytes each): per service a Service, a VirtualService and a DestinationRule, and among them
// the ServiceEntries, AuthorizationPolicies, PeerAuthentications, Sidecars and Gateways such a set holds.
/** The labels and owner annotation an exported resource carries. */
const meta = (i, ns) => `  labels:
    app: app-${i}
  annotations:
    meshctl.dev/owner: ${ns}@example.com
`;
const SMALL_KINDS = [
  (i, ns) => `apiVersion: v1
kind: Service
metadata:
  name: app-${i}
  namespace: ${ns}
${meta(i, ns)}spec:
  selector:
    app: app-${i}
  ports:
  - name: http
    port: 8080
    targetPort: 8080
    protocol: TCP
`,
  (i, ns) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app-${i}
  namespace: ${ns}
${meta(i, ns)}spec:
  hosts:
  - app-${i}
  http:
  - route:
    - destination:
        host: app-${i}
        subset: stable
      weight: ${90 - (i % 5) * 10}
    - destination:
        host: app-${i}
        subset: canary
      weight: ${10 + (i % 5) * 10}
    timeout: ${5 + (i % 4)}s
`,
  (i, ns) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: app-${i}
  namespace: ${ns}
${meta(i, ns)}spec:
  host: app-${i}
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: ${100 * ((i % 7) + 1)}
  subsets:
  - name: stable
    labels:
      version: v1
  - name: canary
    labels:
      version: v2
`,
];
const SMALL_EXTRAS = [
  (i, ns) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-app-${i}
  namespace: ${ns}
${meta(i, ns)}spec:
  selector:
    matchLabels:
      app: app-${i}
  action: ALLOW
  rules:
  - from:
    - source:
        principals:
        - cluster.local/ns/${ns}/sa/app-${i + 1}
    to:
    - operation:
        methods: ["GET", "POST"]
`,
  (i, ns) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ext-${i}
  namespace: ${ns}
${meta(i, ns)}spec:
  hosts:
  - api-${i}.example.com
  location: MESH_EXTERNAL
  ports:
  - number: 443
    name: https
    protocol: TLS
  resolution: DNS
`,
  (i, ns) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: app-${i}
  namespace: ${ns}
${meta(i, ns)}spec:
  selector:
    matchLabels:
      app: app-${i}
  mtls:
    mode: STRICT
  portLevelMtls:
    9090:
      mode: PERMISSIVE
`,
  (i, ns) => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: app-${i}
  namespace: ${ns}
${meta(i, ns)}spec:
  workloadSelector:
    labels:
      app: app-${i}
  egress:
  - hosts:
    - "./*"
    - "istio-system/*"
`,
  (i, ns) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: edge-${i}
  namespace: ${ns}
${meta(i, ns)}spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "${ns}/app-${i}.example.com"
`,
];

/** The small set as YAML text: `resources` documents, each about 350 bytes, in one multi-document file. */
export function generateSmallPolicySet({ resources = 10000 } = {}) {
  const docs = [];
  for (let i = 0; docs.length < resources; i++) {
    const ns = `team-${i % NAMESPACES}`;
    for (const make of SMALL_KINDS) if (docs.length < resources) docs.push(make(i, ns));
    if (docs.length < resources) docs.push(SMALL_EXTRAS[i % SMALL_EXTRAS.length](i, ns));
  }
  return docs.join('---\n');
}

/** Writes the small set as `dir`/exported.yaml; returns the file and its size in bytes. */
export function writeSmallPolicySet(dir, options = {}) {
  const text = generateSmallPolicySet(options);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'exported.yaml');
  writeFileSync(file, text);
  return { file, bytes: Buffer.byteLength(text), resources: options.resources ?? 10000 };
}
