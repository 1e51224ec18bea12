#!/usr/bin/env node
// npm run demo: meshctl on the bookinfo example — validate the policy, catch a bad change, and show
// what the change would do to traffic and security.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'run.js');

function step(title, args, expectCodes) {
  process.stdout.write(`\n==> meshctl ${args.join(' ')}\n    ${title}\n\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, stdio: 'inherit' });
  if (!expectCodes.includes(r.status)) {
    process.stderr.write(`\nThe demo expected exit ${expectCodes.join(' or ')} from meshctl ${args[0]} and got ${r.status}.\n`);
    process.exit(1);
  }
  process.stdout.write(`\n    exit code ${r.status}\n`);
}

step('The bookinfo policy as it runs today: no findings.', ['validate', '--assume-ingress-gateway', 'examples/bookinfo/'], [0]);
step(
  'A proposed change: validate points at the exact line of each problem (exit 1 on errors).',
  ['validate', '--assume-ingress-gateway', 'examples/bookinfo/services.yaml', 'examples/bookinfo/gateway.yaml', 'examples/changes/routing.yaml'],
  [1],
);
if (existsSync(path.join(root, 'dist', 'src', 'commands', 'diff.js'))) {
  step('What the change does to traffic and security, with a risk level per change (exit 1: changes found).', ['diff', 'examples/bookinfo/routing.yaml', 'examples/changes/routing.yaml'], [1]);
}
process.stdout.write('\nDemo finished.\n');
