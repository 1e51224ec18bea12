// Every row of docs/bad-input.md run through the real CLI: the exit code and the sentence a user reads
// are asserted here, and the page is what this test generates, so the two cannot drift apart.
// Regenerate the page with `npm run docs:bad-input` (MESHCTL_UPDATE_DOCS=1 node scripts/test.mjs bad-input).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { hasStackTrace, meshctlAsync, type CliResult } from '../support/cli.js';
import { ROOT } from '../support/shared.js';

const PAGE = path.join(ROOT, 'docs', 'bad-input.md');

interface Row {
  /** The heading the row is listed under. */
  topic: string;
  /** The command line as the page shows it (after `meshctl`). */
  args: string[];
  /** What is wrong with the input, in words. */
  input: string;
  code: number;
  /** What the sentence must say; the page shows the sentence exactly as printed. */
  says: RegExp;
  /** Where the sentence is: stderr (an error or a note, the default) or a finding on stdout. */
  from?: 'stderr' | 'finding';
  /** Run beside this: e.g. a writer feeding a FIFO while meshctl reads it. */
  alongside?: () => Promise<unknown>;
  /** Text that must not appear anywhere in the output. */
  never?: RegExp;
}

let dir: string;
let notEnvoy: Server;
let notEnvoyUrl: string;

const VS = (weights: [string, string], extra = '') =>
  [
    'apiVersion: networking.istio.io/v1',
    'kind: VirtualService',
    'metadata: {name: reviews}',
    'spec:',
    '  hosts: [reviews]',
    '  http:',
    `  - ${extra ? `${extra}\n    ` : ''}route:`,
    '    - destination: {host: reviews, subset: v1}',
    `      weight: ${weights[0]}`,
    '    - destination: {host: reviews, subset: v2}',
    `      weight: ${weights[1]}`,
    '',
  ].join('\n');
const SERVICE = 'apiVersion: v1\nkind: Service\nmetadata: {name: reviews}\nspec:\n  selector: {app: reviews}\n  ports: [{name: http, port: 9080}]\n';

before(async () => {
  dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-bad-input-')));
  const write = (name: string, content: string | Buffer) => fs.writeFile(path.join(dir, name), content);
  await fs.mkdir(path.join(dir, 'policies'));
  await fs.mkdir(path.join(dir, 'empty'));
  await write('old.yaml', VS(['50', '50']));
  await write('all-zero.yaml', VS(['0', '0']));
  await write('timeout-1y.yaml', VS(['50', '50'], 'timeout: 1y'));
  await write('huge-weight.yaml', VS(['1e400', '0']));
  await write('huge-weight-quoted.yaml', VS(['"1e400"', '0']));
  await write('twice.yaml', `${SERVICE}---\n${VS(['50', '50'])}---\n${VS(['80', '20'])}`);
  await write('utf16.yaml', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(SERVICE, 'utf16le')]));
  execFileSync('mkfifo', [path.join(dir, 'fifo.yaml')]);
  await write('home-file', 'not a directory\n');
  await write('not-haproxy', '#!/bin/sh\necho "not a proxy"\n');
  await fs.chmod(path.join(dir, 'not-haproxy'), 0o755);
  // A mesh home as install leaves it, as far as a second install reads it.
  await fs.mkdir(path.join(dir, 'installed'));
  await write('installed/mesh.json', JSON.stringify({ apiVersion: 'meshctl.dev/v1alpha1', kind: 'MeshConfig', createdAt: new Date(0).toISOString(), trustDomain: 'cluster.local', proxy: { runtime: 'haproxy', bin: '/usr/sbin/haproxy', version: '2.6.12' }, env: {}, meshctlVersion: '0.1.0' }));
  // An HTTP server that is not Envoy: every path is 404.
  notEnvoy = createServer((req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  await new Promise<void>((resolve) => notEnvoy.listen(0, '127.0.0.1', resolve));
  notEnvoyUrl = `http://127.0.0.1:${(notEnvoy.address() as AddressInfo).port}`;
});

after(async () => {
  notEnvoy.closeAllConnections();
  await new Promise<void>((resolve) => notEnvoy.close(() => resolve()));
  await fs.rm(dir, { recursive: true, force: true });
});

