// Shared by the micro-benchmarks of one HAProxy (route-cost, obs-cost): loopback ports, HAProxy
// processes stopped when the benchmark exits, a fixed 1 KiB answer behind them, and CPU time or
// instructions per process.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, promises as fs, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

export async function waitPort(port, timeoutMs = 5000) {
  for (let i = 0; i < timeoutMs / 25; i++) {
    const ok = await new Promise((resolve) => { const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); }); c.on('error', () => resolve(false)); });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`port ${port} never opened`);
}

/**
 * HAProxy in the foreground on `cfg`, its stdout (the access log) appended to `stdoutFile` when given;
 * `wrapper` runs it under another program (valgrind).
 */
export function startHaproxy(cfg, stdoutFile, wrapper = []) {
  const out = stdoutFile ? openSync(stdoutFile, 'a') : 'ignore';
  const argv = [...wrapper, 'haproxy', '-db', '-f', cfg];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, 'inherit'] });
  if (typeof out === 'number') closeSync(out);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export function stopHaproxies() {
  for (const c of children) c.kill('SIGTERM');
}

/** An HAProxy answering every request with 200 and 1 KiB, in `dir`; resolves to its port. */
export async function startFixedAnswer(dir) {
  const port = await freePort();
  const cfg = path.join(dir, 'app.cfg');
  await fs.writeFile(cfg, `global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\nfrontend app\n  bind 127.0.0.1:${port}\n  http-request return status 200 content-type text/plain string ${'x'.repeat(1024)}\n`);
  startHaproxy(cfg);
  await waitPort(port);
  return port;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/**
 * CPU seconds a process's threads spent: the scheduler's nanosecond count (schedstat) where the kernel
 * keeps it, since /proc's user and system ticks are too coarse for a few µs per request.
 */
export function cpuSeconds(pid) {
  try {
    let total = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
    return total;
  } catch {
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop().split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  }
}

/** The arguments that make startHaproxy run HAProxy under callgrind, which writes its counts to `outFile`. */
export const callgrindWrapper = (outFile) => ['valgrind', '-q', '--tool=callgrind', `--callgrind-out-file=${outFile}`];

/**
 * The instructions (user space) a process started under callgrindWrapper(`outFile`) runs while `work`
 * runs: no other work on the machine changes the count, where it moves CPU time by several µs.
 */
export async function callgrindInstructions(pid, outFile, work) {
  const control = (what) => {
    const r = spawnSync('callgrind_control', [what, String(pid)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`callgrind_control ${what} ${pid}: ${r.stderr || r.stdout}`);
  };
  control('--zero');
  await work();
  control('--dump');
  const dumps = readdirSync(path.dirname(outFile)).filter((f) => f.startsWith(`${path.basename(outFile)}.`)).sort();
  const text = await fs.readFile(path.join(path.dirname(outFile), dumps.pop()), 'utf8');
  return Number(/^totals: (\d+)/m.exec(text)?.[1]);
}
