#!/usr/bin/env node
// bench/validate: `meshctl validate -o json` on 10,000 resources against a bare js-yaml parse of the same
// files in its own Node process (target ≤ 1.5×), and `meshctl --version` against `node -e 0` (target ≤ 3×).
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePolicySet } from './gen-policy.mjs';
import { timeProcess, medianOf, median, peakRss, fmt } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'run.js');
const runs = Number(process.env.BENCH_RUNS ?? 7);
const dir = mkdtempSync(path.join(os.tmpdir(), 'meshctl-bench-validate-'));
try {
  const set = writePolicySet(dir);
  const files = readdirSync(set.dir).map((f) => path.join(set.dir, f));
  const baselineScript = `import { readFileSync } from 'node:fs'; import { loadAll } from 'js-yaml';
let n = 0; for (const f of ${JSON.stringify(files)}) n += loadAll(readFileSync(f, 'utf8')).length;
if (n < 9000) process.exit(1);`;
  const node = process.execPath;
  const timeBaseline = () => timeProcess([node, '--input-type=module', '-e', baselineScript], { cwd: root });
  const timeValidate = () => timeProcess([node, bin, 'validate', '-o', 'json', set.dir], { cwd: root, okCodes: [0, 1] });
  // The two take turns (baseline first in even runs, meshctl first in odd ones), so that both meet the
  // same stretches of noise from other work on the machine; the ratio is the median of the per-run pairs.
  timeBaseline();
  timeValidate();
  const pairs = [];
  for (let i = 0; i < runs; i++) {
    const pair = {};
    for (const k of i % 2 ? ['validate', 'baseline'] : ['baseline', 'validate']) pair[k] = k === 'baseline' ? timeBaseline() : timeValidate();
    pairs.push(pair);
  }
  const baseline = median(pairs.map((p) => p.baseline));
  const validate = median(pairs.map((p) => p.validate));
  const ratio = median(pairs.map((p) => p.validate / p.baseline));
  // meshctl validate lowers V8's inlining budget for its short run (src/lib/cli/direct.ts); the same
  // setting on the baseline shows that it speeds up meshctl's own code, not the parse both share.
  const tunedBaseline = medianOf(runs, () => timeProcess([node, '--max-inlined-bytecode-size-cumulative=200', '--input-type=module', '-e', baselineScript], { cwd: root }));
  const nodeStart = medianOf(runs * 2, () => timeProcess([node, '-e', '0']));
  const version = medianOf(runs * 2, () => timeProcess([node, bin, '--version'], { cwd: root }));
  const rss = peakRss([node, bin, 'validate', '-o', 'json', set.dir], { cwd: root, okCodes: [0, 1] });
  const baseRss = peakRss([node, '--input-type=module', '-e', baselineScript], { cwd: root });
  console.log(`bench/validate: ${set.files} files, ${(set.bytes / 1048576).toFixed(1)} MB, 9,999 resources; median of ${runs} runs, the two taking turns`);
  console.log(`  js-yaml loadAll (baseline)   ${fmt(baseline)}`);
  console.log(`  meshctl validate -o json     ${fmt(validate)}   ratio ${ratio.toFixed(2)}x (target <= 1.5x; per-run ratios ${Math.min(...pairs.map((p) => p.validate / p.baseline)).toFixed(2)}-${Math.max(...pairs.map((p) => p.validate / p.baseline)).toFixed(2)})`);
  console.log(`  js-yaml, meshctl's V8 budget ${fmt(tunedBaseline)}   (${(tunedBaseline / baseline).toFixed(2)}x the baseline)`);
  if (rss && baseRss) console.log(`  peak RSS                     ${rss.toFixed(0)} MiB vs ${baseRss.toFixed(0)} MiB   ratio ${(rss / baseRss).toFixed(2)}x`);
  console.log(`  node -e 0 (baseline)         ${fmt(nodeStart)}`);
  console.log(`  meshctl --version            ${fmt(version)}   ratio ${(version / nodeStart).toFixed(2)}x (target <= 3x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
