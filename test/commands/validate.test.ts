import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, chmodSync, mkdirSync, readFileSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv from 'ajv/dist/2020.js';
import { meshctl, hasStackTrace } from '../support/cli.js';
import { ROOT } from '../support/shared.js';

let dir: string;
const file = (name: string, content: string | Buffer): string => {
  const p = path.join(dir, name);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
};

// A Service at an unknown API version: an error finding on line 1 (apiVersion), from the loader alone.
const BAD_VERSION = 'apiVersion: v2\nkind: Service\nmetadata:\n  name: reviews\n';
const CLEAN = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\nspec:\n  selector: {app: reviews}\n  ports:\n  - name: http\n    port: 9080\n';
// Weights summing to 90: a warning (meshctl.RouteWeights).
const WEIGHTS_90 = [
  'apiVersion: networking.istio.io/v1',
  'kind: VirtualService',
  'metadata:',
  '  name: reviews',
  'spec:',
  '  hosts: [reviews]',
  '  http:',
  '  - route:',
  '    - destination: {host: reviews, subset: v1}',
  '      weight: 60',
  '    - destination: {host: reviews, subset: v2}',
  '      weight: 30',
  '',
].join('\n');

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-validate-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('exit codes are the same for every output format', () => {
  for (const format of ['text', 'json', 'yaml', 'sarif', 'github']) {
    test(`-o ${format}: 0 clean, 1 error finding, 2 missing path`, () => {
      assert.equal(meshctl(['validate', '-o', format, file('clean.yaml', CLEAN)]).code, 0);
      const bad = meshctl(['validate', '-o', format, file('bad.yaml', BAD_VERSION)]);
      assert.equal(bad.code, 1, bad.stderr);
      const missing = meshctl(['validate', '-o', format, path.join(dir, 'nope.yaml')]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /nope\.yaml does not exist/);
      assert.equal(missing.stdout, '');
    });
  }
});

describe('--fail-on', () => {
  test('a warning fails only at --fail-on warning or info', () => {
    const p = file('weights.yaml', WEIGHTS_90);
    const args = ['validate', '--analyzer', 'meshctl.RouteWeights', p];
    assert.equal(meshctl(args).code, 0);
    assert.equal(meshctl([...args, '--fail-on', 'warning']).code, 1);
    assert.equal(meshctl([...args, '--fail-on', 'info']).code, 1);
    assert.equal(meshctl([...args, '-o', 'json', '--fail-on', 'warning']).code, 1);
  });
  test('--fail-on none exits 0 even with errors', () => {
    assert.equal(meshctl(['validate', '--fail-on', 'none', file('bad.yaml', BAD_VERSION)]).code, 0);
  });
  test('an unknown --fail-on value is a usage error', () => {
    const r = meshctl(['validate', '--fail-on', 'fatal', file('clean.yaml', CLEAN)]);
    assert.equal(r.code, 2);
    assert.ok(!hasStackTrace(r.stderr));
  });
});

