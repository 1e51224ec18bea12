#!/usr/bin/env node
// npm run demo: meshctl on the bookinfo example — validate the policy, catch a bad change, show what a
// change does to traffic, then run the example as a live local mesh: install into a temporary home,
// apply it, send traffic through the ingress and compare the versions that answered with the
// configured weights, shift reviews to v2 step by step under live traffic (promoted), then to a broken
// v3 (rolled back by its gate), read one proxy and the mesh's traffic, and uninstall (always, even when
// a step fails), unless `npm run demo -- --keep` asks to keep the mesh running to explore it.
// Installing HAProxy (when missing) asks first on a terminal; run unattended (no terminal, as in
// `npm install && npm run demo` from a script) or with `npm run demo -- --yes`, the demo lets install add
// it with the package manager, and install prints every command it runs.
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'run.js');
const yes = process.argv.includes('--yes') || process.argv.includes('-y') || !process.stdin.isTTY;
const keep = process.argv.includes('--keep');
// --port N: the ingress port (default 8080, or a free one when 8080 is taken).
const portFlag = process.argv.indexOf('--port');
const askedPort = portFlag === -1 ? null : Number(process.argv[portFlag + 1]);

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

/** Like step, while requests flow through the ingress (gates judge live traffic); returns the versions that answered. */
async function stepUnderLoad(title, args, expectCodes, port) {
  process.stdout.write(`\n==> meshctl ${args.join(' ')}\n    ${title}\n\n`);
  const load = startLoad(port);
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: 'inherit' });
    child.on('close', (c) => resolve(c));
  });
  const counts = await load.stop();
  process.stdout.write(`\n    exit code ${code}\n`);
  if (!expectCodes.includes(code)) throw new DemoFailure(`The demo expected exit ${expectCodes.join(' or ')} from meshctl ${args.slice(0, 2).join(' ')} and got ${code}.`);
  return counts;
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
/** Requests through the ingress, 4 at a time, until stopped (at most 2 minutes or 30,000 requests). */
function startLoad(port) {
  const counts = new Map();
  let stopped = false;
  let sent = 0;
  const deadline = Date.now() + 120_000;
  const workers = Array.from({ length: 4 }, async () => {
    while (!stopped && sent < 30_000 && Date.now() < deadline) {
      sent++;
      const version = await get(port, {});
      counts.set(version, (counts.get(version) ?? 0) + 1);
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(workers);
      return counts;
    },
  };
}

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
  // In this demo reviews v3 is a broken release: every second answer is an error.
  const workloads = path.join(bookinfo, 'workloads.yaml');
  writeFileSync(workloads, readFileSync(workloads, 'utf8').replace('env: {VERSION: v3}', 'env: {VERSION: v3, FAIL_EVERY: "2"}'));
  let port = askedPort ?? 8080;
  if (askedPort === null && !(await portFree(port))) {
    port = await freePort();
    process.stdout.write(`\n    (port 8080 is taken on this machine: the demo's Gateway listens on ${port} instead)\n`);
  }
  const gw = path.join(bookinfo, 'gateway.yaml');
  writeFileSync(gw, readFileSync(gw, 'utf8').replace('number: 8080', `number: ${port}`));
  let installed = false;
  let kept = null;
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

    const shiftFlags = ['--interval', '3s', '--min-requests', '10', '--yes', '--home', home];
    const promoted = await stepUnderLoad(
      'A canary: reviews moves to v2 in two steps (50%, then 100%) while requests flow; after each step its gates read the sidecars\' access logs (success rate, p99) and only then go on.',
      ['route', 'shift', 'reviews', '--to', 'v2', '--steps', '50,100', ...shiftFlags],
      [0],
      port,
    );
    printCounts('Which reviews version answered during that shift (configured: the weights it ended with):', promoted, configuredWeights(home), [...promoted.values()].reduce((a, b) => a + b, 0));
    await stepUnderLoad(
      'A broken release: v3 fails every second request. Its first step (20%) fails the success-rate gate, and the shift rolls back to v2 by itself (exit 1).',
      ['route', 'shift', 'reviews', '--to', 'v3', '--steps', '20,50,100', ...shiftFlags],
      [1],
      port,
    );
    step("One proxy's view: productpage's sidecar, its requests to each upstream subset with success rates and latency.", ['inspect', 'pod', 'productpage-v1-0', '--section', 'stats', '--home', home], [0]);
    step('Traffic per service and subset over the last minute, from every sidecar: v3\'s failures are there.', ['top', '--home', home], [0]);
    if (keep) {
      installed = false;
      kept = { home, tmp, port };
    }
  } finally {
    agent.destroy();
    try {
      uninstall();
    } finally {
      process.removeListener('SIGINT', interrupted);
      process.removeListener('SIGTERM', interrupted);
      if (!kept) rmSync(tmp, { recursive: true, force: true });
    }
  }
  return kept;
}

/** The last lines: how to keep the mesh (default run), or where it runs and what to try (--keep). */
function epilogue(kept) {
  const cli = `node ${path.relative(process.cwd(), bin) || bin}`;
  if (!kept) {
    process.stdout.write('\nDemo finished. To keep the mesh running and explore it yourself, run: npm run demo -- --keep\n');
    return;
  }
  const lines = [
    '',
    `Demo finished. The mesh keeps running in ${kept.home}; bookinfo answers at http://127.0.0.1:${kept.port}/productpage.`,
    'Try (meshctl is node bin/run.js here, or meshctl after npm link):',
    `  export MESHCTL_HOME=${kept.home}`,
    `  ${cli} get pods`,
    `  ${cli} route status reviews`,
    `  ${cli} route shift reviews --to v1 --steps 25,100 --interval 10s --dry-run`,
    `  ${cli} inspect pod reviews-v2-0 --section endpoints`,
    `  ${cli} top --watch`,
    `  ${cli} logs reviews-v3-0`,
    'When done, stop it and remove its files:',
    `  ${cli} uninstall --yes --home ${kept.home} && rm -rf ${kept.tmp}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
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
  epilogue(await liveMesh());
} catch (err) {
  process.stderr.write(`\n${err instanceof DemoFailure ? err.message : `The demo failed: ${err.stack ?? err}`}\n`);
  process.exitCode = 1;
}
