// Shared by the benchmarks: time whole processes (median of several runs) and report ratios to a
// baseline measured in the same run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Wall time of one process, in ms; throws when it exits with a code not in `okCodes`. */
export function timeProcess(argv, { okCodes = [0], cwd, input } = {}) {
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd, input, stdio: ['pipe', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (!okCodes.includes(r.status)) throw new Error(`${argv.join(' ')} exited ${r.status}: ${String(r.stderr).slice(0, 500)}`);
  return ms;
}

/** Peak RSS of one process in MiB, when GNU time is there to measure it. */
export function peakRss(argv, { okCodes = [0], cwd } = {}) {
  if (!existsSync('/usr/bin/time')) return undefined;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { cwd, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (!okCodes.includes(r.status)) return undefined;
  const kb = Number(r.stderr.trim().split('\n').pop());
  return Number.isFinite(kb) ? kb / 1024 : undefined;
}

/** The value at quantile `q` (0–1) of `sorted`, ascending (the nearest-rank method); NaN when empty. */
export function percentile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs `fn` once to warm the file cache, then `runs` times; returns the median. */
export function medianOf(runs, fn) {
  fn();
  const values = [];
  for (let i = 0; i < runs; i++) values.push(fn());
  return median(values);
}

export function fmt(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}
