// Reads policy files as they were at a git revision, straight from git's object store: no checkout, no
// index or working-tree file is touched, so a pipeline can diff `origin/main` against its working tree.
import path from 'node:path';
import { POLICY_EXTENSIONS, displayPath, DEFAULT_MAX_FILE_BYTES, type SourceFile } from '../source.js';
import { environmentError, usageError } from '../../errors.js';
import { runCommand } from '../../system/processes.js';

export interface RevisionFiles {
  sources: SourceFile[];
  /** Paths (as given) that name nothing at the revision. */
  missing: string[];
}

interface TreeEntry {
  object: string;
  /** Path from the repository's top. */
  file: string;
}

async function git(args: string[], cwd: string, input?: string): Promise<{ stdout: Buffer; exitCode: number; stderr: string }> {
  try {
    const r = await runCommand('git', args, { cwd, input, timeoutMs: null });
    return { stdout: r.stdoutBytes, exitCode: r.code ?? 1, stderr: r.stderr };
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') throw environmentError('git is not installed or not on PATH; --base reads the old policy through git, so install git or diff two paths instead.');
    throw err;
  }
}

function formatOf(file: string, text: string): SourceFile['format'] {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  const first = text.trimStart()[0];
  return first === '{' || first === '[' ? 'json' : 'yaml';
}

function lineOf(bytes: Buffer, offset: number): number {
  let line = 1;
  for (let i = bytes.indexOf(0x0a); i !== -1 && i < offset; i = bytes.indexOf(0x0a, i + 1)) line++;
  return line;
}

/** A blob as the loader reads a file: binary, non-UTF-8 and oversized content come back as problems. */
function toSource(shown: string, bytes: Buffer, maxBytes: number): SourceFile {
  const base = { path: shown, format: 'yaml' as const, text: '', size: bytes.length };
  if (bytes.length > maxBytes) {
    return { ...base, problem: { code: 'MSH1004', line: 1, column: 1, message: `File ${shown} is ${(bytes.length / 1048576).toFixed(1)} MiB, over the ${(maxBytes / 1048576).toFixed(0)} MiB limit; split it or raise --max-file-size.` } };
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    const line = lineOf(bytes, nul);
    return { ...base, problem: { code: 'MSH1002', line, column: 1, message: `File ${shown} is binary (a NUL byte at line ${line}), not YAML or JSON; remove it from the policy paths.` } };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ...base, problem: { code: 'MSH1003', line: 1, column: 1, message: `File ${shown} is not valid UTF-8; save it as UTF-8.` } };
  }
  return { path: shown, format: formatOf(shown, text), text, size: bytes.length };
}

function parseTree(out: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  for (const record of out.toString('utf8').split('\0')) {
    if (!record) continue;
    const tab = record.indexOf('\t');
    const [mode, type, object] = record.slice(0, tab).split(' ');
    // Only regular files: symbolic links and submodules hold no policy.
    if (type !== 'blob' || mode === '120000') continue;
    entries.push({ object: object!, file: record.slice(tab + 1) });
  }
  return entries;
}

/** Reads `git cat-file --batch` output: `<object> blob <size>\n<bytes>\n` per object. */
function parseBatch(out: Buffer, count: number): Buffer[] {
  const blobs: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const nl = out.indexOf(0x0a, at);
    const header = out.subarray(at, nl).toString('utf8').split(' ');
    const size = Number(header[2]);
    if (header[1] !== 'blob' || !Number.isFinite(size)) throw new Error(`git cat-file answered "${header.join(' ')}"`);
    blobs.push(out.subarray(nl + 1, nl + 1 + size));
    at = nl + 1 + size + 1;
  }
  return blobs;
}

const hidden = (rel: string): boolean => rel.split('/').some((s) => s.startsWith('.'));

/**
 * The policy files under `paths` (relative to `cwd`, as for the working tree) at `revision`, read the way
 * the loader reads a directory: .yaml, .yml and .json files, hidden ones skipped, a named file always read.
 */
export async function readRevision(revision: string, paths: string[], options: { cwd?: string; maxFileBytes?: number } = {}): Promise<RevisionFiles> {
  const cwd = options.cwd ?? process.cwd();
  const top = await git(['rev-parse', '--show-toplevel'], cwd);
  if (top.exitCode !== 0) throw usageError(`${displayPath(cwd) || '.'} is not inside a git repository; --base reads OLD from git, so run meshctl diff inside the checkout.`);
  const root = top.stdout.toString('utf8').trim();
  if (revision.startsWith('-')) throw usageError(`--base ${revision} is not a revision; pass a commit, branch or tag such as origin/main.`);
  const verified = await git(['rev-parse', '--verify', '--quiet', `${revision}^{commit}`], cwd);
  if (verified.exitCode !== 0) throw usageError(`Revision ${revision} is not known to git here; fetch it (e.g. git fetch origin) or pass a commit, branch or tag that exists.`);
  const commit = verified.stdout.toString('utf8').trim();

  const chosen = new Map<string, TreeEntry>();
  const missing: string[] = [];
  for (const p of paths) {
    const abs = path.resolve(cwd, p);
    const rel = path.relative(root, abs).split(path.sep).join('/');
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw usageError(`Path ${p} is outside the git repository at ${root}; --base can only read paths inside it.`);
    const listed = await git(['ls-tree', '-r', '-z', '--full-tree', commit, '--', rel || '.'], cwd);
    if (listed.exitCode !== 0) throw usageError(`git could not list ${p} at ${revision}: ${listed.stderr.trim()}`);
    const entries = parseTree(listed.stdout);
    const explicit = entries.find((e) => e.file === rel);
    const picked = explicit
      ? [explicit]
      : entries.filter((e) => POLICY_EXTENSIONS.includes(path.extname(e.file).toLowerCase()) && !hidden(rel ? e.file.slice(rel.length + 1) : e.file));
    if (!picked.length && !entries.length) missing.push(p);
    for (const e of picked) chosen.set(e.file, e);
  }
  const entries = [...chosen.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  if (!entries.length) return { sources: [], missing };
  const batch = await git(['cat-file', '--batch'], cwd, entries.map((e) => `${e.object}\n`).join(''));
  if (batch.exitCode !== 0) throw usageError(`git could not read the files at ${revision}: ${batch.stderr.trim()}`);
  const blobs = parseBatch(batch.stdout, entries.length);
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const sources = entries.map((e, i) => toSource(`${revision}:${displayPath(path.join(root, e.file))}`, blobs[i]!, maxBytes));
  return { sources, missing };
}
