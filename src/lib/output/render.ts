// The one way a command prints its result. JSON and YAML are the same document; text and the formats a
// command adds (sarif, github, markdown, wide, name) are the command's own renderings of it. A stream
// (route shift's events, the frames of a watch) prints one document at a time: a JSON line (NDJSON), a
// YAML document after `---`, or text.
import { toJson, toYaml, writeOut } from './format.js';

export type Rendering = () => string | Promise<string>;

export interface Renderable {
  /** What -o json and -o yaml print. */
  document: unknown;
  /** What a person reads (-o text, and any format the command has no rendering for). */
  text: Rendering;
  /** The command's other formats by name (sarif, github, markdown, wide, name). */
  formats?: Record<string, Rendering>;
}

/** Renders `result` in `format` and writes it to stdout; resolves once it is flushed. */
export async function render(format: string, result: Renderable): Promise<void> {
  await writeOut(await rendered(format, result));
}

/** Renders one document of a stream in `format` and writes it to stdout. */
export async function renderFrame(format: string, result: Renderable): Promise<void> {
  if (format === 'json') return writeOut(`${JSON.stringify(result.document)}\n`);
  if (format === 'yaml') return writeOut(`---\n${toYaml(result.document)}`);
  return writeOut(await rendered(format, result));
}

/** True for the formats a program reads: nothing else may reach stdout with them. */
export function isMachineFormat(format: string): boolean {
  return format !== 'text' && format !== 'wide';
}

async function rendered(format: string, result: Renderable): Promise<string> {
  const own = result.formats?.[format];
  if (own) return own();
  if (format === 'json') return toJson(result.document);
  if (format === 'yaml') return toYaml(result.document);
  return result.text();
}
