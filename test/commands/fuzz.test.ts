// Seeded mutants of istioctl's analyzer corpus and of the examples, through validate and diff: whatever the
// input, the exit code is 0, 1 or 2 and the same for text and JSON, -o json prints one JSON document that
// holds to the command's schema, and nothing prints a stack trace. Most mutants run in this process through the commands' own code paths; a
// few run through the real binary. The run is bounded in mutants and in time.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dump, loadAll } from 'js-yaml';
import { runValidate } from '../../src/lib/cli/validate-run.js';
import type { ValidateFlags } from '../../src/lib/cli/validate-flags.js';
import { diffPolicy } from '../../src/lib/policy/diff/index.js';
import * as diffOutput from '../../src/lib/output/diff.js';
import { render } from '../../src/lib/output/render.js';
import { MeshctlError } from '../../src/lib/errors.js';
import { hasStackTrace, meshctlAsync } from '../support/cli.js';
import { inPool } from '../support/measured.js';
import { assertOutput } from '../support/output-schemas.js';
import { ROOT, SHARED } from '../support/shared.js';

// MESHCTL_FUZZ_SEED and MESHCTL_FUZZ_MUTANTS explore further than the suite's run; the defaults are the suite's.
const SEED = Number(process.env.MESHCTL_FUZZ_SEED ?? 0x5eed17);
const MUTANTS = Number(process.env.MESHCTL_FUZZ_MUTANTS ?? 300);
/** Mutants stop being generated after this long, so a busy machine shortens the run rather than lengthens it. */
const BUDGET_MS = Number(process.env.MESHCTL_FUZZ_BUDGET_MS ?? 20_000);
/** Fewer than this many in-process mutants would not be a fuzz run worth the name. */
const MIN_MUTANTS = 40;
const BINARY_MUTANTS = 2;

/** mulberry32: small, fast, and the same sequence everywhere for one seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Seed {
  name: string;
  bytes: Buffer;
  json: boolean;
}

function seedsUnder(dir: string, out: Seed[]): void {
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) seedsUnder(full, out);
    else if (/\.(ya?ml|json)$/.test(name)) out.push({ name: path.relative(path.dirname(ROOT), full), bytes: readFileSync(full), json: name.endsWith('.json') });
  }
}

const KINDS = ['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'Sidecar', 'AuthorizationPolicy', 'PeerAuthentication', 'HTTPRoute', 'Service', 'Pod', 'Deployment', 'Secret', 'Namespace', 'Workload', 'List', 'Bogus'];
const VALUES: unknown[] = [null, true, 0, -1, 1e300, 'x', '', [], {}, [1, 'a', null], { a: { b: [] } }, '0xff', '1s', '-5ms', 'ISTIO_MUTUAL', 65536, 3.5];

type Mutation = (bytes: Buffer, pick: Picker) => Buffer;

interface Picker {
  int(n: number): number;
  of<T>(list: readonly T[]): T;
}

function yamlDocuments(bytes: Buffer): unknown[] | undefined {
  try {
    return loadAll(bytes.toString('utf8')).filter((d) => d !== null && d !== undefined);
  } catch {
    return undefined;
  }
}

function emit(docs: unknown[], json: boolean): Buffer {
  if (json) return Buffer.from(JSON.stringify(docs.length === 1 ? docs[0] : { apiVersion: 'v1', kind: 'List', items: docs }));
  return Buffer.from(docs.map((d) => dump(d, { noRefs: true, lineWidth: -1 })).join('---\n'));
}

/** A random place in a document: the parent object or array and the key, or undefined for an empty one. */
function somePlace(doc: unknown, pick: Picker): { parent: Record<string, unknown> | unknown[]; key: string | number } | undefined {
  let parent: Record<string, unknown> | unknown[] | undefined;
  let key: string | number | undefined;
  let node = doc;
  for (let depth = 0; depth < 8 && node !== null && typeof node === 'object'; depth++) {
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    if (keys.length === 0) break;
    parent = node as Record<string, unknown> | unknown[];
    key = pick.of(keys);
    node = (parent as Record<string, unknown>)[key as string];
    if (pick.int(4) === 0) break;
  }
  return parent === undefined ? undefined : { parent, key: key! };
}

