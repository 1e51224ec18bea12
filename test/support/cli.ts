// Runs the real meshctl binary as a user would, and captures what they would see.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { BIN, ROOT } from './shared.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  input?: string | Buffer;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as another user (uid, gid); used to make permission errors real when tests run as root. */
  asUser?: number;
  timeoutMs?: number;
  /** Sees standard error as it arrives (meshctlAsync only): e.g. to act once a wait has begun. */
  onStderr?: (soFar: string) => void;
}

export function meshctl(args: string[], options: CliOptions = {}): CliResult {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...options.env };
  delete env.FORCE_COLOR;
  const cmd = options.asUser !== undefined ? 'setpriv' : process.execPath;
  const argv = options.asUser !== undefined
    ? [`--reuid=${options.asUser}`, `--regid=${options.asUser}`, '--clear-groups', process.execPath, BIN, ...args]
    : [BIN, ...args];
  const r = spawnSync(cmd, argv, {
    cwd: options.cwd ?? ROOT,
    env,
    input: options.input,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Async variant, for tests that run meshctl beside a server in the same process. */
export function meshctlAsync(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const env = { ...process.env, NO_COLOR: '1', ...options.env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      options.onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** No stack trace reaches the user. */
export function hasStackTrace(text: string): boolean {
  return /\n\s+at .+\(.+:\d+:\d+\)/.test(text) || /^\s+at /m.test(text);
}

/** Input refused as a user should see it: exit `code`, nothing on stdout, one sentence on stderr matching `message`. */
export function assertRefused(r: { code: number | null; stdout: string; stderr: string }, code: number, message: RegExp, label: string): void {
  assert.equal(r.code, code, `${label}: ${r.stderr}`);
  assert.equal(r.stdout, '', label);
  assert.match(r.stderr.trim(), message, label);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(!hasStackTrace(r.stderr), r.stderr);
}
