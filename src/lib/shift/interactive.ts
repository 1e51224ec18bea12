// What a shift shows and asks around the state machine: the event stream (NDJSON or YAML documents on
// stdout with -o json/yaml, lines of progress otherwise), the countdown to the next analysis (one line
// redrawn on a terminal, a line every ten seconds elsewhere), the questions of the prompt rule (confirm
// the start, --manual's choice before each step, what to do on Ctrl-C), and the signals: the first and
// second Ctrl-C (or SIGTERM) stop the shift at its next safe point, the third leaves at once.
import { EXIT } from '../errors.js';
import { progressWriter } from '../output/format.js';
import { canPrompt, choose, confirm, type Choice } from '../output/prompt.js';
import { renderFrame } from '../output/render.js';
import type { PlannedEvent, ShiftEvent } from './events.js';
import type { InterruptChoice, ManualChoice, Progress } from './machine.js';
import type { ShiftRecord } from './record.js';
import { stepLabel, weightsText } from './plan.js';
import { eventLine, planText, progressLine } from './render.js';
import type { ShiftHooks } from './shift.js';

/** How often a countdown line is printed when it cannot be redrawn in place. */
export const PLAIN_COUNTDOWN_EVERY_MS = 10_000;

/** Interrupts after which the process exits without waiting for the shift to stop. */
export const INTERRUPTS_TO_LEAVE = 3;

export interface Questions {
  confirm(message: string): Promise<boolean>;
  choose<T extends string>(message: string, choices: Choice<T>[], otherwise: T, signal?: AbortSignal): Promise<T>;
}

export interface ShiftConsoleOptions {
  /** -o: text, json or yaml. */
  format: string;
  /** --yes: never ask. */
  yes: boolean;
  /** --manual: ask before each step. */
  manual: boolean;
  /** Where the countdown is drawn; its isTTY decides between redrawing and plain lines. */
  stderr?: { isTTY?: boolean; write(text: string): unknown };
  /** Where lines of progress go (default: stdout on a terminal in text mode, else stderr). */
  progress?: (line: string) => void;
  /** Whether a person can be asked (default: the prompt rule, canPrompt). */
  canAsk?: boolean;
  questions?: Questions;
  now?: () => number;
  /** Leaves the process (default process.exit). */
  exit?: (code: number) => void;
}

export interface ShiftConsole {
  hooks: ShiftHooks;
  /** Aborted by the first interrupt: the shift stops at its next safe point and asks what to do. */
  signal: AbortSignal;
  /** One Ctrl-C or SIGTERM. */
  interrupt(): void;
  /** Takes SIGINT and SIGTERM until close(). */
  listen(): void;
  /** Clears the countdown and gives the signals back. */
  close(): void;
}

const defaultQuestions: Questions = {
  confirm: (message) => confirm(message, { default: true, withoutTerminal: true }),
  choose: (message, choices, otherwise, signal) => choose(message, choices, { otherwise, signal }),
};

export function shiftConsole(options: ShiftConsoleOptions): ShiftConsole {
  const stderr = options.stderr ?? process.stderr;
  const progress = options.progress ?? progressWriter(options.format);
  const now = options.now ?? Date.now;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const questions = options.questions ?? defaultQuestions;
  const canAsk = options.canAsk ?? canPrompt(options.yes);
  const countdownInPlace = Boolean(stderr.isTTY);
  const streamed = options.format === 'json' || options.format === 'yaml';

  let countdownShown = false;
  let lastPlainTick = now();
  const clearCountdown = () => {
    if (countdownShown) stderr.write('\r\u001b[K');
    countdownShown = false;
  };
  const line = (text: string) => {
    clearCountdown();
    progress(text);
  };

  const controller = new AbortController();
  let interrupts = 0;
  const interrupt = () => {
    interrupts += 1;
    // The last resort leaves at once: the record still says which weights every proxy may serve.
    if (interrupts >= INTERRUPTS_TO_LEAVE) exit(EXIT.interrupted);
    controller.abort();
  };
  let listening = false;

  const hooks: ShiftHooks = {
    emit(event: ShiftEvent) {
      if (streamed) void renderFrame(options.format, { document: event, text: () => eventLine(event) });
      if (event.type === 'planned' && event.dryRun) {
        if (!streamed) void renderFrame('text', { document: event, text: () => planText(event) });
        return;
      }
      line(eventLine(event));
    },
    tick(p: Progress) {
      const text = progressLine(p);
      if (countdownInPlace) {
        stderr.write(`\r\u001b[K${text}`);
        countdownShown = true;
      } else if (now() - lastPlainTick >= PLAIN_COUNTDOWN_EVERY_MS) {
        lastPlainTick = now();
        line(text);
      }
    },
    note: (text: string) => line(text),
    async onInterrupt(): Promise<InterruptChoice> {
      clearCountdown();
      if (!canAsk) return 'hold';
      return questions.choose('Interrupted. Hold the shift here, or roll back to the stable subset now?', [
        { name: 'hold (resume later with --resume)', value: 'hold' },
        { name: 'roll back now', value: 'rollback' },
      ], 'hold');
    },
  };
  if (canAsk && !options.manual) {
    hooks.confirm = async (planned: PlannedEvent) => {
      clearCountdown();
      return questions.confirm(`${eventLine(planned)} Start?`);
    };
  }
  if (options.manual) {
    hooks.ask = async (record: ShiftRecord, next: number, signal: AbortSignal): Promise<ManualChoice> => {
      clearCountdown();
      // Nobody answered (Ctrl-C, the terminal went away): the shift waits.
      return questions.choose(manualQuestion(record, next), [
        { name: 'continue to the next step', value: 'continue' },
        { name: 'hold here (resume later with --resume)', value: 'hold' },
        { name: `roll back to ${record.route.from}`, value: 'rollback' },
      ], 'hold', signal);
    };
  }

  return {
    hooks,
    signal: controller.signal,
    interrupt,
    listen() {
      if (listening) return;
      listening = true;
      process.on('SIGINT', interrupt);
      process.on('SIGTERM', interrupt);
    },
    close() {
      clearCountdown();
      if (!listening) return;
      listening = false;
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    },
  };
}

/** --manual's question before step `next`: where the shift goes, and what the last analysis said. */
export function manualQuestion(record: ShiftRecord, next: number): string {
  const last = record.analyses[record.analyses.length - 1];
  const step = record.plan.steps[next];
  const analysis = last ? `${last.outcome}${last.reason ? ` (${last.reason})` : ''}, ${record.route.to} ${last.canary.requests} requests` : 'none yet';
  return `Next: step ${next + 1} of ${record.plan.steps.length} (${stepLabel(step)}: ${weightsText(record.weights.steps[next], record.route.destinations)}). Last analysis: ${analysis}.`;
}
