import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import Ajv from 'ajv/dist/2020.js';
import { load as loadYaml } from 'js-yaml';
import { meshctl, hasStackTrace } from '../support/cli.js';
import { BIN, ROOT } from '../support/shared.js';
import { homeLayout } from '../../src/lib/mesh/home.js';
import { commitRevision, writeMeshConfigFile } from '../../src/lib/mesh/state.js';

let dir: string;
const file = (name: string, content: string): string => {
  const p = path.join(dir, name);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
};

const reviews = (v1: number, v2: number, extra = '') =>
  [
    'apiVersion: networking.istio.io/v1',
    'kind: VirtualService',
    'metadata:',
    '  name: reviews',
    'spec:',
    '  hosts:',
    '  - reviews',
    '  http:',
    '  - route:',
    '    - destination: {host: reviews, subset: v1}',
    `      weight: ${v1}`,
    '    - destination: {host: reviews, subset: v2}',
    `      weight: ${v2}`,
    ...(extra ? [extra] : []),
    '',
  ].join('\n');
const SERVICE = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\nspec:\n  ports:\n  - {name: http, port: 9080}\n';
const STRICT = 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n';

let same: [string, string];
let low: [string, string];
let medium: [string, string];
let high: [string, string];

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-diff-'));
  same = [file('same/old.yaml', reviews(90, 10, '    timeout: 1s')), file('same/new.yaml', reviews(90, 10, '    timeout: 1000ms'))];
  low = [file('low/old.yaml', SERVICE), file('low/new.yaml', SERVICE.replace('name: http', 'name: http-web'))];
  medium = [file('medium/old.yaml', reviews(90, 10)), file('medium/new.yaml', reviews(50, 50))];
  high = [file('high/old.yaml', STRICT), file('high/new.yaml', STRICT.replace('STRICT', 'PERMISSIVE'))];
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('exit codes are the same for every output format', () => {
  for (const format of ['text', 'json', 'yaml', 'github', 'markdown']) {
    test(`-o ${format}: 0 no change, 1 changes, 2 usage or input error`, () => {
      const none = meshctl(['diff', '-o', format, ...same]);
      assert.equal(none.code, 0, none.stderr);
      const some = meshctl(['diff', '-o', format, ...medium]);
      assert.equal(some.code, 1, some.stderr);
      const missing = meshctl(['diff', '-o', format, same[0], path.join(dir, 'nope.yaml')]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /nope\.yaml does not exist/);
      assert.equal(missing.stdout, '');
    });
  }
});

describe('--fail-on-risk', () => {
  const cases: [string, [string, string] | (() => [string, string]), number, number, number][] = [
    // change, then the exit code at --fail-on-risk high, medium, low
    ['low', () => low, 0, 0, 1],
    ['medium', () => medium, 0, 1, 1],
    ['high', () => high, 1, 1, 1],
  ];
  for (const [name, pair, atHigh, atMedium, atLow] of cases) {
    test(`a ${name}-risk change exits ${atHigh}/${atMedium}/${atLow} at high/medium/low`, () => {
      const paths = typeof pair === 'function' ? pair() : pair;
      for (const [threshold, expected] of [['high', atHigh], ['medium', atMedium], ['low', atLow]] as const) {
        const r = meshctl(['diff', '--fail-on-risk', threshold, ...paths]);
        assert.equal(r.code, expected, `--fail-on-risk ${threshold}: ${r.stderr}`);
      }
    });
  }
  test('no change exits 0 at any threshold; a bad threshold is a usage error', () => {
    assert.equal(meshctl(['diff', '--fail-on-risk', 'low', ...same]).code, 0);
    const bad = meshctl(['diff', '--fail-on-risk', 'severe', ...same]);
    assert.equal(bad.code, 2);
    assert.ok(!hasStackTrace(bad.stderr));
  });
});

