// What a person sees and is asked while a shift runs: the countdown (redrawn on a terminal, a line every
// ten seconds elsewhere), the prompt rule (no question without a terminal or with --yes), --manual's
// question, and Ctrl-C (the first stops the shift at a safe point, the third leaves with 130).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INTERRUPTS_TO_LEAVE, PLAIN_COUNTDOWN_EVERY_MS, manualQuestion, shiftConsole, type Questions, type ShiftConsoleOptions } from '../../../src/lib/shift/interactive.js';
import type { Progress } from '../../../src/lib/shift/machine.js';
import type { ShiftRecord } from '../../../src/lib/shift/record.js';
import type { SubsetFigures } from '../../../src/lib/shift/gates.js';
import type { ShiftEvent } from '../../../src/lib/shift/events.js';

const figures = (subset: string, requests: number): SubsetFigures => ({
  subset,
  requests,
  statusClasses: { '1xx': 0, '2xx': requests, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 },
  successRate: requests ? 100 : null,
  ratePerSecond: requests / 10,
  latencyMs: { p50: requests ? 3 : null, p90: requests ? 8 : null, p95: requests ? 9 : null, p99: requests ? 9 : null },
  retries: 0,
});

const record = {
  cursor: 0,
  plan: { steps: [{ kind: 'weight', weight: 20 }, { kind: 'weight', weight: 100 }] },
  weights: { steps: [{ v1: 80, v2: 20 }, { v1: 0, v2: 100 }] },
  route: { from: 'v1', to: 'v2', destinations: ['v1', 'v2'] },
  analyses: [{ outcome: 'passed', canary: figures('v2', 31), stable: figures('v1', 120) }],
} as unknown as ShiftRecord;

const progress = (remainingMs: number): Progress => ({ record, remainingMs, canary: figures('v2', 12), stable: figures('v1', 48) });

const hold: ShiftEvent = { type: 'hold', time: '2026-01-01T00:00:00.000Z', shift: 's1', host: 'reviews.default.svc.cluster.local', step: 1, steps: 2, weights: { v1: 80, v2: 20 }, reason: 'not enough traffic' } as unknown as ShiftEvent;

interface Seen {
  stderr: string[];
  progress: string[];
  asked: string[];
  exits: number[];
}

function console_(options: Partial<ShiftConsoleOptions> & { tty?: boolean; clock?: { now: number }; answers?: Partial<Questions> } = {}) {
  const seen: Seen = { stderr: [], progress: [], asked: [], exits: [] };
  const questions: Questions = {
    confirm: async (message) => {
      seen.asked.push(message);
      return true;
    },
    choose: async (message, _choices, otherwise) => {
      seen.asked.push(message);
      return otherwise;
    },
    ...options.answers,
  };
  const terminal = shiftConsole({
    format: 'text',
    yes: false,
    manual: false,
    canAsk: false,
    stderr: { isTTY: options.tty ?? false, write: (t: string) => seen.stderr.push(t) },
    progress: (line) => seen.progress.push(line),
    questions,
    now: () => options.clock?.now ?? 0,
    exit: (code) => void seen.exits.push(code),
    ...options,
  });
  return { terminal, seen };
}

test('on a terminal the countdown is one line redrawn in place, cleared before the next line of progress', () => {
  const { terminal, seen } = console_({ tty: true });
  terminal.hooks.tick!(progress(9_400));
  terminal.hooks.tick!(progress(8_400));
  assert.deepEqual(seen.stderr.map((s) => s.startsWith('\r\u001b[K')), [true, true]);
  assert.match(seen.stderr[1]!, /step 1\/2 20% · analysis in 9s · v2 12 req, 100% ok, p99 9 ms · v1 48 req/);
  assert.deepEqual(seen.progress, [], 'a countdown on a terminal is not a line of progress');
  terminal.hooks.emit(hold);
  assert.equal(seen.stderr[2], '\r\u001b[K', 'the countdown was not cleared before the event line');
  assert.equal(seen.progress.length, 1);
  assert.match(seen.progress[0]!, /not enough traffic/);
  terminal.close();
  assert.equal(seen.stderr.length, 3, 'close cleared a countdown that was no longer shown');
});