/** Feeds the FIFO more than --max-file-size 1 allows; meshctl stops reading (and closes it) past the limit. */
async function feedFifo(): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const handle = await fs.open(path.join(dir, 'fifo.yaml'), 'w');
  try {
    for (let i = 0; i < 48; i++) await handle.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
  } finally {
    await handle.close();
  }
}

function rows(): Row[] {
  return [
    { topic: 'Policy input', args: ['validate', '/dev/zero'], input: 'a device, not a file', code: 2, says: /^\/dev\/zero is a device, not a policy file; pass a file, a directory or - for stdin\.$/ },
    { topic: 'Policy input', args: ['diff', '/dev/zero', 'old.yaml'], input: 'a device as OLD', code: 2, says: /^\/dev\/zero is a device, not a policy file/ },
    {
      topic: 'Policy input', args: ['validate', '--max-file-size', '1', 'fifo.yaml'], input: 'a FIFO that never ends (3 MiB fed)', code: 1, from: 'finding',
      says: /^Input fifo\.yaml is over the 1 MiB limit; split it or raise --max-file-size\.$/, alongside: feedFifo,
    },
    { topic: 'Policy input', args: ['validate', 'empty/'], input: 'a directory with no .yaml, .yml or .json file', code: 2, says: /^Directory empty\/ holds no policy file \(\.yaml, \.yml or \.json\); check the path, or pass --allow-empty to accept it\.$/ },
    { topic: 'Policy input', args: ['diff', 'empty/', 'old.yaml'], input: 'an empty directory as OLD', code: 2, says: /^Directory empty\/ holds no policy file/ },
    { topic: 'Policy input', args: ['validate', '--mesh-config', 'missing.yaml', 'old.yaml'], input: '--mesh-config names no file', code: 2, says: /^Mesh config missing\.yaml \(--mesh-config\) does not exist; pass the path of an Istio MeshConfig YAML file\.$/ },
    { topic: 'Policy input', args: ['validate', 'huge-weight.yaml'], input: '`weight: 1e400`', code: 1, from: 'finding', says: /must be an integer, not 1e400, a number beyond the range any field holds; write an integer in range\./, never: /without quotes/ },
    { topic: 'Policy input', args: ['validate', 'huge-weight-quoted.yaml'], input: '`weight: "1e400"`', code: 1, from: 'finding', says: /must be an integer, not 1e400, a number beyond the range any field holds; write an integer in range\./, never: /without quotes/ },
    { topic: 'Policy input', args: ['validate', 'twice.yaml'], input: 'a VirtualService defined twice', code: 1, from: 'finding', says: /^VirtualService default\/reviews is already defined at twice\.yaml:\d+; keep one definition/, never: /IST0109/ },
    { topic: 'Policy input', args: ['validate', 'utf16.yaml'], input: 'a file saved as UTF-16', code: 1, from: 'finding', says: /^File utf16\.yaml is UTF-16 text, not UTF-8; save it as UTF-8 \(for example: iconv -f UTF-16 -t UTF-8 utf16\.yaml > utf16\.yaml\.utf8\)\.$/, never: /binary/ },
    { topic: 'Diff', args: ['diff', 'old.yaml', 'all-zero.yaml'], input: 'NEW gives every destination weight 0 (MSH2002)', code: 1, says: /^Note: NEW \(all-zero\.yaml\) does not pass validation: 1 error, the first at all-zero\.yaml:9: .*weight 0, which Istio rejects/ },
    { topic: 'Diff', args: ['diff', 'old.yaml', 'timeout-1y.yaml'], input: 'NEW sets `timeout: 1y` (MSH2006)', code: 1, says: /^Note: NEW \(timeout-1y\.yaml\) does not pass validation: 1 error, the first at timeout-1y\.yaml:7: .*"1y", which is not a duration/ },
    { topic: 'Mesh home', args: ['install', '--home', ''], input: 'an empty --home', code: 2, says: /^--home is empty; pass the mesh home directory, or leave the flag out to use \$MESHCTL_HOME or ~\/\.meshctl\.$/ },
    { topic: 'Mesh home', args: ['get', 'pods', '--home', 'home-file'], input: '--home is a file', code: 2, says: /^The mesh home <dir>\/home-file is a file, not a directory; pass the mesh home directory with --home \(or \$MESHCTL_HOME\)\.$/ },
    { topic: 'Mesh home', args: ['install', '--dry-run', '--home', 'new-home', '--proxy-bin', 'not-haproxy'], input: '--proxy-bin is not HAProxy', code: 3, says: /^--proxy-bin not-haproxy is not a usable HAProxy 2\.6\+ \(.*\); pass the path of HAProxy 2\.6 or later, or leave --proxy-bin out to use haproxy on PATH\.$/ },
    { topic: 'Mesh home', args: ['install', '--home', 'new-home', '--proxy-bin', 'missing/haproxy'], input: '--proxy-bin does not exist', code: 3, says: /^--proxy-bin missing\/haproxy is not a usable HAProxy 2\.6\+ \(<dir>\/missing\/haproxy does not exist\)/ },
    { topic: 'Mesh home', args: ['install', '--home', 'installed', '--proxy-bin', 'not-haproxy'], input: '--proxy-bin other than the installed one', code: 2, says: /^The mesh at <dir>\/installed is installed with HAProxy at \/usr\/sbin\/haproxy, not --proxy-bin not-haproxy; drop --proxy-bin, or run meshctl uninstall and install again with it\.$/ },
    { topic: 'Inspect', args: ['inspect', 'pod', 'reviews-v1-0', '--home', 'no-mesh'], input: 'a home with no mesh', code: 3, says: /^No mesh is installed at <dir>\/no-mesh; run meshctl install --home no-mesh first\.$/ },
    { topic: 'Inspect', args: ['inspect', 'pod', '--admin-url', '<url>'], input: 'an HTTP server that is not Envoy (404 everywhere)', code: 3, says: /^http:\/\/127\.0\.0\.1:<port> is not an Envoy admin API \(it answered \/server_info with HTTP 404\)/ },
    { topic: 'Inspect', args: ['inspect', 'pod', 'reviews-v1-0', '--admin-url', '<url>'], input: 'a pod and --admin-url', code: 2, says: /^Give either a pod \(reviews-v1-0\) or --admin-url, not both/ },
    { topic: 'Logs', args: ['logs', 'reviews-v1-0', '--tail', '-5'], input: 'a negative --tail', code: 2, says: /^--tail -5 is negative; pass a number of lines, 0 or more \(leave it out for the whole log\)\.$/ },
    { topic: 'Logs', args: ['logs', 'reviews-v1-0', '--since', '0s'], input: 'an empty --since', code: 2, says: /^--since must be more than 0s, not 0s\.$/ },
    { topic: 'Logs', args: ['logs', 'reviews-v1-0', '--since', 'soon'], input: '--since is not a duration', code: 2, says: /^--since soon is not a duration; write it as 500ms, 30s, 2m or 1m30s\.$/ },
    { topic: 'Durations', args: ['inspect', 'pod', 'reviews-v1-0', '--timeout', '5'], input: 'a duration without a unit', code: 2, says: /^--timeout 5 has no unit; write 5s for seconds \(or 5ms, 5m\)\.$/ },
    { topic: 'Durations', args: ['apply', '-f', 'old.yaml', '--timeout', '60'], input: 'a duration without a unit', code: 2, says: /^--timeout 60 has no unit; write 60s for seconds \(or 60ms, 60m\)\.$/ },
    { topic: 'Durations', args: ['top', '--interval', '0s'], input: 'a zero span', code: 2, says: /^--interval must be more than 0s, not 0s\.$/ },
    { topic: 'Durations', args: ['route', 'shift', 'reviews', '--to', 'v2', '--interval=-1s'], input: 'a negative span', code: 2, says: /^--interval must be more than 0s, not -1s\.$/ },
    { topic: 'Durations', args: ['proxy-status', '--wait', '--timeout', '5min'], input: 'a unit Go durations do not have', code: 2, says: /^--timeout 5min is not a duration; write it as 500ms, 30s, 2m or 1m30s\.$/ },
    { topic: 'Durations', args: ['inspect', 'pod', '--from-file', 'old.yaml', '--rate-window', '10m'], input: 'a span beyond the flag\'s range', code: 2, says: /^--rate-window must be at most 5m, not 10m\.$/ },
    { topic: 'Get and top', args: ['get', 'vs,widgets'], input: 'an unknown kind among several', code: 2, says: /^"widgets" is not a resource type meshctl knows; use one of pods, / },
    { topic: 'Get and top', args: ['get', 'vs,,dr'], input: 'an empty kind between commas', code: 2, says: /^"vs,,dr" names an empty resource type; separate types with single commas, as in vs,dr\.$/ },
    { topic: 'Get and top', args: ['get', 'pods', '-l', 'app in v1'], input: 'a set selector without parentheses', code: 2, says: /^-l app in v1 is not a label selector \(at "app in v1"\); write it as app=reviews, version!=v1, version in \(v1,v2\) or !canary, joined by commas\.$/ },
    { topic: 'Get and top', args: ['top', '-n', 'default', '-A'], input: '-n together with -A', code: 2, says: /^-n default asks for one namespace and -A for every one; pass one of them\.$/ },
    { topic: 'Get and top', args: ['get', 'pods', '-n', 'default', '-A'], input: '-n together with -A', code: 2, says: /^-n default asks for one namespace and -A for every one; pass one of them\.$/ },
  ];
}