describe('output formats', () => {
  test('-o json prints exactly one document that matches schemas/output/validate.json', () => {
    const r = meshctl(['validate', '-o', 'json', file('bad.yaml', BAD_VERSION), file('clean.yaml', CLEAN)]);
    const doc = JSON.parse(r.stdout) as { summary: { files: number; resources: number }; findings: Record<string, unknown>[] };
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'schemas/output/validate.json'), 'utf8'));
    const ajv = new Ajv.default({ allErrors: true });
    assert.ok(ajv.validate(schema, doc), JSON.stringify(ajv.errors));
    assert.equal(doc.summary.files, 2);
    assert.equal(doc.summary.resources, 2);
    const f = doc.findings.find((x) => x.code === 'MSH1021')!;
    assert.equal(f.line, 1);
    assert.equal(f.column, 1);
    assert.equal(f.path, '/apiVersion');
    assert.deepEqual(f.resource, { apiVersion: 'v2', kind: 'Service', namespace: 'default', name: 'reviews' });
    assert.equal(r.stderr, '');
  });
  test('--json is -o json', () => {
    const r = meshctl(['validate', '--json', file('bad.yaml', BAD_VERSION)]);
    assert.equal(JSON.parse(r.stdout).findings[0].code, 'MSH1021');
  });
  test('-o yaml carries the same findings', () => {
    const r = meshctl(['validate', '-o', 'yaml', file('bad.yaml', BAD_VERSION)]);
    assert.match(r.stdout, /code: MSH1021/);
    assert.match(r.stdout, /line: 1/);
  });
  test('-o sarif is SARIF 2.1.0 with rules from the catalog and the finding at its line', () => {
    const r = meshctl(['validate', '-o', 'sarif', file('bad.yaml', BAD_VERSION)]);
    const sarif = JSON.parse(r.stdout);
    assert.equal(sarif.version, '2.1.0');
    const run = sarif.runs[0];
    assert.equal(run.tool.driver.name, 'meshctl');
    assert.ok(run.tool.driver.rules.some((rule: { id: string }) => rule.id === 'IST0101'));
    const result = run.results[0];
    assert.equal(result.ruleId, 'MSH1021');
    assert.equal(run.tool.driver.rules[result.ruleIndex].id, 'MSH1021');
    assert.equal(result.level, 'error');
    assert.equal(result.locations[0].physicalLocation.region.startLine, 1);
    assert.match(result.locations[0].physicalLocation.artifactLocation.uri, /bad\.yaml$/);
  });
  test('-o github prints workflow annotations', () => {
    const r = meshctl(['validate', '-o', 'github', file('bad.yaml', BAD_VERSION)]);
    assert.match(r.stdout, /^::error file=[^,]*bad\.yaml,line=1,col=1,title=MSH1021 UnknownApiVersion::.+$/m);
  });
  test('-o text shows file:line:col, the source line with a caret, the namespace read, and no colour off a terminal', () => {
    const p = file('bad.yaml', BAD_VERSION);
    const r = meshctl(['validate', p], { cwd: dir });
    assert.match(r.stdout, /bad\.yaml \(resources without a namespace read as namespace default\)/);
    assert.match(r.stdout, /bad\.yaml:1:1 {2}error {2}MSH1021 /);
    assert.match(r.stdout, /1 \| apiVersion: v2\n\s+\| \^/);
    assert.doesNotMatch(r.stdout, /\u001b\[/);
    assert.match(r.stdout, /1 file, 1 resource: 1 error, 0 warnings, 0 info/);
  });
  test('-n sets the namespace of resources that name none, and the text says so', () => {
    const r = meshctl(['validate', '-n', 'shop', '-o', 'json', file('bad.yaml', BAD_VERSION)]);
    assert.equal(JSON.parse(r.stdout).findings[0].resource.namespace, 'shop');
    assert.match(meshctl(['validate', '-n', 'shop', file('clean.yaml', CLEAN)]).stdout, /read as namespace shop/);
  });
  test('JSON input gets exact lines too', () => {
    const json = JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' } }, null, 2) + '\n' +
      '';
    const p = file('svc.json', json.replace('"apiVersion": "v1"', '"apiVersion": "v9"'));
    const r = JSON.parse(meshctl(['validate', '-o', 'json', p]).stdout);
    assert.equal(r.findings[0].code, 'MSH1021');
    assert.equal(r.findings[0].line, 2);
    assert.equal(r.findings[0].column, 3);
  });
  test('stdin is read for -', () => {
    const r = meshctl(['validate', '-o', 'json', '-'], { input: BAD_VERSION });
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.findings[0].file, '<stdin>');
    assert.equal(r.code, 1);
  });
  test('directories are read recursively, .yaml .yml .json only', () => {
    file('tree/a.yaml', CLEAN);
    file('tree/sub/b.yml', CLEAN.replace('reviews', 'ratings').replace('reviews', 'ratings'));
    file('tree/sub/deeper/c.json', JSON.stringify({ apiVersion: 'v2', kind: 'Service', metadata: { name: 'x' } }));
    file('tree/notes.txt', 'not policy');
    const r = JSON.parse(meshctl(['validate', '-o', 'json', path.join(dir, 'tree')]).stdout);
    assert.equal(r.summary.files, 3);
    assert.equal(r.summary.resources, 3);
  });
});