test('without a terminal the countdown is a plain line at most every ten seconds', () => {
  const clock = { now: 0 };
  const { terminal, seen } = console_({ tty: false, clock });
  for (let ms = 1_000; ms <= 25_000; ms += 1_000) {
    clock.now = ms;
    terminal.hooks.tick!(progress(30_000 - ms));
  }
  assert.equal(seen.stderr.length, 0, 'a redraw sequence was written where there is no terminal');
  assert.equal(seen.progress.length, Math.floor(25_000 / PLAIN_COUNTDOWN_EVERY_MS));
  assert.match(seen.progress[0]!, /analysis in 20s/);
  assert.match(seen.progress[1]!, /analysis in 10s/);
});

test('nobody is asked without a terminal: the start is not confirmed, and Ctrl-C holds the shift', async () => {
  const { terminal, seen } = console_({ canAsk: false });
  assert.equal(terminal.hooks.confirm, undefined, 'a start confirmation without a terminal');
  assert.equal(terminal.hooks.ask, undefined);
  assert.equal(await terminal.hooks.onInterrupt(), 'hold');
  assert.deepEqual(seen.asked, []);
});

test('on a terminal the start is confirmed and Ctrl-C offers hold or roll back; a prompt nobody answers holds', async () => {
  const { terminal, seen } = console_({ canAsk: true, answers: { choose: async (message, choices, otherwise) => {
    seen.asked.push(`${message} [${choices.map((c) => c.value).join('|')}] otherwise ${otherwise}`);
    return otherwise;
  } } });
  const planned = { type: 'planned', time: '', shift: 's1', host: 'reviews.default.svc.cluster.local', step: 0, steps: 2, weights: { v1: 100, v2: 0 }, virtualService: 'default/reviews', route: 'http[0]', from: 'v1', to: 'v2', plan: [{ kind: 'weight', weight: 20, weights: { v1: 80, v2: 20 } }], intervalMs: 30_000, gates: { minSuccessRate: 99, maxLatencyP99Ms: 500, minRequests: 20, failureThreshold: 1, onNoTraffic: 'hold' }, minPromoteMs: 60_000, rollbackMs: 30_000, rollbackWeights: { v1: 100, v2: 0 }, abortWeights: { v1: 100, v2: 0 }, warnings: [], proxies: ['a'], dryRun: false, resumed: false } as Extract<ShiftEvent, { type: 'planned' }>;
  assert.equal(await terminal.hooks.confirm!(planned), true);
  assert.match(seen.asked[0]!, /^Shifting reviews\.default\.svc\.cluster\.local from v1 to v2 .* Start\?$/);
  assert.equal(await terminal.hooks.onInterrupt(), 'hold');
  assert.match(seen.asked[1]!, /^Interrupted\. Hold the shift here, or roll back .* \[hold\|rollback\] otherwise hold$/);
});

test('--manual asks before each step with where the shift goes and what the last analysis said; no answer holds', async () => {
  const { terminal, seen } = console_({ canAsk: true, manual: true });
  assert.equal(terminal.hooks.confirm, undefined, '--manual asks at every step, not once at the start');
  assert.equal(await terminal.hooks.ask!(record, 1, new AbortController().signal), 'hold');
  assert.equal(seen.asked[0], 'Next: step 2 of 2 (100%: v1 0 / v2 100). Last analysis: passed, v2 31 requests.');
  assert.equal(manualQuestion({ ...record, analyses: [] } as unknown as ShiftRecord, 0), 'Next: step 1 of 2 (20%: v1 80 / v2 20). Last analysis: none yet.');
});

test('Ctrl-C stops the shift at its next safe point; the third leaves at once with 130', () => {
  const { terminal, seen } = console_();
  terminal.interrupt();
  assert.equal(terminal.signal.aborted, true);
  assert.deepEqual(seen.exits, []);
  for (let n = 2; n <= INTERRUPTS_TO_LEAVE; n++) terminal.interrupt();
  assert.deepEqual(seen.exits, [130]);
});

test('listen takes SIGINT and SIGTERM from the process and close gives them back', () => {
  const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
  const { terminal } = console_();
  terminal.listen();
  assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], [before[0]! + 1, before[1]! + 1]);
  process.emit('SIGTERM');
  assert.equal(terminal.signal.aborted, true);
  terminal.close();
  assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before);
});
