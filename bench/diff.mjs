#!/usr/bin/env node
// Benchmark of `meshctl diff`: two versions of the 10,000-resource policy set (1% of resources changed),
// timed as whole processes, against `meshctl validate` of one version. The target is a ratio of at most
// 2.5: a diff should cost little beyond reading both sides.
//
//   node bench/diff.mjs [--runs N] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePolicySet } from './gen-policy.mjs';

const TARGET = 2.5;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'run.js');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 5;
const keep = args.includes('--keep');

function timed(argv, okCodes) {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...argv], { cwd: root, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!okCodes.includes(r.status)) throw new Error(`meshctl ${argv.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return { seconds, stdout: r.stdout };
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-bench-diff-'));
try {
  const before = writePolicySet(path.join(dir, 'old'));
  const after = writePolicySet(path.join(dir, 'new'), { changed: 0.01 });
  const diffArgs = ['diff', '-o', 'json', before.dir, after.dir];
  const validateArgs = ['validate', '-o', 'json', before.dir];

  // One untimed run of each warms the file cache, so that neither pays for the first read of the set.
  const first = JSON.parse(timed(diffArgs, [0, 1]).stdout);
  timed(validateArgs, [0, 1]);
  const diffTimes = [];
  const validateTimes = [];
  for (let i = 0; i < runs; i++) {
    validateTimes.push(timed(validateArgs, [0, 1]).seconds);
    diffTimes.push(timed(diffArgs, [0, 1]).seconds);
  }
  // Best of N is the figure least disturbed by other work on the machine; the median is shown beside it.
  const v = Math.min(...validateTimes);
  const d = Math.min(...diffTimes);
  const ratio = d / v;
  const s = first.summary;
  const mb = (n) => (n / 1048576).toFixed(1);
  const times = (list) => list.map((t) => t.toFixed(2)).join(' ');
  console.log(`policy set: ${s.old.resources.toLocaleString('en-US')} resources, ${mb(before.bytes)} MB in ${before.files} files per version`);
  console.log(`change: ${s.changed} changed, ${s.added} added, ${s.removed} removed (${first.impact.traffic.length} hosts with traffic impact)`);
  console.log(`meshctl validate -o json, one version:  best ${v.toFixed(3)} s, median ${median(validateTimes).toFixed(3)} s (${runs} runs: ${times(validateTimes)})`);
  console.log(`meshctl diff -o json, both versions:    best ${d.toFixed(3)} s, median ${median(diffTimes).toFixed(3)} s (${runs} runs: ${times(diffTimes)})`);
  console.log(`ratio diff / validate: ${ratio.toFixed(2)}x best, ${(median(diffTimes) / median(validateTimes)).toFixed(2)}x median (target <= ${TARGET}x) ${ratio <= TARGET ? 'ok' : 'OVER TARGET'}`);
  if (keep) console.log(`inputs kept in ${dir}`);
  process.exitCode = ratio <= TARGET ? 0 : 1;
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 2;
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
