#!/usr/bin/env node
// Prints the Istio analyzer conformance table and `conformance: P/N cases pass`, then replays the
// Gateway API conformance cases against a live local mesh and prints, last, its failures and
// `gateway-api: P/N cases pass`. The corpora live beside the project in ../shared (or MESHCTL_SHARED).
//   --gateway-api-cases FILE   another corpus in the cases.json format (manifests resolved beside it)
//   --gateway-api-only NAME    only the tests whose name contains NAME (repeatable)
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.MESHCTL_SHARED ?? path.resolve(root, '..', 'shared');
let args;
try {
  args = parseArgs({ options: { 'gateway-api-cases': { type: 'string' }, 'gateway-api-only': { type: 'string', multiple: true }, verbose: { type: 'boolean' } } }).values;
} catch (err) {
  console.error(`conformance: ${err.message}; the flags are --gateway-api-cases FILE, --gateway-api-only NAME and --verbose.`);
  process.exit(2);
}
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

const { existsSync } = await import('node:fs');
const gatewayApiFile = path.resolve(args['gateway-api-cases'] ?? path.join(shared, 'conformance', 'gateway-api', 'cases.json'));
if (!existsSync(gatewayApiFile)) {
  console.error(`conformance: ${gatewayApiFile} does not exist; give a Gateway API corpus in the cases.json format with --gateway-api-cases FILE.`);
  process.exit(2);
}
const gatewayApi = await import(path.join(root, 'dist/src/lib/conformance/gateway-api/harness.js'));
const started = Date.now();
let gw;
try {
  gw = await gatewayApi.runGatewayApiCorpus(gatewayApiFile, {
    echoScript: path.join(root, 'examples', 'gateway-api', 'echo.mjs'),
    only: args['gateway-api-only'],
    progress: args.verbose ? (l) => console.error(l) : undefined,
  });
} catch (err) {
  console.error(`conformance: the Gateway API run could not start: ${err.message}`);
  process.exit(3);
}
const gwFailing = gw.filter((r) => !r.pass);
if (gwFailing.length) {
  const { default: Table } = await import('cli-table3');
  const table = new Table({ head: ['test', 'case', 'why'], wordWrap: true, colWidths: [34, 40, 60] });
  for (const r of gwFailing) table.push([r.test, r.name, r.detail]);
  console.log(table.toString());
}
console.error(`gateway-api: ran in ${((Date.now() - started) / 1000).toFixed(0)} s`);
console.log(`gateway-api: ${gw.length - gwFailing.length}/${gw.length} cases pass`);
process.exitCode = failing.length || gwFailing.length ? 1 : 0;
