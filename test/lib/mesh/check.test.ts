// meshctl check's certificate checks: a mesh CA or a workload certificate close to its expiry is a
// warning (‼) naming it and the time left; an expired workload certificate is an error.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { createMeshCa, issueWorkloadCertificate, writeWorkloadCertificate, type MeshCa } from '../../../src/lib/mesh/ca.js';
import { CHECKS, runCheck, type CheckContext } from '../../../src/lib/mesh/check.js';
import { homeLayout } from '../../../src/lib/mesh/home.js';
import { checkText } from '../../../src/lib/mesh/render.js';
import { paint } from '../../../src/lib/output/format.js';
import { proxyPaths } from '../../../src/lib/runtime/haproxy/types.js';
import type { MeshStatus, PodStatus } from '../../../src/lib/mesh/agent/protocol.js';

const HOUR = 3_600_000;

function check(description: RegExp) {
  const found = CHECKS.find((c) => description.test(c.description));
  if (!found) throw new Error(`no check ${description}`);
  return found;
}

function podStatus(name: string, type: 'pod' | 'gateway' = 'pod'): PodStatus {
  return {
    name, namespace: 'default', type, workload: type === 'pod' ? name.replace(/-\d+$/, '') : null, labels: {}, serviceAccount: name, ports: {},
    containers: [], ready: true, proxyRevision: 1, wantedRevision: 1, inSync: true, restarts: 0, createdAt: new Date().toISOString(),
  };
}

describe('check: certificate expiry', () => {
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  /** A home whose pods hold certificates of 24 h issued `ageMs` ago, by pod name. */
  async function homeWith(ca: MeshCa, pods: Record<string, number>): Promise<CheckContext> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-check-'));
    dirs.push(dir);
    const layout = homeLayout(path.join(dir, 'home'));
    for (const [name, ageMs] of Object.entries(pods)) {
      const cert = await issueWorkloadCertificate(ca, { namespace: 'default', serviceAccount: name }, { ttlMs: 24 * HOUR, now: new Date(Date.now() - ageMs) });
      await writeWorkloadCertificate(cert, ca, proxyPaths(layout.pod(name).dir));
    }
    const status = { pods: Object.keys(pods).map((n) => podStatus(n)) } as MeshStatus;
    return { layout, config: null, ca, status };
  }

  const text = (category: string, report: Awaited<ReturnType<typeof runCheck>>) => checkText(paint(false)).check(category, report);
  const workloadCheck = check(/workload certificate/);

  it('warns (‼) about a workload certificate with less than a tenth of its lifetime left, naming the pod', async () => {
    const ca = await createMeshCa();
    const ctx = await homeWith(ca, { 'reviews-v1-0': HOUR, 'ratings-v1-0': 22 * HOUR });
    const report = await runCheck(workloadCheck, ctx);
    assert.equal(report.result, 'warning');
    assert.match(report.error ?? '', /ratings-v1-0 \(expires in 2h\)/);
    assert.doesNotMatch(report.error ?? '', /reviews-v1-0/);
    assert.match(text('pods', report), /^‼ no workload certificate is expired or about to expire/m);
  });

  it('passes when every certificate has more than a tenth of its lifetime left', async () => {
    const ca = await createMeshCa();
    const report = await runCheck(workloadCheck, await homeWith(ca, { 'reviews-v1-0': 12 * HOUR }));
    assert.equal(report.result, 'success', report.error);
    assert.match(report.detail ?? '', /1 certificate, the first expires in 12h/);
  });

  it('fails on an expired workload certificate and on a pod without one', async () => {
    const ca = await createMeshCa();
    const ctx = await homeWith(ca, { 'reviews-v1-0': 25 * HOUR });
    ctx.status!.pods.push(podStatus('details-v1-0'));
    const report = await runCheck(workloadCheck, ctx);
    assert.equal(report.result, 'error');
    assert.match(report.error ?? '', /expired: reviews-v1-0 \(expired 1h ago\)/);
    assert.match(report.error ?? '', /no readable certificate: details-v1-0/);
    assert.match(text('pods', report), /^× /m);
  });

  it('warns (‼) about a mesh CA that expires within 30 days', async () => {
    const soon = await createMeshCa({ validityDays: 7 });
    const report = await runCheck(check(/mesh CA is not about to expire/), await homeWith(soon, {}));
    assert.equal(report.result, 'warning');
    assert.match(report.error ?? '', /expires \d{4}-\d\d-\d\d, in 6 days/);
    assert.match(text('certificates', report), /^‼ the mesh CA is not about to expire/m);
    const later = await runCheck(check(/mesh CA is not about to expire/), await homeWith(await createMeshCa(), {}));
    assert.equal(later.result, 'success');
  });
});