describe('-o json', () => {
  const ajv = new Ajv.default({ strict: true, allErrors: true });
  const validate = ajv.compile(JSON.parse(readFileSync(path.join(ROOT, 'schemas', 'output', 'diff.json'), 'utf8')));

  test('is one document that validates against schemas/output/diff.json, for each kind of change', () => {
    for (const pair of [same, low, medium, high]) {
      const r = meshctl(['diff', '-o', 'json', ...pair]);
      const doc = JSON.parse(r.stdout);
      assert.ok(validate(doc), JSON.stringify(validate.errors));
    }
  });

  test('carries op, resource, risk, reasons and fields per change, the impact and the summary', () => {
    const doc = JSON.parse(meshctl(['diff', '--json', ...medium]).stdout);
    assert.equal(doc.changes.length, 1);
    const c = doc.changes[0];
    assert.deepEqual([c.op, c.resource.kind, c.resource.namespace, c.resource.name, c.risk], ['changed', 'VirtualService', 'default', 'reviews', 'medium']);
    assert.deepEqual(c.fields, [
      { path: '/spec/http/0/route/0/weight', from: 90, to: 50 },
      { path: '/spec/http/0/route/1/weight', from: 10, to: 50 },
    ]);
    assert.deepEqual(
      doc.impact.traffic[0].routes[0].shares.map((s: { destination: string; before: number; after: number }) => [s.destination, s.before, s.after]),
      [['reviews.default/v1', 90, 50], ['reviews.default/v2', 10, 50]],
    );
    assert.deepEqual(doc.summary.risk, { high: 0, medium: 1, low: 0 });
    const sec = JSON.parse(meshctl(['diff', '-o', 'json', ...high]).stdout);
    assert.deepEqual(sec.impact.security.map((s: { scope: string; before: string; after: string }) => [s.scope, s.before, s.after]), [['the mesh', 'STRICT', 'PERMISSIVE']]);
  });

  test('a schema-invalid input is diffed with a note on stderr, and stdout stays one JSON document', () => {
    const bad = reviews(50, 50).replace('weight: 50', 'weight: fifty');
    const r = meshctl(['diff', '-o', 'json', medium[0], file('invalid/new.yaml', bad)]);
    assert.equal(r.code, 1);
    assert.doesNotThrow(() => JSON.parse(r.stdout));
    assert.match(r.stderr, /^Note: NEW \(.*invalid\/new\.yaml\) does not pass validation: .*invalid\/new\.yaml:\d+/m);
  });
});

test('-o yaml is the same document as -o json', () => {
  const json = JSON.parse(meshctl(['diff', '-o', 'json', ...medium]).stdout);
  const yaml = loadYaml(meshctl(['diff', '-o', 'yaml', ...medium]).stdout);
  assert.deepEqual(yaml, json);
});

describe('-o text', () => {
  test('groups by host, then resource, with traffic before and after, and ends with a summary', () => {
    const r = meshctl(['diff', ...medium]);
    const lines = r.stdout.split('\n');
    const host = lines.indexOf('reviews.default');
    assert.ok(host > 0, r.stdout);
    assert.match(lines[host + 1]!, /^ {2}traffic$/);
    assert.match(lines[host + 2]!, /~ default route: v1 90%, v2 10% → v1 50%, v2 50%/);
    assert.ok(lines.some((l) => /^ {2}~ VirtualService default\/reviews changed {2}medium/.test(l)));
    assert.ok(lines.some((l) => l.includes('~ /spec/http/0/route/0/weight: 90 → 50')));
    assert.match(r.stdout, /1 change \(1 medium risk\): 0 added, 0 removed, 1 changed; 0 unchanged\.\n$/);
    assert.match(meshctl(['diff', ...same]).stdout, /No changes: 1 resource compared/);
  });

  test('colour only on a terminal (FORCE_COLOR=1 stands in for one here), never with NO_COLOR', () => {
    const run = (env: NodeJS.ProcessEnv) => {
      const clean = { ...process.env };
      delete clean.NO_COLOR;
      delete clean.FORCE_COLOR;
      return spawnSync(process.execPath, [BIN, 'diff', ...medium], { cwd: ROOT, env: { ...clean, ...env }, encoding: 'utf8' }).stdout;
    };
    assert.ok(!run({}).includes('\u001b['), 'no colour into a pipe');
    assert.ok(run({ FORCE_COLOR: '1' }).includes('\u001b[33m~\u001b[39m'), 'the change marker is coloured');
    assert.ok(!run({ FORCE_COLOR: '1', NO_COLOR: '1' }).includes('\u001b['), 'NO_COLOR wins');
  });
});

