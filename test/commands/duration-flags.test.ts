// Every duration flag of every command takes the same forms and refuses the same mistakes with the same
// sentence (exit 2): a bare number has no unit, 0s and negative spans are out of range, `5min` is not a
// duration. An accepted value gets past parsing: on an empty home the command goes on to say that no
// mesh is installed (exit 3).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { hasStackTrace, meshctlAsync } from '../support/cli.js';
import { SHARED } from '../support/shared.js';

const CONFIG_DUMP = path.join(SHARED, 'conformance', 'istio-proxyconfig', 'proxyconfig', 'testdata', 'config_dump.json');

/** Each command with a duration flag, the arguments it needs to reach its flags, and the flags. */
const COMMANDS: { argv: string[]; flags: string[] }[] = [
  { argv: ['apply', '-f', 'examples/bookinfo/'], flags: ['--timeout'] },
  { argv: ['delete', 'virtualservice', 'reviews'], flags: ['--timeout'] },
  { argv: ['proxy-status'], flags: ['--timeout', '--proxy-timeout'] },
  { argv: ['top'], flags: ['--window', '--interval'] },
  { argv: ['route', 'shift', 'reviews', '--to', 'v2'], flags: ['--interval', '--max-latency-p99'] },
  { argv: ['inspect', 'pod', 'reviews-v1-0'], flags: ['--timeout', '--rate-window'] },
  { argv: ['logs', 'reviews-v1-0'], flags: ['--since'] },
  { argv: ['route', 'status', 'reviews', '--watch'], flags: ['--timeout'] },
];

describe('duration flags', { timeout: 180_000 }, () => {
  let home: string;
  before(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-duration-flags-'));
  });
  after(async () => {
    await fs.rm(home, { recursive: true, force: true });
  });

  const run = (argv: string[]) => meshctlAsync([...argv, '--home', home]);

  for (const { argv, flags } of COMMANDS) {
    for (const flag of flags) {
      const name = `${argv.slice(0, argv[0] === 'route' || argv[0] === 'inspect' ? 2 : 1).join(' ')} ${flag}`;

      it(`${name}: a bare number has no unit; the sentence says to write seconds`, async () => {
        const r = await run([...argv, flag, '60']);
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stderr.trim(), `Error: ${flag} 60 has no unit; write 60s for seconds (or 60ms, 60m).`);
        assert.equal(r.stdout, '');
      });

      it(`${name}: a word that is no duration is named as such`, async () => {
        const r = await run([...argv, `${flag}=5min`]);
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stderr.trim(), `Error: ${flag} 5min is not a duration; write it as 500ms, 30s, 2m or 1m30s.`);
        assert.ok(!hasStackTrace(r.stderr));
      });

      it(`${name}: a negative span is a duration out of range`, async () => {
        const r = await run([...argv, `${flag}=-1s`]);
        assert.equal(r.code, 2, r.stderr);
        const zeroAllowed = flag === '--rate-window' || flag === '--max-latency-p99';
        assert.equal(r.stderr.trim(), `Error: ${flag} must be ${zeroAllowed ? '0s or more' : 'more than 0s'}, not -1s.`);
      });
    }
  }

  for (const [argv, flag] of [[['apply', '-f', 'examples/bookinfo/'], '--timeout'], [['top'], '--interval'], [['route', 'shift', 'reviews', '--to', 'v2'], '--interval'], [['proxy-status'], '--proxy-timeout']] as const) {
    it(`${argv[0]} ${flag} 0s is out of range, not "not a duration"`, async () => {
      const r = await run([...argv, flag, '0s']);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim(), `Error: ${flag} must be more than 0s, not 0s.`);
    });
  }

  it('top keeps its own bounds in the same words: --window at least 1s, --interval at least 100ms', async () => {
    const window = await run(['top', '--window', '500ms']);
    assert.equal(window.code, 2);
    assert.equal(window.stderr.trim(), 'Error: --window must be at least 1s, not 500ms.');
    const interval = await run(['top', '--interval', '50ms']);
    assert.equal(interval.code, 2);
    assert.equal(interval.stderr.trim(), 'Error: --interval must be at least 100ms, not 50ms.');
  });

  it('inspect pod --rate-window is at most 5m', async () => {
    const r = await run(['inspect', 'pod', '--from-file', CONFIG_DUMP, '--rate-window', '6m']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), 'Error: --rate-window must be at most 5m, not 6m.');
  });

  it('every accepted form gets past parsing (exit 3: no mesh is installed)', async () => {
    const accepted: string[][] = [
      ['apply', '-f', 'examples/bookinfo/', '--timeout', '1m30s'],
      ['apply', '-f', 'examples/bookinfo/', '--timeout=0.5s'],
      ['delete', 'virtualservice', 'reviews', '--timeout', '90s'],
      ['proxy-status', '--wait', '--timeout', '2m', '--proxy-timeout', '500ms'],
      ['top', '--window', '5m', '--interval', '1.5s'],
      ['route', 'shift', 'reviews', '--to', 'v2', '--interval', '1500ms', '--max-latency-p99', '250ms'],
      ['route', 'shift', 'reviews', '--to', 'v2', '--interval', '2s', '--max-latency-p99', 'none'],
      ['route', 'shift', 'reviews', '--to', 'v2', '--max-latency-p99', '0'],
      ['logs', 'reviews-v1-0', '--since', '1h30m'],
      ['route', 'status', 'reviews', '--watch', '--timeout', '2m'],
    ];
    for (const argv of accepted) {
      const r = await run(argv);
      assert.equal(r.code, 3, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /No mesh is installed at /, argv.join(' '));
    }
  });

  it('inspect pod takes durations for --timeout and --rate-window (a saved config dump is read)', async () => {
    const r = await meshctlAsync(['inspect', 'pod', '--from-file', CONFIG_DUMP, '--timeout', '5s', '--rate-window', '0s', '--section', 'health', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout));
  });
});