/** YAML aliases (`*name`): a generator re-writing such a file would expand them, which is meshctl's job to refuse. */
const ALIAS = /(^|[\s[,{:-])\*[A-Za-z0-9_]/m;

function onDocuments(change: (docs: unknown[], pick: Picker) => void, json = false): Mutation {
  return (bytes, pick) => {
    const docs = ALIAS.test(bytes.toString('utf8')) ? undefined : yamlDocuments(bytes);
    if (!docs || docs.length === 0) return byteFlips(bytes, pick);
    change(docs, pick);
    return emit(docs, json);
  };
}

function setAt(docs: unknown[], pick: Picker, value: () => unknown): void {
  const place = somePlace(pick.of(docs), pick);
  if (place) (place.parent as Record<string, unknown>)[place.key as string] = value();
}

function nested(depth: number, pick: Picker): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = pick.int(2) ? [value] : { spec: value };
  return value;
}

const byteFlips: Mutation = (bytes, pick) => {
  const out = Buffer.from(bytes);
  if (out.length === 0) return Buffer.from([pick.int(256)]);
  for (let i = 1 + pick.int(8); i > 0; i--) out[pick.int(out.length)] ^= 1 << pick.int(8);
  return out;
};

const MUTATIONS: Record<string, Mutation> = {
  'byte flips': byteFlips,
  truncation: (bytes, pick) => bytes.subarray(0, pick.int(bytes.length + 1)),
  'invalid UTF-8': (bytes, pick) => {
    const at = pick.int(bytes.length + 1);
    return Buffer.concat([bytes.subarray(0, at), Buffer.from(pick.of([[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0x00]])), bytes.subarray(at)]);
  },
  'type swap': onDocuments((docs, pick) => setAt(docs, pick, () => structuredClone(pick.of(VALUES)))),
  'deep nesting': onDocuments((docs, pick) => setAt(docs, pick, () => nested(pick.of([40, 120, 300]), pick))),
  // Deeper than a generator can write through js-yaml: the nesting is written as text.
  'deep flow nesting': (bytes, pick) => {
    const depth = pick.of([300, 3_000, 30_000]);
    return Buffer.concat([bytes, Buffer.from(`\n---\napiVersion: v1\nkind: Service\nmetadata: {name: deep}\nspec: ${'['.repeat(depth)}${']'.repeat(depth)}\n`)]);
  },
  'huge string': onDocuments((docs, pick) => setAt(docs, pick, () => 'h'.repeat(pick.of([70_000, 400_000, 1_500_000])))),
  'huge name': onDocuments((docs, pick) => {
    const doc = pick.of(docs) as Record<string, unknown>;
    if (doc && typeof doc === 'object') doc.metadata = { ...(doc.metadata as object), name: 'n'.repeat(pick.of([300, 200_000])) };
  }),
  aliases: (bytes, pick) => {
    const width = pick.of([3, 10]);
    const levels = pick.of([3, 6, 9]);
    const lines = ['apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata: {name: laughs}', 'spec:', `  l0: &l0 [${Array(width).fill('"lol"').join(', ')}]`];
    for (let i = 1; i < levels; i++) lines.push(`  l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(', ')}]`);
    lines.push(`  hosts: *l${levels - 1}`);
    return Buffer.concat([bytes, Buffer.from(`\n---\n${lines.join('\n')}\n`)]);
  },
  duplicates: (bytes, pick) =>
    onDocuments((docs) => {
      // Copies of a large document are capped at a few MB of input.
      const copies = Math.min(pick.of([2, 50, 400]), Math.max(1, Math.floor(4_000_000 / Math.max(1, bytes.length))));
      const chosen = pick.of(docs);
      for (let i = 0; i < copies; i++) docs.push(structuredClone(chosen));
    })(bytes, pick),
  // Many resources alike but for their names: the conflict analyzers' groups.
  'near-identical copies': (bytes, pick) =>
    onDocuments((docs) => {
      const copies = Math.min(pick.of([20, 300, 1_500]), Math.max(1, Math.floor(4_000_000 / Math.max(1, bytes.length))));
      const chosen = pick.of(docs) as Record<string, unknown>;
      if (!chosen || typeof chosen !== 'object') return;
      for (let i = 0; i < copies; i++) {
        const copy = structuredClone(chosen);
        copy.metadata = { ...(copy.metadata as object), name: `copy-${i}` };
        docs.push(copy);
      }
    })(bytes, pick),
  'duplicate keys': (bytes, pick) => {
    const lines = bytes.toString('utf8').split('\n');
    const at = pick.int(lines.length);
    lines.splice(at, 0, lines[at] ?? 'kind: Service');
    return Buffer.from(lines.join('\n'));
  },
  'swapped kinds': onDocuments((docs, pick) => {
    for (const doc of docs) if (doc && typeof doc === 'object' && pick.int(2)) (doc as Record<string, unknown>).kind = pick.of(KINDS);
  }),
  'as JSON': onDocuments((docs, pick) => setAt(docs, pick, () => structuredClone(pick.of(VALUES))), true),
  'not a mapping': (bytes, pick) => Buffer.from(pick.of(['- a\n- b\n', '42\n', '"text"\n', '[1, {"a": 2}]', 'null\n', '---\n---\n', '{"kind": "List", "items": 3}', '\ufeffkind: Service\n'])),
};

interface Mutant {
  id: number;
  seed: Seed;
  how: string;
  bytes: Buffer;
  json: boolean;
}

function* mutants(seeds: Seed[]): Generator<Mutant> {
  const rand = random(SEED);
  const pick: Picker = { int: (n) => Math.floor(rand() * n), of: (list) => list[Math.floor(rand() * list.length)]! };
  const names = Object.keys(MUTATIONS);
  for (let id = 0; id < MUTANTS; id++) {
    const seed = pick.of(seeds);
    const first = names[id % names.length]!;
    let bytes = MUTATIONS[first]!(seed.bytes, pick);
    let how = first;
    // Every third mutant gets a second mutation on top of the first.
    if (id % 3 === 2) {
      const second = pick.of(names);
      bytes = MUTATIONS[second]!(bytes, pick);
      how += ` + ${second}`;
    }
    yield { id, seed, how, bytes, json: how.includes('as JSON') };
  }
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** The exit code and output of a command run in this process; an error that is not meshctl's own is a crash. */
async function inProcess(run: () => Promise<number>): Promise<Outcome> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const realOut = process.stdout.write;
  const realErr = process.stderr.write;
  const capture = (into: string[]) =>
    function (chunk: unknown, ...rest: unknown[]): boolean {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    };
  process.stdout.write = capture(stdout) as typeof process.stdout.write;
  process.stderr.write = capture(stderr) as typeof process.stderr.write;
  try {
    const code = await run();
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  } catch (err) {
    if (err instanceof MeshctlError) return { code: err.exitCode, stdout: stdout.join(''), stderr: `${stderr.join('')}Error: ${err.message}\n` };
    const detail = err instanceof Error ? err.stack ?? err.message : String(err);
    return { code: -1, stdout: stdout.join(''), stderr: `${stderr.join('')}${detail}\n` };
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
}

const VALIDATE_FLAGS = (output: 'text' | 'json'): ValidateFlags => ({ output, json: false, 'fail-on': 'error', 'max-file-size': 32 });

function validateIn(file: string, output: 'text' | 'json'): Promise<Outcome> {
  return inProcess(() => runValidate([file], VALIDATE_FLAGS(output), '0.0.0'));
}

/** diff as its command runs it: notes on stderr, the report on stdout, 1 when anything changed. */
function diffIn(oldPath: string, newPath: string, output: 'text' | 'json'): Promise<Outcome> {
  return inProcess(async () => {
    const outcome = await diffPolicy({ old: oldPath, new: newPath, paths: [oldPath, newPath], maxFileBytes: 32 * 1024 * 1024 });
    for (const note of outcome.notes) process.stderr.write(`Note: ${note}\n`);
    await render(output, { document: outcome.report, text: () => diffOutput.renderText(outcome.report, { color: false }) });
    return outcome.report.changes.length > 0 ? 1 : 0;
  });
}

/** What breaks the contract in a text and a JSON run of one command on one input; empty when nothing does. */
function breaches(command: 'validate' | 'diff', text: Outcome, json: Outcome): string[] {
  const out: string[] = [];
  for (const [format, r] of [['text', text], ['json', json]] as const) {
    if (![0, 1, 2].includes(r.code)) out.push(`${format} exit ${r.code}: ${r.stderr.slice(0, 600)}`);
    if (hasStackTrace(r.stderr)) out.push(`${format} stack trace: ${r.stderr.slice(0, 600)}`);
  }
  if (text.code !== json.code) out.push(`text exits ${text.code}, json ${json.code}`);
  if (json.code !== 2) {
    try {
      assertOutput(command, JSON.parse(json.stdout));
    } catch (err) {
      out.push(`-o json is not one JSON document of schemas/output/${command}.json (${(err as Error).message.slice(0, 300)}): ${json.stdout.slice(0, 200)}`);
    }
  } else if (json.stdout.trim() !== '') {
    try {
      JSON.parse(json.stdout);
    } catch {
      out.push(`an input error left output on stdout: ${json.stdout.slice(0, 200)}`);
    }
  }
  return out;
}

let dir: string;
let seeds: Seed[];

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-fuzz-'));
  seeds = [];
  seedsUnder(path.join(SHARED, 'conformance', 'istio-analyze', 'testdata'), seeds);
  seedsUnder(path.join(ROOT, 'examples'), seeds);
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(m: Mutant): { mutant: string; original: string } {
  const ext = m.json ? 'json' : 'yaml';
  const mutant = path.join(dir, `mutant-${m.id}.${ext}`);
  const original = path.join(dir, `original-${m.id}.${m.seed.json ? 'json' : 'yaml'}`);
  writeFileSync(mutant, m.bytes);
  writeFileSync(original, m.seed.bytes);
  return { mutant, original };
}

describe('fuzzed policy files', () => {
  test('the corpora give over a hundred seeds', () => {
    assert.ok(seeds.length > 100, `${seeds.length} seeds`);
  });

  test('validate and diff keep the contract on every mutant, in process', async (t) => {
    const started = Date.now();
    const failures: string[] = [];
    const tried = new Map<string, number>();
    const slowest: { label: string; ms: number }[] = [];
    let count = 0;
    for (const m of mutants(seeds)) {
      if (Date.now() - started > BUDGET_MS) break;
      count++;
      tried.set(m.how.split(' + ')[0]!, (tried.get(m.how.split(' + ')[0]!) ?? 0) + 1);
      const { mutant, original } = write(m);
      const label = `mutant ${m.id} (${m.how} of ${m.seed.name})`;
      const mutantStarted = Date.now();
      for (const problem of breaches('validate', await validateIn(mutant, 'text'), await validateIn(mutant, 'json'))) failures.push(`validate ${label}: ${problem}`);
      // diff both ways: the mutant as NEW (a change under review), and as OLD.
      const [oldPath, newPath] = m.id % 2 ? [mutant, original] : [original, mutant];
      for (const problem of breaches('diff', await diffIn(oldPath, newPath, 'text'), await diffIn(oldPath, newPath, 'json'))) failures.push(`diff ${label}: ${problem}`);
      rmSync(mutant);
      rmSync(original);
      slowest.push({ label, ms: Date.now() - mutantStarted });
    }
    slowest.sort((a, b) => b.ms - a.ms);
    t.diagnostic(`slowest: ${slowest.slice(0, 3).map((s) => `${s.label} ${s.ms} ms`).join('; ')}`);
    t.diagnostic(`${count} mutants in ${((Date.now() - started) / 1000).toFixed(1)} s: ${[...tried].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    assert.deepEqual(failures.slice(0, 10), []);
    assert.ok(count >= MIN_MUTANTS, `only ${count} mutants ran within ${BUDGET_MS} ms`);
  });

  test('the real binary keeps the contract on a sample of mutants', async () => {
    const sample = [...mutants(seeds)].filter((m) => m.id % Math.floor(MUTANTS / BINARY_MUTANTS) === 1).slice(0, BINARY_MUTANTS);
    const failures: string[] = [];
    const jobs = sample.map((m) => async () => {
      const { mutant, original } = write(m);
      const run = async (args: string[]): Promise<Outcome> => meshctlAsync(args, { timeoutMs: 60_000 });
      const label = `mutant ${m.id} (${m.how} of ${m.seed.name})`;
      const validate = breaches('validate', await run(['validate', mutant]), await run(['validate', mutant, '-o', 'json']));
      const diff = breaches('diff', await run(['diff', original, mutant]), await run(['diff', original, mutant, '-o', 'json']));
      failures.push(...validate.map((p) => `validate ${label}: ${p}`), ...diff.map((p) => `diff ${label}: ${p}`));
    });
    await inPool(2, jobs);
    assert.deepEqual(failures, []);
  });
});
