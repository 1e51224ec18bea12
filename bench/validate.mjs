#!/usr/bin/env node
// bench/validate: `meshctl validate -o json` on two sets of 10,000 resources (large documents in 99 files;
// short ones in one file) against a bare js-yaml parse of the same files in its own Node process (target
// ≤ 1.5× on each), and `meshctl --version` against `node -e 0` (target ≤ 3×).
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePolicySet, writeSmallPolicySet } from './gen-policy.mjs';
import { timeProcess, medianOf, median, peakRss, fmt } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'run.js');
const runs = Number(process.env.BENCH_RUNS ?? 7);
const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-bench-validate-'));
try {
  const node = process.execPath;
  const large = writePolicySet(dir);
  const small = writeSmallPolicySet(path.join(dir, 'small'));
  const baselineScript = (files) => `import { readFileSync } from 'node:fs'; import { loadAll } from 'js-yaml';
let n = 0; for (const f of ${JSON.stringify(files)}) n += loadAll(readFileSync(f, 'utf8')).length;
if (n < 9000) process.exit(1);`;
  // Two sets: the large one (fewer, larger documents: parsing dominates) and the small one (10,000 short
  // documents in one file, the shape of an exported policy set: meshctl's per-resource cost dominates).
  const sets = [
    { name: 'large', target: large.dir, files: readdirSync(large.dir).map((f) => path.join(large.dir, f)), describe: `${large.files} files, ${(large.bytes / 1048576).toFixed(1)} MB, 9,999 resources` },
    { name: 'small', target: small.file, files: [small.file], describe: `1 file, ${(small.bytes / 1048576).toFixed(1)} MB, ${small.resources.toLocaleString('en-US')} resources of about ${Math.round(small.bytes / small.resources)} bytes` },
  ];
  for (const set of sets) {
    set.script = baselineScript(set.files);
    set.timeBaseline = () => timeProcess([node, '--input-type=module', '-e', set.script], { cwd: root });
    set.timeValidate = () => timeProcess([node, bin, 'validate', '-o', 'json', set.target], { cwd: root, okCodes: [0, 1] });
    set.timeBaseline();
    set.timeValidate();
    set.pairs = [];
  }
  // The two take turns (baseline first in even runs, meshctl first in odd ones), and the sets take turns
  // within each run, so that all meet the same stretches of noise from other work on the machine; each
  // ratio is the median of the per-run pairs.
  for (let i = 0; i < runs; i++) {
    for (const set of sets) {
      const pair = {};
      for (const k of i % 2 ? ['validate', 'baseline'] : ['baseline', 'validate']) pair[k] = k === 'baseline' ? set.timeBaseline() : set.timeValidate();
      set.pairs.push(pair);
    }
  }
  // meshctl validate lowers V8's inlining budget for its short run (src/lib/cli/direct.ts); the same
  // setting on the baseline shows that it speeds up meshctl's own code, not the parse both share.
  const tunedBaseline = medianOf(runs, () => timeProcess([node, '--max-inlined-bytecode-size-cumulative=200', '--input-type=module', '-e', sets[0].script], { cwd: root }));
  const nodeStart = medianOf(runs * 2, () => timeProcess([node, '-e', '0']));
  const version = medianOf(runs * 2, () => timeProcess([node, bin, '--version'], { cwd: root }));
  console.log(`bench/validate: median of ${runs} runs, meshctl and the baseline taking turns`);
  const missed = [];
  for (const set of sets) {
    const ratios = set.pairs.map((p) => p.validate / p.baseline);
    const baseline = median(set.pairs.map((p) => p.baseline));
    const validate = median(set.pairs.map((p) => p.validate));
    console.log(`${set.name} set: ${set.describe}`);
    console.log(`  js-yaml loadAll (baseline)   ${fmt(baseline)}`);
    console.log(`  meshctl validate -o json     ${fmt(validate)}   ratio ${median(ratios).toFixed(2)}x (target <= 1.5x; per-run ratios ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`);
    if (median(ratios) > 1.5) missed.push(`${set.name} set`);
    if (set === sets[0]) console.log(`  js-yaml, meshctl's V8 budget ${fmt(tunedBaseline)}   (${(tunedBaseline / baseline).toFixed(2)}x the baseline)`);
    const rss = peakRss([node, bin, 'validate', '-o', 'json', set.target], { cwd: root, okCodes: [0, 1] });
    const baseRss = peakRss([node, '--input-type=module', '-e', set.script], { cwd: root });
    if (rss && baseRss) console.log(`  peak RSS                     ${rss.toFixed(0)} MiB vs ${baseRss.toFixed(0)} MiB   ratio ${(rss / baseRss).toFixed(2)}x`);
  }
  console.log(`  node -e 0 (baseline)         ${fmt(nodeStart)}`);
  console.log(`  meshctl --version            ${fmt(version)}   ratio ${(version / nodeStart).toFixed(2)}x (target <= 3x)`);
  if (version / nodeStart > 3) missed.push('--version');
  // The exit code says what the figures say: 1 when a target is missed, as the other benchmarks do.
  if (missed.length) {
    console.log(`targets missed: ${missed.join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
