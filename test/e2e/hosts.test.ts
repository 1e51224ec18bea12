// Live: a rule's host and a request's Host are read as Istio reads them, the same in validate, apply
// and the local mesh. A destination `host: reviews.default` is taken as written (only dot-less names
// are expanded), so it matches no Service: validate reports IST0101, apply refuses it saying so, and a
// mesh that got it anyway answers 503. A request's Host header reaches the service by every name
// Kubernetes DNS gives it (reviews, reviews.default, reviews.default.svc, the FQDN, with or without port).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { startLocalHome, type LocalHome } from '../support/local-home.js';
import { bookinfoPolicy } from '../support/bookinfo-policy.js';
import { meshctlAsync } from '../support/cli.js';
import { request } from '../support/net.js';
import type { EchoAnswer } from '../support/mesh.js';

const DOTTED_ROUTE = `  - name: dotted
    match: [{ headers: { x-case: { exact: dotted } } }]
    route: [{ destination: { host: reviews.default } }]
`;

describe('host names: validate, apply and the local mesh agree with Istio', { timeout: 180_000 }, () => {
  let h: LocalHome;
  let dir: string;
  let dottedFile: string;
  const dottedPolicy = bookinfoPolicy({ extraRoutes: DOTTED_ROUTE });
  const dottedLine = dottedPolicy.split('\n').findIndex((l) => l.includes('host: reviews.default')) + 1;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-hosts-'));
    dottedFile = path.join(dir, 'dotted.yaml');
    await fs.writeFile(dottedFile, dottedPolicy);
    h = await startLocalHome(bookinfoPolicy());
  });
  after(async () => {
    await h?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const fromProductpage = (headers: Record<string, string>) => request({ port: h.pod('productpage-0').ports.outbound, path: '/', headers, timeoutMs: 10_000 });

  it('validate: destination reviews.default matches no Service (IST0101 at its line)', async () => {
    const r = await meshctlAsync(['validate', dottedFile, '-o', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const findings = (JSON.parse(r.stdout) as { findings: { code: string; line: number; message: string }[] }).findings;
    assert.deepEqual(findings.map((f) => `${f.code}@${f.line}`), [`IST0101@${dottedLine}`]);
    assert.match(findings[0]!.message, /Destination host reviews\.default .* matches no Service/);
  });

  it('apply: refuses the file and says the destination matches no Service (exit 2, nothing applied)', async () => {
    const before = h.revision;
    const r = await meshctlAsync(['apply', '-f', dottedFile, '--home', h.home]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`dotted\\.yaml:${dottedLine}:\\d+ +error +IST0101 +Destination host reviews\\.default in VirtualService default/reviews matches no Service`));
    assert.match(r.stderr, /Nothing was applied/);
    assert.equal(h.revision, before);
  });

  it('the mesh: a route to reviews.default gets 503, and the compiled notes say the host matches no service', async () => {
    await h.apply(dottedPolicy);
    const answer = await fromProductpage({ host: 'reviews', 'x-case': 'dotted' });
    assert.equal(answer.status, 503, answer.body);
    assert.ok(h.compiled.notes.some((n) => /host reviews\.default is not a Service or ServiceEntry of the mesh; its requests get 503/.test(n)), h.compiled.notes.join('\n'));
    const plain = await fromProductpage({ host: 'reviews' });
    assert.equal(plain.status, 200, 'routes of the same host that name it by its short name still reach it');
  });

  for (const host of ['reviews', 'reviews.default', 'reviews.default.svc', 'reviews.default.svc.cluster.local', 'reviews:9080', 'reviews.default.svc.cluster.local:9080', 'Reviews.Default']) {
    it(`a request with Host: ${host} reaches reviews`, async () => {
      const answer = await fromProductpage({ host });
      assert.equal(answer.status, 200, answer.body);
      assert.match((JSON.parse(answer.body) as EchoAnswer).pod, /^reviews-v[12]-0$/);
    });
  }

  it('a Host that is a rule-style name of no service (reviews.other) is not routed', async () => {
    const answer = await fromProductpage({ host: 'reviews.other' });
    assert.equal(answer.status, 404, answer.body);
  });
});
