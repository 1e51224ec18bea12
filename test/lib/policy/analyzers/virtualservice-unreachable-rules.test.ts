import { test } from 'node:test';
import assert from 'node:assert/strict';
import { source } from '../../../support/policy.js';
import { loadSources } from '../../../../src/lib/policy/load.js';
import { AnalysisContext } from '../../../../src/lib/policy/analysis.js';
import { applyMeshConfig } from '../../../../src/lib/policy/mesh-config.js';
import { complete, type Finding } from '../../../../src/lib/policy/findings.js';
import { K } from '../../../../src/lib/policy/kinds.js';
import { checkVirtualServiceMatches } from '../../../../src/lib/policy/analyzers/virtualservice-unreachable-rules.js';

function lineOf(text: string, marker: string): number {
  const lines = text.split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(marker) ? [i + 1] : []));
  assert.equal(hits.length, 1, `marker ${marker} must be unique`);
  return hits[0]!;
}

/** Runs the match checks over every VirtualService in `text`; returns `CODE@line` per finding. */
function check(text: string): { codes: string[]; findings: Finding[] } {
  const loaded = loadSources([source(text)], { defaultNamespace: 'default' });
  const ctx = new AnalysisContext(loaded.resources, applyMeshConfig(undefined));
  ctx.runAnalyzer({
    name: 'test', description: '', inputs: [K.VirtualService], codes: ['IST0130', 'IST0131'],
    run(c) {
      for (const vs of c.of(K.VirtualService)) checkVirtualServiceMatches(c, vs);
    },
  });
  const findings = ctx.findings.map(complete);
  return { codes: findings.map((f) => `${f.code}@${f.line}`).sort(), findings };
}

const head = (name: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: shop}
spec:${extra}
  hosts: [shop.example.com]
`;

test('a rule whose only match repeats an earlier one is IST0130 at the rule and IST0131 at the match', async () => {
  const text = `${head('dup')}  http:
  - name: v1
    match:
    - name: products
      uri: {prefix: /products}
    route:
    - destination: {host: v1}
  - name: v2
    match:
    - uri: {prefix: /products}   # same conditions, no name
    route:
    - destination: {host: v2}
`;
  const { codes, findings } = check(text);
  assert.deepEqual(codes, [`IST0130@${lineOf(text, '- name: v2')}`, `IST0131@${lineOf(text, 'same conditions')}`].sort());
  assert.equal(findings.find((f) => f.code === 'IST0130')!.severity, 'warning');
  assert.equal(findings.find((f) => f.code === 'IST0131')!.severity, 'info');
});

test('a rule after a catch-all rule is IST0130; a longer prefix after a shorter one is IST0131', async () => {
  const text = `${head('order')}  http:
  - match:
    - uri: {prefix: /api}
    route:
    - destination: {host: api}
  - match:
    - uri: {prefix: /api/v2}   # shadowed
    route:
    - destination: {host: api2}
  - route:
    - destination: {host: web}
  - route:                     # second catch-all
    - destination: {host: never}
`;
  assert.deepEqual(check(text).codes, [`IST0130@${lineOf(text, 'second catch-all')}`, `IST0131@${lineOf(text, '# shadowed')}`].sort());
});

test('tcp and tls rules repeating a match are reported too', async () => {
  const text = `${head('l4')}  tcp:
  - match: [{port: 9000}]
    route: [{destination: {host: a}}]
  - match: [{port: 9000}, {port: 9001}]   # tcp-dup
    route: [{destination: {host: b}}]
  tls:
  - match: [{port: 443, sniHosts: [shop.example.com]}]
    route: [{destination: {host: a}}]
  - match: [{port: 443, sniHosts: [shop.example.com]}]   # tls-dup
    route: [{destination: {host: b}}]
`;
  assert.deepEqual(check(text).codes, [`IST0131@${lineOf(text, 'tcp-dup')}`, `IST0130@${lineOf(text, 'tls-dup')}`, `IST0131@${lineOf(text, 'tls-dup')}`].sort());
});

test('ordered, distinct matches give no finding: specific prefixes first, other methods, headers or ports', async () => {
  const text = `${head('fine')}  http:
  - match:
    - uri: {prefix: /api/v2}
    route: [{destination: {host: api2}}]
  - match:
    - uri: {prefix: /api}
      method: {exact: POST}
    - uri: {prefix: /api/admin}
      headers: {x-admin: {exact: "1"}}
    route: [{destination: {host: api}}]
  - match:
    - uri: {prefix: /api}
      method: {exact: GET}
    - uri: {exact: /api}
    route: [{destination: {host: api-read}}]
  - route: [{destination: {host: web}}]
`;
  assert.deepEqual(check(text).codes, []);
});

test('a broader earlier match shadows a narrower one with the same prefix; a narrower earlier one does not', async () => {
  const text = `${head('methods')}  http:
  - match:
    - uri: {prefix: /cart}
      method: {exact: GET}
    route: [{destination: {host: a}}]
  - match:
    - uri: {prefix: /cart}
    route: [{destination: {host: b}}]
  - match:
    - uri: {prefix: /cart/items}   # covered by both earlier matches, reported once
      method: {exact: GET}
      headers: {x-beta: {exact: "1"}}
    route: [{destination: {host: c}}]
`;
  assert.deepEqual(check(text).codes, [`IST0131@${lineOf(text, 'covered by both')}`]);
});

test('exportTo does not change which rules are reachable', async () => {
  const text = `${head('scoped', '\n  exportTo: ["."]')}  http:
  - route: [{destination: {host: a}}]
  - route: [{destination: {host: b}}]   # unreachable
`;
  assert.deepEqual(check(text).codes, [`IST0130@${lineOf(text, '# unreachable')}`]);
});
