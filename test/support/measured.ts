// Runs the real meshctl binary with its standard output in a file, and reports the peak memory the process
// itself saw (resident set, from inside it at exit), so tests can hold a run to a memory bound.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, ROOT } from './shared.js';

export interface MeasuredRun {
  code: number;
  /** Where standard output was written; read it with readFileSync. */
  stdoutPath: string;
  stdoutBytes: number;
  stderr: string;
  /** Peak resident set size of the meshctl process, in bytes. */
  peakRss: number;
  seconds: number;
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'meshctl-measured-'));
const preload = path.join(scratch, 'peak-rss.mjs');
writeFileSync(
  preload,
  "import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(process.env.MESHCTL_TEST_PEAK_RSS_FILE, String(process.resourceUsage().maxRSS * 1024)));\n",
);
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
let runs = 0;

export function measuredMeshctl(args: string[], timeoutMs = 120_000): Promise<MeasuredRun> {
  const id = ++runs;
  const stdoutPath = path.join(scratch, `stdout-${id}`);
  const rssPath = path.join(scratch, `rss-${id}`);
  const out = openSync(stdoutPath, 'w');
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', MESHCTL_TEST_PEAK_RSS_FILE: rssPath };
  delete env.FORCE_COLOR;
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', pathToFileURL(preload).href, BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', out, 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      closeSync(out);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      closeSync(out);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      let peakRss = Number.NaN;
      try {
        peakRss = Number(readFileSync(rssPath, 'utf8'));
      } catch {
        // The process died before its exit handler ran: the bound checks fail on NaN.
      }
      resolve({ code: code ?? -1, stdoutPath, stdoutBytes: statSync(stdoutPath).size, stderr, peakRss, seconds });
    });
  });
}

/** Runs `jobs` at most `width` at a time, so a test keeps to its share of a small machine. */
export async function inPool<T>(width: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return results;
}
