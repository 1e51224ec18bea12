#!/usr/bin/env node
// meshctl's entry. `--version` answers without loading the CLI framework, so scripts that probe
// for meshctl pay Node's start-up and little more.
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v' || argv[0] === 'version')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`meshctl/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`);
} else {
  const { run } = await import('../dist/src/lib/cli/main.js');
  await run(argv, import.meta.url);
}
