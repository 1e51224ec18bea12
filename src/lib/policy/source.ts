// Reads policy paths (files, directories, stdin) into decoded text, reporting unreadable input as sentences.
import { createReadStream, promises as fs, readFileSync, statSync, type Stats } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import { usageError } from '../errors.js';

export type SourceFormat = 'yaml' | 'json';

export interface SourceFile {
  /** The path as the user should read it (relative to the working directory when inside it). */
  path: string;
  format: SourceFormat;
  text: string;
  /** Set when the bytes could not be read as policy text; the loader turns it into a finding. */
  problem?: SourceProblem;
  /** Byte size on disk. */
  size: number;
}

export interface SourceProblem {
  code: 'MSH1001' | 'MSH1002' | 'MSH1003' | 'MSH1004';
  message: string;
  line: number;
  column: number;
}

export const POLICY_EXTENSIONS = ['.yaml', '.yml', '.json'];
/** Largest file read by default: Kubernetes itself refuses objects over 1.5 MiB, so 32 MiB of policy in one file is a mistake. */
export const DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024;

export interface ReadOptions {
  maxFileBytes?: number;
  /** Accept a path that holds no policy file (an empty directory) instead of refusing it. */
  allowEmpty?: boolean;
  /** Read for `-`; tests pass their own. */
  stdin?: () => Promise<Buffer>;
}

export function displayPath(p: string): string {
  if (p === '-') return '<stdin>';
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

function formatOf(p: string, text: string): SourceFormat {
  const ext = path.extname(p).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  // stdin and unknown extensions: JSON when it looks like JSON.
  const first = text.trimStart()[0];
  return first === '{' || first === '[' ? 'json' : 'yaml';
}

/**
 * Reads a stream that has no size to stat (stdin, a FIFO, a process substitution) up to one byte past
 * `max`: enough to say it is over the limit, without holding an endless input (/dev/zero) in memory.
 */
async function readBounded(stream: NodeJS.ReadableStream, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  // Leaving the loop early closes the stream.
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    total += (chunk as Buffer).length;
    if (total > max) break;
  }
  return Buffer.concat(chunks);
}

/** What a path that is neither a file nor a directory is, for the sentence that refuses it. */
function specialKind(st: Stats): string | null {
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return null;
}

/**
 * Expands the given paths into files in a stable order; a path that can't be read is a usage error (exit
 * 2), and so is one that holds no policy file unless `allowEmpty`: in CI a mistyped directory must not pass.
 */
export async function expandPaths(paths: string[], options: { allowEmpty?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push('-');
      continue;
    }
    let st;
    try {
      st = await fs.stat(p);
    } catch (err) {
      throw unreadable(p, err);
    }
    const special = specialKind(st);
    if (special) throw usageError(`${displayPath(p)} is ${special}, not a policy file; pass a file, a directory or - for stdin.`);
    if (st.isDirectory()) {
      const found = await walkDirectory(p);
      if (!found.length && !options.allowEmpty) {
        throw usageError(`Directory ${p} holds no policy file (.yaml, .yml or .json); check the path, or pass --allow-empty to accept it.`);
      }
      for (const f of found) out.push(f);
    } else {
      out.push(p);
    }
  }
  return out;
}

async function walkDirectory(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw usageError(`Cannot read directory ${dir}: ${(err as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (err as Error).message}; check its permissions.`);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) for (const f of await walkDirectory(full)) out.push(f);
    else if (e.isFile() && POLICY_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) out.push(full);
  }
  return out;
}

/** Reads one file; problems with its bytes (binary, bad UTF-8, too large) come back as `problem`, not as exceptions. */
export async function readSource(p: string, options: ReadOptions = {}): Promise<SourceFile> {
  const max = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const shown = displayPath(p);
  let bytes: Buffer;
  if (p === '-') {
    bytes = await (options.stdin ?? (() => readBounded(process.stdin, max)))();
  } else {
    let st: Stats;
    try {
      st = statSync(p);
    } catch (err) {
      throw unreadable(shown, err);
    }
    if (st.isFIFO()) {
      bytes = await readBounded(createReadStream(p), max);
    } else {
      if (st.size > max) {
        return {
          path: shown, format: formatOf(p, ''), text: '', size: st.size,
          problem: {
            code: 'MSH1004', line: 1, column: 1,
            message: `File ${shown} is ${(st.size / 1048576).toFixed(1)} MiB, over the ${(max / 1048576).toFixed(0)} MiB limit; split it or raise --max-file-size.`,
          },
        };
      }
      const special = specialKind(st);
      if (special) throw usageError(`${shown} is ${special}, not a policy file; pass a file, a directory or - for stdin.`);
      try {
        // Synchronous reads: files are read one after another anyway, and the promise API's chunked
        // reads cost more than the read itself for many small files.
        bytes = readFileSync(p);
      } catch (err) {
        throw unreadable(shown, err);
      }
    }
  }
  if (bytes.length > max) {
    return {
      path: shown, format: 'yaml', text: '', size: bytes.length,
      problem: { code: 'MSH1004', line: 1, column: 1, message: `Input ${shown} is over the ${(max / 1048576).toFixed(0)} MiB limit; split it or raise --max-file-size.` },
    };
  }
  if (looksUtf16(bytes)) {
    return {
      path: shown, format: 'yaml', text: '', size: bytes.length,
      problem: { code: 'MSH1003', line: 1, column: 1, message: `File ${shown} is UTF-16 text, not UTF-8; save it as UTF-8 (for example: iconv -f UTF-16 -t UTF-8 ${shown} > ${shown}.utf8).` },
    };
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    const { line, column } = byteLineColumn(bytes, nul);
    return {
      path: shown, format: 'yaml', text: '', size: bytes.length,
      problem: { code: 'MSH1002', line, column, message: `File ${shown} is binary (a NUL byte at line ${line}), not YAML or JSON; remove it from the policy paths.` },
    };
  }
  if (!isUtf8(bytes)) {
    const bad = firstInvalidUtf8(bytes);
    const { line, column } = byteLineColumn(bytes, bad);
    return {
      path: shown, format: 'yaml', text: '', size: bytes.length,
      problem: { code: 'MSH1003', line, column, message: `File ${shown} is not valid UTF-8 (at line ${line}, column ${column}); save it as UTF-8.` },
    };
  }
  const text = bytes.toString('utf8');
  return { path: shown, format: formatOf(p, text), text, size: bytes.length };
}

function unreadable(shown: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return usageError(`Cannot read ${shown}: permission denied; check its permissions.`);
  if (code === 'ENOENT' || code === 'ENOTDIR') return usageError(`Path ${shown} does not exist; pass a policy file, a directory or - for stdin.`);
  return usageError(`Cannot read ${shown}: ${(err as Error).message}.`);
}

/** UTF-16 text starts with a byte-order mark, or (without one) has a NUL beside nearly every ASCII byte. */
function looksUtf16(bytes: Buffer): boolean {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) return true;
  const sample = Math.min(bytes.length, 512) & ~1;
  if (sample < 4) return false;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < sample; i += 2) {
    if (bytes[i] === 0) evenNul++;
    if (bytes[i + 1] === 0) oddNul++;
  }
  const pairs = sample / 2;
  return (evenNul > pairs * 0.9 && oddNul === 0) || (oddNul > pairs * 0.9 && evenNul === 0);
}

function byteLineColumn(bytes: Buffer, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function firstInvalidUtf8(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let need = 0;
    if (b < 0x80) need = 0;
    else if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) need = 2;
    else if (b >= 0xf0 && b <= 0xf4) need = 3;
    else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
    }
    i += need + 1;
  }
  return 0;
}
