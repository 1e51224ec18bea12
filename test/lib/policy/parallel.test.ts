// Validation on two threads must report exactly what one thread reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { meshctl } from '../../support/cli.js';

const vs = (i: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: svc-${i}
spec:
  hosts: [svc-${i}]
  http:
  - route:
    - destination: {host: svc-${i}, subset: v1}
      weight: ${i % 3 === 0 ? 70 : 80}
    - destination: {host: svc-${i}, subset: ${i % 5 === 0 ? 'v9' : 'v2'}}
      weight: 20
    timeout: ${i % 4 === 0 ? '10 s' : '10s'}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: svc-${i}
spec:
  host: svc-${i}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: v1
kind: Service
metadata:
  name: svc-${i}
spec:
  selector: {app: svc-${i}}
  ports:
  - {name: ${i % 7 === 0 ? 'web' : 'http'}, port: 8080}
${i % 11 === 0 ? `---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-${i}\n` : ''}`;

test('the worker thread and one thread give the same findings, in the same order', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-parallel-'));
  try {
    for (let f = 0; f < 6; f++) {
      const docs = [];
      for (let i = f * 20; i < f * 20 + 20; i++) docs.push(vs(i));
      writeFileSync(path.join(dir, `part-${f}.yaml`), docs.join('---\n'));
    }
    writeFileSync(path.join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [oops\n');
    const one = meshctl(['validate', '-o', 'json', dir], { env: { MESHCTL_WORKERS: '0' } });
    const two = meshctl(['validate', '-o', 'json', dir], { env: { MESHCTL_WORKERS: 'always' } });
    assert.equal(two.code, one.code);
    const a = JSON.parse(one.stdout);
    const b = JSON.parse(two.stdout);
    assert.ok(a.findings.length > 50, `expected many findings, got ${a.findings.length}`);
    for (const code of ['MSH2001', 'MSH2006', 'IST0101', 'MSH1012', 'MSH1006']) {
      assert.ok(a.findings.some((x: { code: string }) => x.code === code), `one thread reports ${code}`);
    }
    assert.deepEqual(b, a);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
