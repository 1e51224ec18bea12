import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { validateText, codesAt } from '../../../support/policy.js';
import { SHARED } from '../../../support/shared.js';
import { schemaAnalyzers } from '../../../../src/lib/policy/analyzers/schema.js';
import { schemaFor } from '../../../../src/lib/policy/schema/registry.js';
import { loadSources } from '../../../../src/lib/policy/load.js';
import type { Finding } from '../../../../src/lib/policy/findings.js';

const ALL = schemaAnalyzers.map((a) => a.name);
const VS = ['schema.ValidationAnalyzer.VirtualService'];
const DR = ['schema.ValidationAnalyzer.DestinationRule'];

const schemaFindings = (findings: Finding[]) => findings.filter((f) => f.code === 'IST0106' || f.code === 'IST0133');

const BOOKINFO = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: bookinfo-gateway
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "bookinfo.example.com"
    tls:
      httpsRedirect: true
  - port:
      number: 443
      name: https
      protocol: HTTPS
    hosts:
    - "bookinfo.example.com"
    tls:
      mode: SIMPLE
      credentialName: bookinfo-cert
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  labels:
    app: reviews
spec:
  hosts:
  - reviews
  - bookinfo.example.com
  gateways:
  - bookinfo-gateway
  - mesh
  http:
  - name: jason
    match:
    - headers:
        end-user:
          exact: jason
      uri:
        prefix: /reviews
    route:
    - destination:
        host: reviews
        subset: v2
        port:
          number: 9080
  - route:
    - destination:
        host: reviews
        subset: v1
      weight: 90
    - destination:
        host: reviews
        subset: v3
      weight: 10
    retries:
      attempts: 3
      perTryTimeout: 2s
      retryOn: 5xx,connect-failure
    timeout: 10s
    fault:
      delay:
        percentage:
          value: 0.1
        fixedDelay: 5s
    corsPolicy:
      allowOrigins:
      - exact: https://example.com
      allowMethods: [GET, POST]
      maxAge: 24h
      allowCredentials: null
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 100
      http:
        http1MaxPendingRequests: 10
    outlierDetection:
      consecutive5xxErrors: 5
      interval: 30s
      baseEjectionTime: 1m
    loadBalancer:
      simple: LEAST_REQUEST
    tls:
      mode: ISTIO_MUTUAL
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
    trafficPolicy:
      loadBalancer:
        consistentHash:
          httpHeaderName: x-user
  - name: v3
    labels:
      version: v3
`;

test('a valid bookinfo-style Gateway, VirtualService and DestinationRule have no schema findings', async () => {
  const r = await validateText(BOOKINFO, { analyzers: ALL });
  assert.deepEqual(schemaFindings(r.findings).map((f) => `${f.code}@${f.line} ${f.message}`), []);
});

test('an unknown field is reported at the unknown key, with a spelling suggestion', async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
    retrys:
      attempts: 3
`;
  const r = await validateText(text, { analyzers: VS });
  assert.deepEqual(codesAt(r.findings, 'IST0106'), ['IST0106@11']);
  const f = r.findings.find((x) => x.code === 'IST0106')!;
  assert.equal(f.column, 5);
  assert.equal(f.path, '/spec/http/0/retrys');
  assert.equal(f.severity, 'error');
  assert.equal(f.analyzer, 'schema.ValidationAnalyzer.VirtualService');
  assert.equal(f.message, 'Unknown field retrys in VirtualService reviews at spec.http[0]; remove it or fix its spelling (did you mean retries?).');
});

test('a wrong enum value is reported at the field, naming the allowed values', async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  trafficPolicy:
    tls:
      mode: MUTUAL_TLS
`;
  const r = await validateText(text, { analyzers: DR });
  assert.deepEqual(codesAt(r.findings, 'IST0106'), ['IST0106@9']);
  const f = r.findings[0]!;
  assert.equal(f.path, '/spec/trafficPolicy/tls/mode');
  assert.equal(f.column, 7);
  assert.match(f.message, /^spec\.trafficPolicy\.tls\.mode in DestinationRule reviews is "MUTUAL_TLS", which is not one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL; use one of them \(did you mean MUTUAL\?\)\.$/);
});

test('a wrong type is reported at the field, with how to fix it', async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
        port:
          number: "9080"
`;
  const r = await validateText(text, { analyzers: VS });
  assert.deepEqual(codesAt(r.findings, 'IST0106'), ['IST0106@12']);
  assert.equal(r.findings[0]!.path, '/spec/http/0/route/0/destination/port/number');
  assert.match(r.findings[0]!.message, /must be an integer, not the string "9080"; write the number without quotes\.$/);
});

