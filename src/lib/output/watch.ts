// The loop behind every command that watches until told to stop (route status --watch, logs -f,
// top --watch, proxy-status --wait): it owns Ctrl-C (and SIGTERM), which ends the watch cleanly, after
// the command printed what it had, with exit code 130.
import { EXIT } from '../errors.js';

export interface Watch {
  /** Aborted on Ctrl-C or SIGTERM: pass it to whatever waits. */
  readonly signal: AbortSignal;
  readonly interrupted: boolean;
  /** Waits `ms`, or less when interrupted; resolves true when the watch goes on. */
  pause(ms: number): Promise<boolean>;
}

export interface WatchEnd<T> {
  value: T;
  interrupted: boolean;
  /** 130 when interrupted, else the command's own code. */
  exitCode(otherwise: number): number;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Runs `body` with a Watch until it returns; the signal handlers are gone once it has. */
export async function watch<T>(body: (w: Watch) => Promise<T>): Promise<WatchEnd<T>> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  for (const s of SIGNALS) process.on(s, stop);
  const w: Watch = {
    signal: controller.signal,
    get interrupted() {
      return controller.signal.aborted;
    },
    pause(ms) {
      if (controller.signal.aborted) return Promise.resolve(false);
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          controller.signal.removeEventListener('abort', done);
          resolve(!controller.signal.aborted);
        };
        const timer = setTimeout(done, ms);
        controller.signal.addEventListener('abort', done);
      });
    },
  };
  try {
    const value = await body(w);
    const interrupted = controller.signal.aborted;
    return { value, interrupted, exitCode: (otherwise) => (interrupted ? EXIT.interrupted : otherwise) };
  } finally {
    for (const s of SIGNALS) process.off(s, stop);
  }
}