describe('bad input: a finding or one sentence with the documented exit code, never a stack trace', () => {
  const expectFinding = (name: string, content: string | Buffer, code: string, line: number, extraArgs: string[] = []) => {
    const r = meshctl(['validate', '-o', 'json', ...extraArgs, file(name, content)]);
    assert.ok(!hasStackTrace(r.stderr), r.stderr);
    const doc = JSON.parse(r.stdout);
    const f = doc.findings.find((x: { code: string }) => x.code === code);
    assert.ok(f, `expected ${code} in ${r.stdout}`);
    assert.equal(f.line, line, `${code} line`);
    return { r, doc, f };
  };
  test('empty file: an info finding, exit 0', () => {
    const { r, f } = expectFinding('empty.yaml', '', 'MSH1005', 1);
    assert.equal(f.severity, 'info');
    assert.equal(r.code, 0);
  });
  test('binary file', () => {
    const { r } = expectFinding('bin.yaml', Buffer.from([0x61, 0x3a, 0x0a, 0x00, 0x01, 0x02]), 'MSH1002', 2);
    assert.equal(r.code, 1);
    // The text output shows no source line for a file that is not text.
    const text = meshctl(['validate', file('bin.yaml', Buffer.from([0x61, 0x3a, 0x0a, 0x00, 0x01, 0x02]))]);
    assert.match(text.stdout, /MSH1002/);
    assert.doesNotMatch(text.stdout, /\|\s*\^/);
  });
  test('invalid UTF-8', () => {
    expectFinding('latin1.yaml', Buffer.concat([Buffer.from('apiVersion: v1\nkind: Service\nmetadata:\n  name: caf'), Buffer.from([0xe9, 0x0a])]), 'MSH1003', 4);
  });
  test('YAML syntax error: finding at its line, other documents still checked', () => {
    const text = `${BAD_VERSION}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [broken\n---\n${BAD_VERSION.replace('reviews', 'other')}`;
    const { doc } = expectFinding('syntax.yaml', text, 'MSH1006', 10);
    assert.equal(doc.findings.filter((x: { code: string }) => x.code === 'MSH1021').length, 2);
  });
  test('duplicate keys name the key', () => {
    const { f } = expectFinding('dup.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n', 'MSH1007', 5);
    assert.match(f.message, /"name"/);
  });
  test('every duplicate key of a document is reported, in YAML and in JSON', () => {
    const yaml = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\nspec:\n  type: ClusterIP\n  type: NodePort\n';
    const { doc } = expectFinding('dups.yaml', yaml, 'MSH1007', 5);
    assert.deepEqual(doc.findings.filter((x: { code: string }) => x.code === 'MSH1007').map((x: { line: number; message: string }) => [x.line, /"(\w+)"/.exec(x.message)?.[1]]), [[5, 'name'], [8, 'type']]);
    const json = '{\n  "apiVersion": "v1",\n  "kind": "Service",\n  "metadata": {"name": "a"},\n  "spec": {\n    "type": "ClusterIP",\n    "type": "NodePort"\n  }\n}\n';
    const { f, r } = expectFinding('dup.json', json, 'MSH1007', 7);
    assert.equal(f.column, 5);
    assert.match(f.message, /"type"/);
    assert.equal(r.code, 1);
  });
  test('an alias bomb is refused without expanding it', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`);
    }
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
    const { r } = expectFinding('bomb.yaml', text, 'MSH1009', 1);
    assert.equal(r.code, 1);
  });
  test('500-level nesting', () => {
    let text = 'apiVersion: v1\nkind: Service\nmetadata: {name: deep}\nspec: ';
    text += '{a: '.repeat(500) + '1' + '}'.repeat(500) + '\n';
    const { f } = expectFinding('deep.yaml', text, 'MSH1008', 4);
    assert.match(f.message, /deeper than/);
  });
  test('500-level nesting in JSON', () => {
    const text = `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "deep"},\n "spec": ${'{"a": '.repeat(500)}1${'}'.repeat(500)}}\n`;
    const { f, r } = expectFinding('deep.json', text, 'MSH1008', 2);
    assert.match(f.message, /deeper than/);
    assert.equal(r.code, 1);
  });
  test('a file of 150,000 small documents is read whole', () => {
    const text = Array.from({ length: 150_000 }, (_, i) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ns-${i}}\n`).join('---\n');
    const r = meshctl(['validate', '-o', 'json', file('many.yaml', text)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).summary.resources, 150_000);
  });
  test('thousands of findings in one document each point at their own line', () => {
    // A kubectl-style List of Services whose ports have no name: one finding per item.
    const items = Array.from({ length: 3000 }, (_, i) => `- apiVersion: v1\n  kind: Service\n  metadata: {name: s${i}}\n  spec:\n    ports:\n    - port: 80\n`);
    const r = meshctl(['validate', '-o', 'json', '--analyzer', 'service.PortNameAnalyzer', file('svc-list.yaml', `apiVersion: v1\nkind: List\nitems:\n${items.join('')}`)]);
    const found = JSON.parse(r.stdout).findings as { resource: { name: string }; line: number }[];
    assert.equal(found.length, 3000);
    // Item i starts at line 4 + 6i; its port is on the item's sixth line.
    for (const f of found) assert.equal(f.line, 4 + 6 * Number(f.resource.name.slice(1)) + 5, f.resource.name);
  });
  test('a 50 MB file is refused by size, without reading it', () => {
    const p = path.join(dir, 'huge.yaml');
    const fd = openSync(p, 'w');
    ftruncateSync(fd, 50 * 1024 * 1024);
    closeSync(fd);
    const r = meshctl(['validate', '-o', 'json', p]);
    const f = JSON.parse(r.stdout).findings[0];
    assert.equal(f.code, 'MSH1004');
    assert.match(f.message, /--max-file-size/);
    assert.equal(r.code, 1);
    rmSync(p);
  });
  test('a scalar or a list where a resource is expected', () => {
    expectFinding('scalar.yaml', 'just a string\n', 'MSH1010', 1);
    expectFinding('list.yaml', `${CLEAN}---\n- a\n- b\n`, 'MSH1010', 11);
  });
  test('a List without items says so', () => {
    const { f } = expectFinding('emptylist.yaml', 'apiVersion: v1\nkind: List\n', 'MSH1011', 1);
    assert.match(f.message, /no items/);
  });
  test('missing apiVersion, kind or metadata.name', () => {
    expectFinding('noversion.yaml', 'kind: Service\nmetadata: {name: a}\n', 'MSH1011', 1);
    expectFinding('nokind.yaml', `${CLEAN}---\napiVersion: v1\nmetadata: {name: a}\n`, 'MSH1011', 11);
    const { f } = expectFinding('noname.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  labels: {a: b}\n', 'MSH1011', 3);
    assert.match(f.message, /metadata\.name/);
  });
  test('unknown kinds: info, once per kind', () => {
    const widget = (n: string, v = 'v1') => `apiVersion: example.com/${v}\nkind: Widget\nmetadata: {name: ${n}}\n`;
    const { doc, r } = expectFinding('widgets.yaml', `${widget('a')}---\n${widget('b')}---\n${widget('c', 'v2')}`, 'MSH1020', 2);
    assert.equal(doc.findings.filter((x: { code: string }) => x.code === 'MSH1020').length, 1);
    assert.equal(r.code, 0);
  });
  test('a path that does not exist: exit 2, one sentence', () => {
    const r = meshctl(['validate', path.join(dir, 'missing')]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.ok(!hasStackTrace(r.stderr));
  });
  test('a file without read permission: exit 2, one sentence', () => {
    const p = file('secret.yaml', CLEAN);
    chmodSync(p, 0o000);
    chmodSync(dir, 0o755);
    const asRoot = process.getuid?.() === 0;
    const r = meshctl(['validate', p], asRoot ? { asUser: 65534, cwd: '/' } : {});
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /permission denied/);
    assert.ok(!hasStackTrace(r.stderr));
    chmodSync(p, 0o644);
  });
  test('--json with another -o is a usage error', () => {
    const r = meshctl(['validate', '--json', '-o', 'yaml', file('clean.yaml', CLEAN)]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--json and -o yaml/);
    assert.equal(r.stdout, '');
  });
  test('no paths at all is a usage error', () => {
    const r = meshctl(['validate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /No policy paths given/);
  });
  test('an unknown analyzer name is a usage error naming the flag', () => {
    const r = meshctl(['validate', '--analyzer', 'nope.Analyzer', file('clean.yaml', CLEAN)]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--analyzer/);
  });
});

test('meshctl --version answers without the CLI framework', () => {
  const r = meshctl(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^meshctl\/\d+\.\d+\.\d+ \S+ node-v\d+/);
});

describe('paths that yield no policy file', () => {
  test('a directory without .yaml, .yml or .json files is exit 2; --allow-empty accepts it, on both flag parsers', () => {
    const empty = path.join(dir, 'no-policies');
    mkdirSync(empty, { recursive: true });
    writeFileSync(path.join(empty, 'README.txt'), 'not policy\n');
    const r = meshctl(['validate', empty]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), `Error: Directory ${empty} holds no policy file (.yaml, .yml or .json); check the path, or pass --allow-empty to accept it.`);
    const allowed = meshctl(['validate', '--allow-empty', empty]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /0 files, 0 resources/);
    // A short flag with its value attached (-ojson) is left to oclif's parser, which must know the flag too.
    const viaOclif = meshctl(['validate', '--allow-empty', '-ojson', empty]);
    assert.equal(viaOclif.code, 0, viaOclif.stderr);
    assert.equal(JSON.parse(viaOclif.stdout).summary.files, 0);
    // One good path does not hide a mistyped one.
    assert.equal(meshctl(['validate', file('clean.yaml', CLEAN), empty]).code, 2);
  });
});
