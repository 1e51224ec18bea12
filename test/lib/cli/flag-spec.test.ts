// validate's direct run parses plain command lines without oclif. These tests hold it to oclif's own
// parser over the same flags: the same flags and arguments whenever it answers, and no answer (so that
// oclif parses, and words any error) for every form it does not take.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from '@oclif/core/parser';
import Validate from '../../../src/commands/validate.js';
import { parseSimple } from '../../../src/lib/cli/flag-spec.js';
import { VALIDATE_FLAGS } from '../../../src/lib/cli/validate-flags.js';

async function oclif(argv: string[]): Promise<{ flags: Record<string, unknown>; args: string[] } | Error> {
  try {
    const out = await parse(argv, { flags: Validate.flags, args: Validate.args, strict: false });
    return { flags: out.flags as Record<string, unknown>, args: out.argv as string[] };
  } catch (err) {
    return err as Error;
  }
}

/** oclif leaves absent flags without a default out or undefined; compare what is set. */
function defined(flags: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
}

const PLAIN: string[][] = [
  [],
  ['policies/'],
  ['-'],
  ['a.yaml', 'b.yml', 'dir/'],
  ['-o', 'json', 'policies/'],
  ['--output', 'sarif', 'policies/'],
  ['--output=github', 'policies/'],
  ['--json', 'policies/'],
  ['policies/', '--json'],
  ['--fail-on', 'warning', '-o', 'github', 'policies/'],
  ['--fail-on=none', 'policies/'],
  ['-n', 'shop', 'policies/'],
  ['--namespace=shop', 'policies/'],
  ['--analyzer', 'virtualservice.DestinationRuleAnalyzer', 'policies/'],
  ['--analyzer', 'a', '--analyzer', 'b', 'policies/'],
  ['--analyzer=a', 'policies/', '--analyzer', 'b'],
  ['--list-analyzers'],
  ['--list-analyzers', '-o', 'json'],
  ['--assume-ingress-gateway', 'policies/'],
  ['--mesh-config', 'mesh.yaml', 'policies/'],
  ['--max-file-size', '64', 'policies/'],
  ['--max-file-size=1', 'policies/'],
  ['--', '-o', 'policies/'],
  ['policies/', '--', '--json'],
];

const NOT_PLAIN: string[][] = [
  ['--nope', 'policies/'],
  ['-x', 'policies/'],
  ['-o'],
  ['-o', 'xml', 'policies/'],
  ['--output=xml', 'policies/'],
  ['--fail-on', 'critical', 'policies/'],
  ['-o', 'json', '-o', 'yaml', 'policies/'],
  ['--json', '--json', 'policies/'],
  ['--json=true', 'policies/'],
  ['--max-file-size', '0', 'policies/'],
  ['--max-file-size', 'big', 'policies/'],
  ['--max-file-size', '-3', 'policies/'],
  ['-ojson', 'policies/'],
  ['-o=json', 'policies/'],
  ['-n', '--json', 'policies/'],
  ['--namespace='],
  ['--analyzer'],
];

describe('validate without oclif: a plain command line', () => {
  for (const argv of PLAIN) {
    test(`[${argv.join(' ')}] parses as oclif parses it`, async () => {
      const mine = parseSimple(argv, VALIDATE_FLAGS);
      assert.ok(mine, 'the quick parser should take this plain form');
      const theirs = await oclif(argv);
      assert.ok(!(theirs instanceof Error), `oclif rejected it: ${String(theirs)}`);
      assert.deepEqual(defined(mine.flags), defined(theirs.flags));
      assert.deepEqual(mine.args, theirs.args);
    });
  }
});

describe('validate without oclif: every other form is left to oclif', () => {
  for (const argv of NOT_PLAIN) {
    test(`[${argv.join(' ')}] is not taken`, () => {
      assert.equal(parseSimple(argv, VALIDATE_FLAGS), undefined);
    });
  }

  test('oclif rejects the malformed ones itself, so their errors keep its wording', async () => {
    for (const argv of [['--nope', 'x'], ['-o', 'xml', 'x'], ['--max-file-size', '0', 'x'], ['-o']]) {
      assert.ok((await oclif(argv)) instanceof Error, `oclif accepted [${argv.join(' ')}]`);
    }
  });
});
