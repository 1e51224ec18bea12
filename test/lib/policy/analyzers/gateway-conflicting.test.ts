import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateText, codesAt } from '../../../support/policy.js';
import { findingsDocument, renderSarif } from '../../../../src/lib/output/findings.js';

const analyzers = ['gateway.ConflictingGatewayAnalyzer'];

const gateway = (name: string, selector: string, host: string, extra = '') => `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}}
spec:
  selector: {${selector}}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}${extra}
    hosts:
    - ${host}
`;

test('two Gateways binding one host and port on the same selector are IST0145 at the host', async () => {
  const r = await validateText(gateway('a', 'istio: ingressgateway', 'shop.example.com') + gateway('b', 'istio: ingressgateway', 'shop.example.com'), { analyzers });
  assert.deepEqual(codesAt(r.findings), ['IST0145@10', 'IST0145@20']);
  assert.match(r.findings[0]!.message, /host shop\.example\.com on port 80 .* Gateway default\/b/);
});

test('other hosts, or another bind address, are no conflict', async () => {
  const hosts = gateway('a', 'istio: ingressgateway', 'a.example.com') + gateway('b', 'istio: ingressgateway', 'b.example.com');
  assert.deepEqual(codesAt((await validateText(hosts, { analyzers })).findings), []);
  const bind = gateway('a', 'istio: ingressgateway', 'shop.example.com', '\n    bind: 10.0.0.1') + gateway('b', 'istio: ingressgateway', 'shop.example.com');
  assert.deepEqual(codesAt((await validateText(bind, { analyzers })).findings), []);
});

test('a narrower selector conflicts when a Deployment in the inputs runs under both', async () => {
  const text = gateway('a', 'istio: ingressgateway', 'shop.example.com') + gateway('b', 'istio: ingressgateway, tier: edge', 'shop.example.com');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), []);
  const deployment = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: edge}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata: {labels: {istio: ingressgateway, tier: edge}}
    spec: {containers: [{name: istio-proxy, image: proxyv2}]}
`;
  assert.deepEqual(codesAt((await validateText(text + deployment, { analyzers })).findings), ['IST0145@10', 'IST0145@20']);
});

test('a Gateway without servers whose selector no other Gateway serves is IST0101 at the selector, once per run', async () => {
  const text = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: empty}
spec:
  selector:
    istio: ingresstypo
`;
  const alone = await validateText(text, { analyzers });
  assert.deepEqual(codesAt(alone.findings), ['IST0101@6']);
  assert.match(alone.findings[0]!.message, /no servers/);
  const all = ['gateway.ConflictingGatewayAnalyzer', 'gateway.IngressGatewayPortAnalyzer', 'gateway.SecretAnalyzer'];
  const full = await validateText(text, { analyzers: all, assumeIngressGateway: true });
  assert.deepEqual(codesAt(full.findings), ['IST0101@6']);
  assert.match(full.findings[0]!.message, /selects no workload/);
});

test('a large group: each message names three other Gateways and the count, the group lists all once, SARIF shows ten', async () => {
  const names = Array.from({ length: 12 }, (_, i) => `g${String(i).padStart(2, '0')}`);
  const r = await validateText(names.map((n) => gateway(n, 'istio: ingressgateway', 'shop.example.com')).join(''), { analyzers });
  assert.equal(r.findings.length, 12);
  assert.match(r.findings[0]!.message, /as Gateways default\/g01, default\/g02, default\/g03 and 8 more;/);
  assert.match(r.findings[1]!.message, /as Gateways default\/g00, default\/g02, default\/g03 and 8 more;/);
  assert.deepEqual(new Set(r.findings.map((f) => JSON.stringify(f.group))), new Set([JSON.stringify({ id: 'IST0145-1', size: 12 })]));
  assert.equal(r.groups.length, 1);
  assert.deepEqual(
    r.groups[0]!.members.map((m) => `${m.resource.name}@${m.line}`),
    names.map((n, i) => `${n}@${10 + 10 * i}`),
  );
  const sarif = JSON.parse(renderSarif({ findings: r.findings, groups: r.groups, summary: r.summary }, '0.0.0'));
  const result = sarif.runs[0].results[0];
  assert.equal(result.relatedLocations.length, 10);
  assert.deepEqual(result.relatedLocations[0], {
    id: 1,
    message: { text: 'Gateway/default/g01' },
    physicalLocation: { artifactLocation: { uri: 'policy.yaml' }, region: { startLine: 20, startColumn: 5 } },
  });
  assert.deepEqual(result.properties, { group: 'IST0145-1', groupSize: 12 });
  const json = JSON.parse(JSON.stringify(findingsDocument({ findings: r.findings, groups: r.groups, summary: r.summary })));
  assert.deepEqual(Object.keys(json), ['findings', 'groups', 'summary']);
  assert.equal(json.groups[0].members.length, 12);
});

test('a long Gateway name is clipped in the messages of the others, and kept whole in its own', async () => {
  const long = `g${'x'.repeat(300)}`;
  const r = await validateText(gateway(long, 'istio: ingressgateway', 'shop.example.com') + gateway('b', 'istio: ingressgateway', 'shop.example.com'), { analyzers });
  const [own, other] = r.findings;
  assert.ok(own!.message.includes(`Gateway default/${long} binds`));
  assert.ok(other!.message.includes(`as Gateway default/g${'x'.repeat(88)}...;`), other!.message);
  assert.ok(other!.message.length < 300);
});

test('Gateways whose selectors nest form one group with the workload both select, and no conflict without it', async () => {
  const edge = `---
apiVersion: v1
kind: Pod
metadata: {name: edge-1, labels: {istio: ingressgateway, tier: edge}}
spec: {containers: [{name: istio-proxy, image: proxyv2}]}
`;
  const text =
    gateway('wide', 'istio: ingressgateway', 'shop.example.com') + gateway('narrow-a', 'istio: ingressgateway, tier: edge', 'shop.example.com') + gateway('narrow-b', 'istio: ingressgateway, tier: core', 'shop.example.com');
  assert.deepEqual(codesAt((await validateText(text, { analyzers })).findings), []);
  const r = await validateText(text + edge, { analyzers });
  // narrow-b's selector picks no modelled workload, so only wide and narrow-a share one.
  assert.deepEqual(codesAt(r.findings), ['IST0145@10', 'IST0145@20']);
  assert.match(r.findings[0]!.message, /Gateway default\/wide .* as Gateway default\/narrow-a;/);
  assert.deepEqual(r.groups.map((g) => g.members.map((m) => m.resource.name)), [['wide', 'narrow-a']]);
});
