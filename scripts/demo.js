#!/usr/bin/env node
// npm run demo: meshctl on the bookinfo example — validate the policy, catch a bad change, show what a
// change does to traffic, then run the example as a live local mesh: install into a temporary home,
// apply it, send traffic through the ingress and compare the versions that answered with the
// configured weights, shift the weights, and uninstall (always, even when a step fails).
// Installing HAProxy (when missing) asks first on a terminal; run unattended (no terminal, as in
// `npm install && npm run demo` from a script) or with `npm run demo -- --yes`, the demo lets install add
// it with the package manager, and install prints every command it runs.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'run.js');
const yes = process.argv.includes('--yes') || process.argv.includes('-y') || !process.stdin.isTTY;

class DemoFailure extends Error {}

function meshctl(args, options = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, stdio: options.capture ? ['inherit', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout ?? '' };
}

function step(title, args, expectCodes, options = {}) {
  process.stdout.write(`\n==> meshctl ${args.join(' ')}\n    ${title}\n\n`);
  const r = meshctl(args, options);
  if (!expectCodes.includes(r.code)) {
    throw new DemoFailure(`The demo expected exit ${expectCodes.join(' or ')} from meshctl ${args[0]} and got ${r.code}.`);
  }
  if (!options.capture) process.stdout.write(`\n    exit code ${r.code}\n`);
  return r;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function get(port, headers) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/productpage', headers, agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? JSON.parse(body).reviews.version : `HTTP ${res.statusCode}`);
        } catch {
          resolve(`HTTP ${res.statusCode}`);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(`error: ${err.message}`));
  });
}

/** `n` requests through the ingress, 8 at a time; counts the reviews version that answered each. */
async function traffic(port, n, headers = {}) {
  const counts = new Map();
  let sent = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (sent < n) {
      sent++;
      const version = await get(port, headers);
      counts.set(version, (counts.get(version) ?? 0) + 1);
    }
  }));
  return counts;
}

/** Weights by subset of the reviews VirtualService's weighted route, as the mesh stores it. */
function configuredWeights(home) {
  const r = meshctl(['get', 'virtualservice', 'reviews', '-o', 'json', '--home', home], { capture: true });
  if (r.code !== 0) throw new DemoFailure('meshctl get virtualservice reviews failed.');
  const vs = JSON.parse(r.stdout);
  const weighted = vs.spec.http.find((h) => !h.match && h.route.length > 1) ?? vs.spec.http[vs.spec.http.length - 1];
  return new Map(weighted.route.map((d) => [d.destination.subset, d.weight ?? 100]));
}

function printCounts(title, counts, weights, n) {
  process.stdout.write(`\n    ${title}\n\n`);
  process.stdout.write(`    ${'reviews'.padEnd(10)}${'configured'.padStart(12)}${'requests'.padStart(10)}${'share'.padStart(9)}\n`);
  const versions = [...new Set([...weights.keys(), ...counts.keys()])].sort();
  for (const v of versions) {
    const c = counts.get(v) ?? 0;
    const w = weights.has(v) ? `${weights.get(v)}%` : '-';
    process.stdout.write(`    ${v.padEnd(10)}${w.padStart(12)}${String(c).padStart(10)}${`${((100 * c) / n).toFixed(1)}%`.padStart(9)}\n`);
  }
}

async function liveMesh() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'meshctl-demo-'));
  const home = path.join(tmp, 'home');
  const bookinfo = path.join(tmp, 'bookinfo');
  cpSync(path.join(root, 'examples', 'bookinfo'), bookinfo, { recursive: true });
  let port = 8080;
  if (!(await portFree(port))) {
    port = await freePort();
    const gw = path.join(bookinfo, 'gateway.yaml');
    writeFileSync(gw, readFileSync(gw, 'utf8').replace('number: 8080', `number: ${port}`));
    process.stdout.write(`\n    (port 8080 is taken on this machine: the demo's Gateway listens on ${port} instead)\n`);
  }
  let installed = false;
  const uninstall = () => {
    if (!installed) return;
    installed = false;
    step('Always last: stop every app, sidecar and the agent, and remove the temporary mesh home.', ['uninstall', '--yes', '--home', home], [0]);
  };
  const interrupted = () => {
    try {
      uninstall();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    }
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    installed = true;
    try {
      step('Install the local mesh into a temporary home: HAProxy, the mesh CA, the agent.', ['install', '--home', home, ...(yes ? ['--yes'] : [])], [0]);
    } catch (err) {
      if (!yes) process.stderr.write('\nTo let the demo install HAProxy with the package manager without asking, run: npm run demo -- --yes\n');
      throw err;
    }
    step('Apply bookinfo: Workloads (productpage → reviews v1/v2/v3 → ratings), Services, Gateway, routing.', ['apply', '-f', bookinfo, '--home', home], [0]);
    step('Every pod: the app beside its HAProxy sidecar, and the ingress gateway.', ['get', 'pods', '--home', home], [0]);

    const n = 500;
    process.stdout.write(`\n==> ${n} requests to http://127.0.0.1:${port}/productpage through the ingress\n`);
    printCounts('Which reviews version answered, next to the VirtualService weights:', await traffic(port, n), configuredWeights(home), n);
    const jason = await traffic(port, 50, { 'end-user': 'jason' });
    printCounts('The same with the header end-user: jason (a header match routes it to v2):', jason, new Map([['v2', 100]]), 50);

    const routing = path.join(tmp, 'routing-50-50.yaml');
    writeFileSync(routing, readFileSync(path.join(bookinfo, 'routing.yaml'), 'utf8').replace('weight: 80', 'weight: 50').replace('weight: 20', 'weight: 50'));
    step('Shift reviews to 50% v1 / 50% v2: the sidecars take the new weights through their runtime API (no reload), and apply returns once every one serves them.', ['apply', '-f', routing, '--home', home], [0]);
    printCounts('After the shift:', await traffic(port, n), configuredWeights(home), n);
    step('Status: pods ready, sidecars in sync with the revision.', ['status', '--home', home], [0]);
  } finally {
    agent.destroy();
    try {
      uninstall();
    } finally {
      process.removeListener('SIGINT', interrupted);
      process.removeListener('SIGTERM', interrupted);
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

try {
  step('The bookinfo policy as it runs today: no findings.', ['validate', '--assume-ingress-gateway', 'examples/bookinfo/'], [0]);
  step(
    'A proposed change: validate points at the exact line of each problem (exit 1 on errors).',
    ['validate', '--assume-ingress-gateway', 'examples/bookinfo/services.yaml', 'examples/bookinfo/workloads.yaml', 'examples/bookinfo/gateway.yaml', 'examples/changes/routing.yaml'],
    [1],
  );
  if (existsSync(path.join(root, 'dist', 'src', 'commands', 'diff.js'))) {
    step('What the change does to traffic and security, with a risk level per change (exit 1: changes found).', ['diff', 'examples/bookinfo/routing.yaml', 'examples/changes/routing.yaml'], [1]);
  }
  await liveMesh();
  process.stdout.write('\nDemo finished.\n');
} catch (err) {
  process.stderr.write(`\n${err instanceof DemoFailure ? err.message : `The demo failed: ${err.stack ?? err}`}\n`);
  process.exitCode = 1;
}
