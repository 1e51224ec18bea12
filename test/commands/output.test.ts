// The output contracts every command keeps: each -o json has a schema in schemas/output/, each -o json
// has an -o yaml that is the same document, and the commands that need no mesh hold to theirs here
// (the live commands are held to theirs in test/e2e, against a running mesh).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import { meshctl } from '../support/cli.js';
import { ROOT } from '../support/shared.js';
import { OUTPUT_SCHEMAS, jsonOutput } from '../support/output-schemas.js';

/** The contract of each command's -o json (commands that print the same result share one). */
const CONTRACT: Record<string, string> = {
  'addons:disable': 'addons',
  'addons:enable': 'addons',
  dashboard: 'dashboard',
  apply: 'apply',
  delete: 'apply',
  check: 'check',
  diff: 'diff',
  get: 'get',
  install: 'install',
  'proxy-status': 'proxy-status',
  status: 'status',
  top: 'top',
  trace: 'trace',
  uninstall: 'uninstall',
  validate: 'validate',
  'inspect:pod': 'inspect',
  'route:abort': 'route-control',
  'route:promote': 'route-control',
  'route:shift': 'route-shift-event',
  'route:status': 'route-status',
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-output-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface ManifestCommand {
  flags: Record<string, { options?: string[] }>;
}
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, ManifestCommand> };

test('every command with -o json has a schema in schemas/output/ and -o yaml beside it; logs alone prints no document', () => {
  const withJson = Object.entries(manifest.commands).filter(([, c]) => c.flags.output?.options?.includes('json')).map(([id]) => id).sort();
  assert.deepEqual(Object.keys(manifest.commands).filter((id) => !withJson.includes(id)), ['logs']);
  assert.deepEqual(withJson, Object.keys(CONTRACT).sort(), 'a command gained or lost -o json: give it a contract here and in schemas/output/');
  for (const id of withJson) {
    assert.ok(manifest.commands[id]!.flags.output!.options!.includes('yaml'), `${id} has -o json but no -o yaml`);
    assert.ok(existsSync(path.join(OUTPUT_SCHEMAS, `${CONTRACT[id]}.json`)), `schemas/output/${CONTRACT[id]}.json is missing for ${id}`);
  }
});

/** Runs `args` with -o json and with -o yaml: both exit alike, and the YAML is the JSON document. */
function sameDocument(args: string[], contract: string): { code: number; document: unknown } {
  const json = meshctl([...args, '-o', 'json']);
  const yaml = meshctl([...args, '-o', 'yaml']);
  assert.equal(yaml.code, json.code, yaml.stderr);
  const document = jsonOutput(contract, json.stdout);
  assert.deepEqual(load(yaml.stdout), document);
  return { code: json.code, document };
}

test('install --dry-run: the plan matches install.json, the same in YAML, and nothing is created', () => {
  const home = path.join(dir, 'planned');
  const { code, document } = sameDocument(['install', '--dry-run', '--home', home], 'install');
  assert.equal(code, 0);
  assert.equal((document as { status: string }).status, 'planned');
  assert.ok((document as { steps: unknown[] }).steps.length >= 4);
  assert.equal(existsSync(home), false);
});

test('uninstall where no mesh is installed: not-installed, matching uninstall.json, the same in YAML', () => {
  const { code, document } = sameDocument(['uninstall', '--yes', '--home', path.join(dir, 'none')], 'uninstall');
  assert.equal(code, 0);
  assert.deepEqual(document, { home: path.join(dir, 'none'), status: 'not-installed', stopped: [], keptState: false, removed: false });
});

test('check --pre: the checks match check.json, the same in YAML, and the exit code follows success', () => {
  const { code, document } = sameDocument(['check', '--pre', '--home', path.join(dir, 'pre')], 'check');
  const report = document as { success: boolean; categories: { categoryName: string }[] };
  assert.equal(code, report.success ? 0 : 1);
  assert.ok(report.categories.some((c) => c.categoryName === 'proxy runtime'));
});

test('check on a home with no mesh: exit 1, one failed check in check.json', () => {
  const { code, document } = sameDocument(['check', '--home', path.join(dir, 'absent')], 'check');
  assert.equal(code, 1);
  const failed = (document as { categories: { checks: { result: string; description: string }[] }[] }).categories.flatMap((c) => c.checks).filter((c) => c.result === 'error');
  assert.ok(failed.some((c) => c.description === 'the mesh is installed'), JSON.stringify(failed));
});

test('validate and diff print the same document in YAML as in JSON', () => {
  const old = path.join(dir, 'old.yaml');
  const next = path.join(dir, 'new.yaml');
  const route = (v1: number) => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: ${v1}\n    - destination: {host: reviews, subset: v2}\n      weight: ${100 - v1}\n`;
  writeFileSync(old, route(80));
  writeFileSync(next, route(50));
  const validate = sameDocument(['validate', next], 'validate');
  assert.ok((validate.document as { findings: unknown[] }).findings.length > 0, 'the route names subsets no DestinationRule defines');
  const diff = sameDocument(['diff', old, next], 'diff');
  assert.equal(diff.code, 1);
});

test('install --with prometheus --dry-run: the plan holds the addon\'s steps, matching install.json and addons.json', () => {
  const home = path.join(dir, 'planned-with');
  const { code, document } = sameDocument(['install', '--dry-run', '--with', 'prometheus', '--home', home], 'install');
  assert.equal(code, 0);
  const addons = (document as { addons?: { addon: string; status: string; steps: { description: string }[] }[] }).addons;
  assert.equal(addons?.[0]?.addon, 'prometheus');
  assert.equal(addons[0]!.status, 'planned');
  assert.match(addons[0]!.steps.map((s) => s.description).join('\n'), /Prometheus/);
  assert.equal(existsSync(home), false);
});

test('dashboard and addons where no mesh is installed: exit 3 with one sentence saying to install', () => {
  for (const args of [['dashboard', 'prometheus', '--url'], ['addons', 'enable', 'prometheus']]) {
    const r = meshctl([...args, '--home', path.join(dir, 'nothing')]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /No mesh is installed at .*; run meshctl install first/);
    assert.equal(existsSync(path.join(dir, 'nothing')), false);
  }
});
