// meshctl's prompt rule, in one place: a question is asked only when stdin and stderr are terminals and
// --yes was not given; otherwise the command does what its help says it does without a person. Prompts
// write to stderr, so stdout stays the command's result.

/** True when a person can be asked: stdin and stderr are terminals, and --yes was not given. */
export function canPrompt(yes = false): boolean {
  return !yes && Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY);
}

export interface ConfirmRule {
  /** --yes: the answer is yes without asking. */
  yes?: boolean;
  /** The answer a person gets by pressing Enter. */
  default?: boolean;
  /** What happens when nobody can be asked (no terminal): an answer, or a function that throws the command's usage error. */
  withoutTerminal: boolean | (() => boolean);
}

/** A yes/no question under the prompt rule; Ctrl-C or a terminal that goes away is a no. */
export async function confirm(message: string, rule: ConfirmRule): Promise<boolean> {
  if (rule.yes) return true;
  if (!canPrompt()) return typeof rule.withoutTerminal === 'function' ? rule.withoutTerminal() : rule.withoutTerminal;
  const prompts = await import('@inquirer/prompts');
  try {
    return await prompts.confirm({ message, default: rule.default ?? false }, { output: process.stderr });
  } catch {
    return false;
  }
}

export interface Choice<T extends string> {
  name: string;
  value: T;
}

/** One of `choices`, asked under the prompt rule; `otherwise` when nobody can be asked, nobody answers (Ctrl-C, `signal`) or the terminal goes away. */
export async function choose<T extends string>(message: string, choices: Choice<T>[], options: { otherwise: T; yes?: boolean; signal?: AbortSignal }): Promise<T> {
  if (!canPrompt(options.yes)) return options.otherwise;
  const prompts = await import('@inquirer/prompts');
  try {
    return await prompts.select({ message, choices }, { output: process.stderr, ...(options.signal ? { signal: options.signal } : {}) });
  } catch {
    return options.otherwise;
  }
}