test('JSON input: unknown field, wrong enum and wrong type at their lines', async () => {
  const text = `{
  "apiVersion": "networking.istio.io/v1",
  "kind": "DestinationRule",
  "metadata": {"name": "reviews"},
  "spec": {
    "host": "reviews",
    "trafficPolicy": {
      "loadBalancer": {"simple": "ROUND_ROBBIN"},
      "connectionPool": {"tcp": {"maxConnections": "many"}},
      "outlierDetecton": {}
    }
  }
}
`;
  const r = await validateText(text, { analyzers: DR }, 'policy.json');
  assert.deepEqual(codesAt(r.findings, 'IST0106'), ['IST0106@8', 'IST0106@9', 'IST0106@10']);
  const byPath = Object.fromEntries(r.findings.map((f) => [f.path, f]));
  assert.ok(byPath['/spec/trafficPolicy/loadBalancer/simple']!.message.includes('did you mean ROUND_ROBIN?'));
  assert.ok(byPath['/spec/trafficPolicy/connectionPool/tcp/maxConnections']!.message.includes('must be an integer'));
  assert.ok(byPath['/spec/trafficPolicy/outlierDetecton']!.message.includes('did you mean outlierDetection?'));
  assert.equal(byPath['/spec/trafficPolicy/outlierDetecton']!.column, 7);
});

test('mutually exclusive fields (a protobuf oneof) give one finding, not the alternatives noise', async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - match:
    - uri:
        exact: /a
        prefix: /b
    route:
    - destination:
        host: reviews
`;
  const r = await validateText(text, { analyzers: VS });
  assert.deepEqual(codesAt(r.findings, 'IST0106'), ['IST0106@11']);
  assert.equal(r.findings[0]!.path, '/spec/http/0/match/0/uri/prefix');
  assert.match(r.findings[0]!.message, /sets exact and prefix, which exclude each other; keep only one of exact, prefix, regex\.$/);
});

test('metadata is checked: unknown fields, names and label values', async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: Reviews_DR
  lables:
    app: reviews
  labels:
    version: 2
spec:
  host: reviews
`;
  const r = await validateText(text, { analyzers: DR });
  const got = r.findings.map((f) => `${f.line}:${f.path}`);
  assert.deepEqual(got, ['4:/metadata/name', '5:/metadata/lables', '8:/metadata/labels/version']);
  assert.match(r.findings[2]!.message, /must be a string, not the integer 2; quote it \("2"\)\.$/);
});

test('null values of non-nullable fields are pruned as Kubernetes does, not reported', async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  gateways: null
  http:
  - route:
    - destination:
        host: reviews
    timeout: null
`;
  const r = await validateText(text, { analyzers: VS });
  assert.deepEqual(schemaFindings(r.findings), []);
});

test('Gateway API kinds: addresses, duplicate listener names, and istioctl-style analyzer names', async () => {
  assert.ok(ALL.includes('schema.ValidationAnalyzer.KubernetesGateway'));
  assert.ok(ALL.includes('schema.ValidationAnalyzer.Gateway'));
  assert.ok(ALL.includes('schema.ValidationAnalyzer.HTTPRoute'));
  const text = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: web
spec:
  gatewayClassName: istio
  addresses:
  - value: 10.0.0.1
  - value: not-an-ip
  - type: Hostname
    value: lb.example.com
  listeners:
  - name: http
    port: 80
    protocol: HTTP
  - name: http
    port: 8080
    protocol: HTTP
`;
  const r = await validateText(text, { analyzers: ['schema.ValidationAnalyzer.KubernetesGateway'] });
  assert.deepEqual(codesAt(r.findings, 'IST0106'), ['IST0106@9', 'IST0106@16']);
  assert.match(r.findings[0]!.message, /is the string "not-an-ip", which is not an IPv4 address or an IPv6 address/);
  assert.equal(r.findings[1]!.path, '/spec/listeners/1');
});

test('an HTTPRoute with a misspelled field and a bad path match type', async () => {
  const text = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  parentRefs:
  - name: web
  rules:
  - matches:
    - path:
        type: Prefix
        value: /
    backendRef:
    - name: web
      port: 80
`;
  const r = await validateText(text, { analyzers: ['schema.ValidationAnalyzer.HTTPRoute'] });
  assert.deepEqual(r.findings.map((f) => `${f.line}:${f.path}`), ['11:/spec/rules/0/matches/0/path/type', '13:/spec/rules/0/backendRef']);
  assert.match(r.findings[1]!.message, /did you mean backendRefs\?/);
});

test("Istio's own validation: a route rule without a destination, a bad retryOn, a wrong gateway TLS setup", async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - match:
    - uri:
        prefix: /a
  - route:
    - destination:
        host: reviews
    retries:
      attempts: 2
      retryOn: 5xx, reset
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*.example.com"]
`;
  const r = await validateText(text, { analyzers: ALL });
  assert.deepEqual(r.findings.map((f) => `${f.code}@${f.line}:${f.path}`), [
    'IST0106@8:/spec/http/0',
    'IST0106@16:/spec/http/1/retries/retryOn',
    'IST0106@24:/spec/servers/0',
  ]);
  assert.match(r.findings[0]!.message, /has no route, redirect or directResponse/);
  assert.match(r.findings[1]!.message, /" reset", which is not a retry condition/);
  assert.match(r.findings[2]!.message, /serves HTTPS without tls settings/);
});

