#!/usr/bin/env node
// Prints the Istio analyzer conformance table and, last, `conformance: P/N cases pass`.
// The corpus lives beside the project in ../shared (or MESHCTL_SHARED).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.MESHCTL_SHARED ?? path.resolve(root, '..', 'shared');
const corpus = path.join(shared, 'conformance', 'istio-analyze');
const { runAll } = await import(path.join(root, 'dist/src/lib/conformance/istio-analyze.js'));
const results = await runAll(corpus);
const failing = results.filter((r) => !r.pass);
if (failing.length) {
  const { default: Table } = await import('cli-table3');
  const table = new Table({ head: ['#', 'case', 'analyzer', 'missing', 'unexpected'], wordWrap: true, colWidths: [5, 30, 30, 40, 40] });
  for (const r of failing) table.push([r.case.id, r.case.name, r.case.analyzer, r.missing.join('\n'), r.unexpected.join('\n')]);
  console.log(table.toString());
}
let proxyLine;
try {
  const pc = await import(path.join(root, 'dist/src/lib/conformance/istio-proxyconfig.js'));
  const out = await pc.runAll(path.join(shared, 'conformance', 'istio-proxyconfig'));
  proxyLine = `proxyconfig: ${out.filter((r) => r.pass).length}/${out.length} golden outputs match`;
  for (const r of out.filter((x) => !x.pass)) console.log(`proxyconfig mismatch: ${r.name}: ${r.detail}`);
} catch (err) {
  if (err && err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
}
if (proxyLine) console.log(proxyLine);
console.log(`conformance: ${results.length - failing.length}/${results.length} cases pass`);
process.exitCode = failing.length ? 1 : 0;