/** The page's form of what meshctl printed: the temporary directory and the server's port are placeholders. */
function normalize(text: string): string {
  return text.split(dir).join('<dir>').split(notEnvoyUrl).join('http://127.0.0.1:<port>');
}

function sentenceOf(row: Row, r: CliResult): string {
  if (row.from === 'finding') {
    const doc = JSON.parse(r.stdout) as { findings: { message: string }[] };
    const match = doc.findings.map((f) => f.message).find((m) => row.says.test(normalize(m)));
    return normalize(match ?? doc.findings.map((f) => f.message).join(' | '));
  }
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  const line = lines.find((l) => l.startsWith('Note:')) ?? lines[lines.length - 1] ?? '';
  return normalize(line.replace(/^Error: /, ''));
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function page(results: { row: Row; sentence: string }[]): string {
  const out = [
    '# What meshctl says about bad input',
    '',
    'Each row is run by `test/docs/bad-input.test.ts` through the real CLI, which checks the exit code and the',
    'sentence and fails when this page differs from what it generates. Regenerate it with',
    '`npm run docs:bad-input`. `<dir>` is the directory the command runs in; `<url>` an HTTP server on',
    'loopback. Exit codes: 1 a negative answer (a finding, a difference), 2 usage or input error, 3',
    'environment error.',
  ];
  let topic = '';
  for (const { row, sentence } of results) {
    if (row.topic !== topic) {
      topic = row.topic;
      out.push('', `## ${topic}`, '', '| command | input | exit | sentence |', '|---|---|---|---|');
    }
    // As typed in a shell: an empty or spaced argument in quotes.
    const command = ['meshctl', ...row.args.map((a) => (a === '' || /\s/.test(a) ? `'${a}'` : a))].join(' ');
    out.push(`| \`${cell(command)}\` | ${cell(row.input)} | ${row.code} | ${cell(sentence)} |`);
  }
  return `${out.join('\n')}\n`;
}

test('every bad input gets its exit code and one sentence, and docs/bad-input.md lists them as printed', async () => {
  const results: { row: Row; sentence: string }[] = [];
  const failures: string[] = [];
  for (const row of rows()) {
    const args = row.args.map((a) => (a === '<url>' ? notEnvoyUrl : a));
    const finding = row.from === 'finding';
    const [r] = await Promise.all([meshctlAsync(finding ? [...args, '-o', 'json'] : args, { cwd: dir, timeoutMs: 60_000 }), row.alongside?.()]);
    const sentence = sentenceOf(row, r);
    const shown = `meshctl ${row.args.join(' ')}`;
    if (r.code !== row.code) failures.push(`${shown}: exit ${r.code}, expected ${row.code} (${r.stderr.trim()})`);
    if (!row.says.test(sentence)) failures.push(`${shown}: printed "${sentence}", expected ${row.says}`);
    if (row.never && row.never.test(r.stdout + r.stderr)) failures.push(`${shown}: printed ${row.never}`);
    if (hasStackTrace(r.stderr)) failures.push(`${shown}: printed a stack trace`);
    results.push({ row, sentence });
  }
  assert.deepEqual(failures, []);
  const generated = page(results);
  if (process.env.MESHCTL_UPDATE_DOCS === '1') {
    await fs.mkdir(path.dirname(PAGE), { recursive: true });
    writeFileSync(PAGE, generated);
  }
  let current = '';
  try {
    current = readFileSync(PAGE, 'utf8');
  } catch {
    // Missing: the comparison below fails and says how to generate it.
  }
  assert.equal(current, generated, 'docs/bad-input.md is not what the rows print; run npm run docs:bad-input and review the change');
});