test('Workload (meshctl.dev): command and port are required, env values are strings', async () => {
  const text = `apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata:
  name: reviews
  labels: {app: reviews, version: v1}
spec:
  command: []
  env:
    PORT: 9080
  replicas: -1
`;
  const r = await validateText(text, { analyzers: ['schema.ValidationAnalyzer.Workload'] });
  assert.deepEqual(r.findings.map((f) => `${f.line}:${f.path}`), ['6:/spec', '7:/spec/command', '9:/spec/env/PORT', '10:/spec/replicas']);
  assert.match(r.findings[0]!.message, /lacks the required field spec\.port/);
  const ok = await validateText(
    'apiVersion: meshctl.dev/v1alpha1\nkind: Workload\nmetadata: {name: reviews, labels: {app: reviews}}\nspec:\n  command: [node, server.js]\n  port: 9080\n  env: {PORT: "9080"}\n',
    { analyzers: ['schema.ValidationAnalyzer.Workload'] },
  );
  assert.deepEqual(ok.findings, []);
});

test('every kind with a schema has a validator, and unknown API versions fall back to the base schema', () => {
  for (const name of ['networking.istio.io.VirtualService', 'gateway.networking.k8s.io.Gateway', 'meshctl.dev.Workload']) {
    assert.ok(schemaFor(name, 'v1'), name);
  }
  assert.equal(schemaFor('networking.istio.io.VirtualService', 'v9')!.name, 'networking.istio.io.VirtualService');
  const versions = (schemaFor('networking.istio.io.VirtualService', 'v1')!.schema().properties as Record<string, { enum: string[] }>).apiVersion.enum;
  assert.deepEqual(versions, ['networking.istio.io/v1', 'networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1']);
});

// The fast check must never call valid what ajv rejects: compare them on the analyzer corpus and on mutations.
function corpusFiles(): string[] {
  const dir = path.join(SHARED, 'conformance', 'istio-analyze', 'testdata');
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(f)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function* mutations(value: unknown, depth = 0): Generator<unknown> {
  if (depth > 6 || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      for (const m of mutations(value[i], depth + 1)) yield value.map((v, j) => (j === i ? m : v));
    }
    if (value.length) yield [...value, value[0]];
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    yield { ...obj, [`${key}x`]: v };
    yield { ...obj, [key]: typeof v === 'string' ? 7 : typeof v === 'number' ? String(v) : 'x' };
    if (typeof v === 'number') yield { ...obj, [key]: -v - 1 };
    if (typeof v === 'string') yield { ...obj, [key]: `${v.toUpperCase()}_` };
    for (const m of mutations(v, depth + 1)) yield { ...obj, [key]: m };
  }
}

test('the fast check agrees with ajv on the Istio analyzer corpus and on mutated resources', () => {
  const sources = corpusFiles().map((p) => {
    const text = readFileSync(p, 'utf8');
    return { path: p, text, format: 'yaml' as const, size: text.length };
  });
  const { resources } = loadSources(sources, {});
  let compared = 0;
  for (const r of resources) {
    if (!r.info?.schema) continue;
    const entry = schemaFor(r.info.schema, r.version)!;
    const samples = [r.object, ...[...mutations(r.object)].slice(0, 400)];
    for (const sample of samples) {
      const slow = entry.validate(sample);
      const fast = entry.accepts(sample);
      if (fast) assert.ok(slow, `fast check accepted what ajv rejects: ${r.kind} ${r.name} ${JSON.stringify(entry.errors()[0])}`);
      if (slow) assert.ok(fast, `fast check rejected what ajv accepts: ${r.kind} ${r.name}`);
      compared++;
    }
  }
  assert.ok(compared > 1000, `compared ${compared}`);
});

test('the fast check counts the keys of a one-of (StringMatch: exact, prefix, regex) as ajv does', () => {
  const entry = schemaFor('networking.istio.io.VirtualService', 'v1')!;
  const vs = (uri: unknown) => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'reviews' },
    spec: { hosts: ['reviews'], http: [{ match: [{ uri, headers: { 'x-user': uri } }], route: [{ destination: { host: 'reviews' } }] }] },
  });
  const cases: [unknown, boolean][] = [
    [{ prefix: '/api' }, true],
    [{ exact: '/api' }, true],
    [{}, true],
    [{ exact: '/a', prefix: '/b' }, false],
    [{ exact: '/a', prefix: '/b', regex: '.*' }, false],
    [{ prefix: '/a', regex: '.*' }, false],
    ['/api', false],
    [['/api'], false],
  ];
  for (const [uri, valid] of cases) {
    const sample = vs(uri);
    assert.equal(entry.validate(sample), valid, `ajv on ${JSON.stringify(uri)}`);
    assert.equal(entry.accepts(sample), valid, `fast check on ${JSON.stringify(uri)}`);
  }
});
