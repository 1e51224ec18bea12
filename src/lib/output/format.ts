// Terminal facts and the machine formats every command shares.
import { dump } from 'js-yaml';

export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR === '1') return true;
  return Boolean(stream.isTTY);
}

export interface Paint {
  red(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  green(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function paint(enabled: boolean): Paint {
  const wrap = (open: number, close: number) => (s: string) => (enabled ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return { red: wrap(31, 39), yellow: wrap(33, 39), blue: wrap(34, 39), green: wrap(32, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The document -o json prints, as YAML: the JSON round trip drops what JSON drops (undefined fields, functions). */
export function toYaml(value: unknown): string {
  return dump(JSON.parse(JSON.stringify(value)) as unknown, { noRefs: true, lineWidth: 120 });
}

/** Writes all of `text` to stdout and resolves once it is flushed (pipes included). */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (!text) return resolve();
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}

export function writeErr(text: string): void {
  process.stderr.write(text);
}

/** Where human progress goes: stdout on a terminal in text mode, stderr otherwise (stdout stays machine-readable). */
export function progressWriter(format: string): (line: string) => void {
  const toStdout = format === 'text' && Boolean(process.stdout.isTTY);
  return (line: string) => (toStdout ? process.stdout : process.stderr).write(`${line}\n`);
}