test('-o github annotates each change at its file and line, at a level by risk', () => {
  const r = meshctl(['diff', '-o', 'github', ...high]);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^::error file=.*high\/new\.yaml,line=1,title=meshctl diff%3A PeerAuthentication istio-system\/default changed \(high risk\)::mTLS is relaxed for the mesh/);
  assert.match(lines.at(-1)!, /^::notice title=meshctl diff::1 change \(1 high risk\)/);
  assert.match(meshctl(['diff', '-o', 'github', ...medium]).stdout, /^::warning /);
  assert.match(meshctl(['diff', '-o', 'github', ...low]).stdout, /^::notice file=/);
});

test('-o markdown is a table a pipeline can post on a pull request', () => {
  const r = meshctl(['diff', '-o', 'markdown', medium[0], high[0]]);
  assert.match(r.stdout, /^### meshctl diff\n\n2 changes/);
  assert.match(r.stdout, /\| Risk \| Change \| Resource \| Why \|\n\| --- \| --- \| --- \| --- \|\n/);
  assert.match(r.stdout, /\| \*\*low\*\* \| added \| PeerAuthentication istio-system\/default \| mTLS for the mesh changes PERMISSIVE → STRICT/);
  assert.match(r.stdout, /\| \*\*high\*\* \| removed \| VirtualService default\/reviews \| reviews.default loses its routes/);
  assert.match(r.stdout, /#### Traffic\n\n\| Host \| Route \| Before \| After \|\n\| --- \| --- \| --- \| --- \|\n\| reviews.default \| default \| v1 90%, v2 10% \| reviews.default 100% \|/);
  assert.match(r.stdout, /#### Security\n\n\| Risk \| Scope \| Setting \| Before \| After \| Resources \|/);
});

describe('inputs', () => {
  test('directories are compared resource by resource, whatever the files are called', () => {
    file('dirs/a/all.yaml', `${SERVICE}---\n${reviews(90, 10)}`);
    file('dirs/b/vs.yaml', reviews(90, 10));
    file('dirs/b/nested/svc.json', JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews' }, spec: { ports: [{ port: 9080, name: 'http' }] } }));
    const r = meshctl(['diff', path.join(dir, 'dirs/a'), path.join(dir, 'dirs/b')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('- reads one side from stdin; -n sets the namespace of resources that name none', () => {
    const r = meshctl(['diff', '-o', 'json', '-', medium[1]], { input: readFileSync(medium[0]) });
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).summary.old.label, '<stdin>');
    const ns = JSON.parse(meshctl(['diff', '-o', 'json', '-n', 'shop', ...medium]).stdout);
    assert.equal(ns.changes[0].resource.namespace, 'shop');
    assert.equal(meshctl(['diff', '-', '-'], { input: '' }).code, 2);
  });

  test('an unparseable input is exit 2, naming the file and line', () => {
    const broken = file('broken/new.yaml', `${SERVICE}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n`);
    const r = meshctl(['diff', '-o', 'json', low[0], broken]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Error: NEW cannot be read: .*broken\/new\.yaml:1[1-3]:\d+: YAML syntax error/);
    assert.ok(!hasStackTrace(r.stderr));
  });

  test('usage errors: one path, three paths, --base with --live', () => {
    assert.equal(meshctl(['diff', medium[0]]).code, 2);
    const three = meshctl(['diff', ...medium, low[0]]);
    assert.equal(three.code, 2);
    assert.match(three.stderr, /takes one OLD and one NEW/);
    assert.equal(meshctl(['diff', '--live', '--base', 'main', medium[1]]).code, 2);
  });
});

describe('--live [PATH...]: OLD is what the local mesh has applied', () => {
  let home: string;
  before(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'meshctl-diff-home-'));
    const layout = homeLayout(home);
    await writeMeshConfigFile(layout, {
      apiVersion: 'meshctl.dev/v1alpha1',
      kind: 'MeshConfig',
      createdAt: new Date().toISOString(),
      trustDomain: 'cluster.local',
      proxy: { runtime: 'haproxy', bin: 'haproxy', version: '0' },
      env: {},
      meshctlVersion: '0.0.0',
    });
    const applied = [reviews(90, 10), SERVICE, STRICT].map((t) => {
      const r = loadYaml(t) as { metadata: Record<string, unknown> };
      return { ...r, metadata: { namespace: 'default', ...r.metadata } } as never;
    });
    await commitRevision(layout, applied, [], 'apply');
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  test('with no mesh installed it says so, exit 3', () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'meshctl-diff-nohome-'));
    try {
      const r = meshctl(['diff', '--live', medium[1]], { env: { MESHCTL_HOME: empty } });
      assert.equal(r.code, 3);
      assert.match(r.stderr, /^Error: No mesh is installed at /);
      assert.equal(r.stdout, '');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('reports what applying the paths would change, leaving what they do not name alone', () => {
    const r = meshctl(['diff', '-o', 'json', '--live', medium[1]], { env: { MESHCTL_HOME: home } });
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(doc.changes.map((c: { op: string; resource: { kind: string } }) => [c.op, c.resource.kind]), [['changed', 'VirtualService']]);
    assert.equal(doc.changes[0].resource.old.file, '<mesh revision 1>');
    assert.equal(doc.summary.unchanged, 2, 'the Service and PeerAuthentication the file does not name are not removed');
    assert.equal(meshctl(['diff', '--live', '--home', home, medium[0]]).code, 0, 'the applied version is no change');
  });

  test('validate --live analyzes the applied policy with the files, naming a finding by the mesh revision', () => {
    const r = meshctl(['validate', '--live', '--home', home]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /mesh revision 1\/default\/VirtualService\/reviews:\d+:\d+ +error +IST0101 +Route subset v1 of host reviews/);
    const rule = file('live/destination-rule.yaml', 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n');
    const fixed = meshctl(['validate', '--live', '--home', home, rule]);
    assert.doesNotMatch(fixed.stdout, /IST0101/, `the file's DestinationRule defines the applied route's subsets: ${fixed.stdout}`);
  });
});

describe('--base REV [PATH...]: OLD from git, NEW from the working tree', () => {
  let repo: string;
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } });

  before(() => {
    repo = mkdtempSync(path.join(os.tmpdir(), 'meshctl-diff-git-'));
    git('init', '-q', '-b', 'main');
    mkdirSync(path.join(repo, 'policies'), { recursive: true });
    writeFileSync(path.join(repo, 'policies', 'reviews.yaml'), reviews(90, 10));
    writeFileSync(path.join(repo, 'policies', 'mesh.yaml'), STRICT);
    writeFileSync(path.join(repo, 'README.txt'), 'not policy\n');
    git('add', '.');
    git('commit', '-q', '-m', 'base');
    git('tag', 'v1');
    // The working tree: reviews split changed, the PeerAuthentication moved to another file unchanged.
    writeFileSync(path.join(repo, 'policies', 'reviews.yaml'), reviews(50, 50));
    rmSync(path.join(repo, 'policies', 'mesh.yaml'));
    writeFileSync(path.join(repo, 'policies', 'security.yaml'), STRICT);
  });
  after(() => rmSync(repo, { recursive: true, force: true }));

  test('reports what the working tree changes against the revision, without touching the checkout', () => {
    const status = git('status', '--porcelain');
    const r = meshctl(['diff', '-o', 'json', '--base', 'v1', 'policies/'], { cwd: repo });
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(doc.changes.map((c: { op: string; resource: { kind: string } }) => [c.op, c.resource.kind]), [['changed', 'VirtualService']]);
    assert.equal(doc.changes[0].resource.old.file, 'v1:policies/reviews.yaml');
    assert.equal(doc.changes[0].resource.new.file, 'policies/reviews.yaml');
    assert.equal(doc.summary.unchanged, 1, 'the PeerAuthentication moved to another file is no change');
    assert.equal(git('status', '--porcelain'), status);
  });

  test('paths default to the current directory, and work from a subdirectory', () => {
    assert.equal(meshctl(['diff', '--base', 'main'], { cwd: repo }).code, 1);
    const sub = meshctl(['diff', '-o', 'json', '--base', 'HEAD', '.'], { cwd: path.join(repo, 'policies') });
    assert.equal(sub.code, 1, sub.stderr);
    assert.equal(JSON.parse(sub.stdout).changes[0].resource.old.file, 'HEAD:reviews.yaml');
  });

  test('a directory that is new in the working tree compares against nothing', () => {
    mkdirSync(path.join(repo, 'extra'), { recursive: true });
    writeFileSync(path.join(repo, 'extra', 'svc.yaml'), SERVICE);
    const r = meshctl(['diff', '-o', 'json', '--base', 'v1', 'extra'], { cwd: repo });
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).changes.map((c: { op: string }) => c.op), ['added']);
    rmSync(path.join(repo, 'extra'), { recursive: true });
  });

  test('an unknown revision, a path in neither, and a directory outside git are usage errors', () => {
    const rev = meshctl(['diff', '--base', 'no-such-branch', 'policies'], { cwd: repo });
    assert.equal(rev.code, 2);
    assert.match(rev.stderr, /Revision no-such-branch is not known to git here/);
    const nowhere = meshctl(['diff', '--base', 'v1', 'nowhere'], { cwd: repo });
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.stderr, /Path nowhere exists neither in the working tree nor at v1/);
    const outside = mkdtempSync(path.join(os.tmpdir(), 'meshctl-diff-nogit-'));
    try {
      const r = meshctl(['diff', '--base', 'main', '.'], { cwd: outside, env: { GIT_CEILING_DIRECTORIES: path.dirname(outside) } });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /is not inside a git repository/);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('inputs that are not policy', () => {
  test('an OLD directory with no policy file is exit 2; with --allow-empty everything in NEW is added', () => {
    const empty = path.join(dir, 'empty-old');
    mkdirSync(empty, { recursive: true });
    const r = meshctl(['diff', empty, medium[1]]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), `Error: Directory ${empty} holds no policy file (.yaml, .yml or .json); check the path, or pass --allow-empty to accept it.`);
    const allowed = meshctl(['diff', '--allow-empty', '-o', 'json', empty, medium[1]]);
    assert.equal(allowed.code, 1, allowed.stderr);
    const report = JSON.parse(allowed.stdout) as { changes: { op: string }[] };
    assert.deepEqual(report.changes.map((c) => c.op), ['added']);
  });
  test('a device is refused with one sentence, not read without end', () => {
    const r = meshctl(['diff', '/dev/zero', medium[1]]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), 'Error: /dev/zero is a device, not a policy file; pass a file, a directory or - for stdin.');
  });
  test('NEW with an error meshctl finds itself (all-zero weights, MSH2002) gets the same note as a schema error', () => {
    const r = meshctl(['diff', medium[0], file('zero/new.yaml', reviews(0, 0))]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Note: NEW \(.*zero\/new\.yaml\) does not pass validation: 1 error, the first at .*new\.yaml:11: Route 0 of VirtualService reviews gives all 2 destinations weight 0, which Istio rejects/m);
  });
});
