// Conflict groups of 10,000 resources: one finding per member, messages that name a few members, the group
// listed once, and a run held to 20 MB of JSON and 400 MB of memory. Times are reported, never asserted.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hasStackTrace } from '../support/cli.js';
import { inPool, measuredMeshctl, type MeasuredRun } from '../support/measured.js';
import { assertOutput } from '../support/output-schemas.js';

const MEMBERS = 10_000;
const MAX_JSON_BYTES = 20 * 1024 * 1024;
const MAX_PEAK_RSS = 400 * 1024 * 1024;
/** Far above any bounded message, far below one naming a tenth of a group. */
const MAX_MESSAGE_CHARS = 1_000;

const repeat = (n: number, doc: (i: number) => string) => Array.from({ length: n }, (_, i) => `---\n${doc(i)}`).join('');

interface GroupCase {
  code: string;
  what: string;
  text: string;
  /** Findings expected with the code. */
  findings: number;
  /** Members of the one group they share. */
  groupSize: number;
  /** The message's wording of the count, for the first finding. */
  more: RegExp;
}

const injectedNamespace = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio-injection: enabled}}\n';

const CASES: GroupCase[] = [
  {
    code: 'IST0145',
    what: 'Gateways binding one host and port',
    text: repeat(
      MEMBERS,
      (i) => `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g${i}}\nspec:\n  selector: {istio: ingressgateway}\n  servers: [{port: {number: 80, name: tcp, protocol: TCP}, hosts: [foo.bar]}]\n`,
    ),
    findings: MEMBERS,
    groupSize: MEMBERS,
    more: /binds host foo\.bar on port 80 .* as Gateways default\/g\d+, default\/g\d+, default\/g\d+ and 9,996 more;/,
  },
  {
    code: 'IST0138',
    what: 'Gateways serving one certificate',
    text: repeat(
      MEMBERS,
      (i) =>
        `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: c${i}, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [h${i}.example.com], tls: {mode: SIMPLE, credentialName: shared-cert}}]\n`,
    ),
    findings: MEMBERS,
    groupSize: MEMBERS,
    more: /serves the certificate shared-cert on the same workloads as Gateways istio-system\/c\d+, .* and 9,996 more,/,
  },
  {
    code: 'IST0177',
    what: 'ServiceEntries giving one host and port two protocols',
    text: repeat(
      MEMBERS,
      (i) =>
        `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se${i}, namespace: shop}\nspec:\n  hosts: [api.example.com]\n  ports: [{number: 8443, name: p, protocol: ${i % 2 ? 'HTTPS' : 'TLS'}}]\n  resolution: DNS\n`,
    ),
    findings: MEMBERS,
    groupSize: MEMBERS,
    more: /ServiceEntry shop\/se\d+ and ServiceEntries shop\/se\d+, shop\/se\d+, shop\/se\d+ and 9,996 more declare host api\.example\.com port 8443 with different protocols \(HTTPS, TLS\)/,
  },
  {
    code: 'IST0109',
    what: 'VirtualServices claiming one host on the mesh gateway',
    text:
      'apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: shop}\nspec:\n  selector: {app: reviews}\n  ports: [{name: http, port: 9080}]\n' +
      repeat(
        MEMBERS,
        (i) => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs${i}, namespace: shop}\nspec:\n  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]\n`,
      ),
    findings: MEMBERS,
    groupSize: MEMBERS,
    more: /overlaps the hosts of VirtualServices shop\/vs\d+, shop\/vs\d+, shop\/vs\d+ and 9,996 more in the same namespaces/,
  },
  {
    code: 'IST0110',
    what: 'Sidecars selecting one workload',
    text:
      'apiVersion: v1\nkind: Pod\nmetadata: {name: reviews-1, namespace: shop, labels: {app: reviews}}\nspec:\n  containers: [{name: reviews, image: reviews}]\n' +
      repeat(MEMBERS, (i) => `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: sc${i}, namespace: shop}\nspec:\n  workloadSelector: {labels: {app: reviews}}\n  egress: [{hosts: ["./*"]}]\n`),
    findings: MEMBERS,
    groupSize: MEMBERS,
    more: /selects Pod shop\/reviews-1, as do Sidecars sc\d+, sc\d+, sc\d+ and 9,996 more,/,
  },
  {
    code: 'IST0111',
    what: 'Sidecars without a workloadSelector in one namespace',
    text: repeat(MEMBERS, (i) => `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: ns${i}, namespace: shop}\nspec:\n  egress: [{hosts: ["./*"]}]\n`),
    findings: MEMBERS,
    groupSize: MEMBERS,
    more: /Sidecar ns\d+ and Sidecars ns\d+, ns\d+, ns\d+ and 9,996 more in namespace shop have no workloadSelector/,
  },
  {
    code: 'IST0116',
    what: 'Services giving one port of meshed Deployments two protocols',
    text:
      `${injectedNamespace}` +
      repeat(
        100,
        (i) =>
          `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d${i}, namespace: shop}\nspec:\n  selector: {matchLabels: {app: reviews}}\n  template:\n    metadata: {labels: {app: reviews}}\n    spec: {containers: [{name: reviews, image: reviews}]}\n`,
      ) +
      repeat(
        MEMBERS,
        (i) => `apiVersion: v1\nkind: Service\nmetadata: {name: s${i}, namespace: shop}\nspec:\n  selector: {app: reviews}\n  ports: [{name: p, port: 9080, protocol: ${i % 2 ? 'TCP' : 'UDP'}}]\n`,
      ),
    // One finding per Deployment; the Services are the group every one of them shares.
    findings: 100,
    groupSize: MEMBERS,
    more: /is selected by Services shop\/s\d+, shop\/s\d+, shop\/s\d+ and 9,997 more, which give port 9080 different protocols \(UDP, TCP\)/,
  },
];

interface Document {
  findings: { code: string; message: string; resource: { kind: string; namespace: string; name: string } | null; group?: { id: string; size: number } }[];
  groups?: { id: string; code: string; size: number; members: unknown[] }[];
}

let dir: string;
const runs = new Map<string, MeasuredRun>();
const figures: string[] = [];

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-groups-'));
  writeFileSync(path.join(dir, 'empty.yaml'), '');
  const jobs = CASES.map((c) => async () => {
    const file = path.join(dir, `${c.code}.yaml`);
    writeFileSync(file, c.text);
    // IST0177 and IST0116 are warnings.
    runs.set(c.code, await measuredMeshctl(['validate', file, '-o', 'json', '--fail-on', 'warning']));
  });
  // diff reads NEW through the same analyzers (for its note on findings) and lists every added resource.
  jobs.push(async () => {
    runs.set('diff', await measuredMeshctl(['diff', path.join(dir, 'empty.yaml'), path.join(dir, 'IST0145.yaml'), '-o', 'json']));
  });
  await inPool(2, jobs);
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('validate on 10,000-member conflict groups', () => {
  for (const c of CASES) {
    test(`${c.code}: ${c.what}`, (t) => {
      const run = runs.get(c.code)!;
      const mb = (run.stdoutBytes / 1024 / 1024).toFixed(1);
      const figure = `${c.code} validate -o json: ${mb} MB, peak ${(run.peakRss / 1024 / 1024).toFixed(0)} MB, ${run.seconds.toFixed(1)} s`;
      figures.push(figure);
      t.diagnostic(figure);
      assert.equal(run.code, 1, run.stderr);
      assert.ok(!hasStackTrace(run.stderr), run.stderr);
      assert.ok(run.stdoutBytes < MAX_JSON_BYTES, `${mb} MB of JSON`);
      assert.ok(run.peakRss < MAX_PEAK_RSS, `peak resident set ${run.peakRss} bytes`);
      const doc = JSON.parse(readFileSync(run.stdoutPath, 'utf8')) as Document;
      assertOutput('validate', doc);
      const mine = doc.findings.filter((f) => f.code === c.code);
      assert.equal(mine.length, c.findings);
      // One finding per member: every finding is on a different resource.
      assert.equal(new Set(mine.map((f) => `${f.resource!.kind} ${f.resource!.namespace}/${f.resource!.name}`)).size, c.findings);
      assert.match(mine[0]!.message, c.more);
      assert.ok(Math.max(...mine.map((f) => f.message.length)) < MAX_MESSAGE_CHARS);
      const ids = new Set(mine.map((f) => f.group?.id));
      assert.equal(ids.size, 1, 'every finding refers to the one group');
      assert.equal(mine[0]!.group!.size, c.groupSize);
      const groups = (doc.groups ?? []).filter((g) => g.code === c.code);
      assert.equal(groups.length, 1);
      assert.equal(groups[0]!.id, mine[0]!.group!.id);
      assert.equal(groups[0]!.members.length, c.groupSize);
    });
  }

  test('diff adding the 10,000 conflicting Gateways stays within the same bounds', (t) => {
    const run = runs.get('diff')!;
    const figure = `diff -o json (10,000 Gateways added): ${(run.stdoutBytes / 1024 / 1024).toFixed(1)} MB, peak ${(run.peakRss / 1024 / 1024).toFixed(0)} MB, ${run.seconds.toFixed(1)} s`;
    t.diagnostic(figure);
    assert.equal(run.code, 1, run.stderr);
    assert.ok(!hasStackTrace(run.stderr), run.stderr);
    assert.ok(run.stdoutBytes < MAX_JSON_BYTES);
    assert.ok(run.peakRss < MAX_PEAK_RSS, `peak resident set ${run.peakRss} bytes`);
    const doc = JSON.parse(readFileSync(run.stdoutPath, 'utf8')) as { changes: unknown[] };
    assert.equal(doc.changes.length, MEMBERS);
    assert.ok(run.stderr.length < 2_000, `${run.stderr.length} characters on stderr`);
  });
});
