// The mesh's span store: every span the proxies log, kept in the mesh home by the agent as Zipkin v2
// JSON lines in segment files, bounded by size and by age. The agent appends a new segment when the
// current one is full or old, and drops whole segments, oldest first, past either bound; `meshctl
// trace` reads every segment, then what the agent has not stored yet from the access logs' ends.
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { readJson, writeJsonAtomic } from '../../system/atomic-file.js';
import type { ZipkinSpan } from '../../runtime/traces.js';
import type { HomeLayout } from '../home.js';

export interface SpanRetention {
  /** The store's whole size, every segment counted. */
  maxBytes: number;
  /** A segment whose newest span is older than this is dropped. */
  maxAgeMs: number;
}

/** A day of spans, in at most 64 MiB: enough for the traces one looks into by hand, small beside a busy proxy's access log. */
export const DEFAULT_SPAN_RETENTION: SpanRetention = { maxBytes: 64 * 1024 * 1024, maxAgeMs: 24 * 3600 * 1000 };
export const MIN_SPAN_STORE_BYTES = 16 * 1024;
export const MIN_SPAN_STORE_AGE = '1m';
export const MAX_SPAN_STORE_AGE = '30d';

/** A store holds this many segments when full, so that dropping one frees an eighth of it. */
const SEGMENTS = 8;
const SEGMENT_NAME = /^spans-(\d{13})-(\d{6})\.ndjson$/;

export interface SpanStorePaths {
  dir: string;
  /** The retention setting (absent: the defaults). */
  retention: string;
  /** Where the agent has read each access log up to: what lies past it is not stored yet. */
  cursor: string;
}

export function spanStorePaths(layout: HomeLayout): SpanStorePaths {
  const dir = path.join(layout.root, 'telemetry', 'spans');
  return { dir, retention: path.join(dir, 'retention.json'), cursor: path.join(dir, 'cursor.json') };
}

export async function readSpanRetention(layout: HomeLayout): Promise<SpanRetention> {
  const saved = await readJson<Partial<SpanRetention> | null>(spanStorePaths(layout).retention, null).catch(() => null);
  return { ...DEFAULT_SPAN_RETENTION, ...(saved ?? {}) };
}

export async function writeSpanRetention(layout: HomeLayout, retention: SpanRetention): Promise<void> {
  const p = spanStorePaths(layout);
  await fs.mkdir(p.dir, { recursive: true, mode: 0o700 });
  await writeJsonAtomic(p.retention, retention, 0o644);
}

/** `64MiB`, `512KiB`, `1GiB`, `1048576` → bytes; null when the text is no size. */
export function parseByteSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$/i.exec(text);
  if (!m) return null;
  const unit = (m[2] ?? 'B').toLowerCase();
  const scale: Record<string, number> = { b: 1, kib: 1024, kb: 1000, mib: 1024 ** 2, mb: 1000 ** 2, gib: 1024 ** 3, gb: 1000 ** 3 };
  return Math.floor(Number(m[1]) * scale[unit]!);
}

export function byteSizeText(bytes: number): string {
  for (const [unit, scale] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  return `${bytes}B`;
}

interface Segment {
  file: string;
  bytes: number;
  /** When its last span was written. */
  modifiedMs: number;
}

async function segments(dir: string): Promise<Segment[]> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => SEGMENT_NAME.test(n)).sort();
  const found = await Promise.all(names.map(async (n) => {
    const st = await fs.stat(path.join(dir, n)).catch(() => null);
    return st ? { file: path.join(dir, n), bytes: st.size, modifiedMs: st.mtimeMs } : null;
  }));
  return found.filter((s): s is Segment => s !== null);
}

/** The agent's writer. Appends are serialised by the caller (the metrics endpoint's ingest). */
export class SpanStore {
  private retention: SpanRetention = DEFAULT_SPAN_RETENTION;
  private current: { file: string; bytes: number; openedMs: number } | null = null;
  private sequence = 0;

  constructor(private readonly dir: string, private readonly now: () => number = Date.now) {}

  configure(retention: SpanRetention): void {
    this.retention = retention;
  }

  private get segmentBytes(): number {
    return Math.max(4096, Math.floor(this.retention.maxBytes / SEGMENTS));
  }

  private get segmentAgeMs(): number {
    return Math.max(1000, Math.floor(this.retention.maxAgeMs / SEGMENTS));
  }

  /** Adds spans to the current segment (a new one when it is full or old), then drops what is past the bounds. */
  async append(spans: readonly ZipkinSpan[]): Promise<void> {
    if (!spans.length) {
      await this.prune();
      return;
    }
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const now = this.now();
    let text = '';
    for (const s of spans) {
      text += `${JSON.stringify(s)}\n`;
      if (text.length >= this.segmentBytes) {
        await this.write(text, now);
        text = '';
      }
    }
    if (text) await this.write(text, now);
    await this.prune();
  }

  private async write(text: string, now: number): Promise<void> {
    const c = this.current;
    if (!c || c.bytes >= this.segmentBytes || now - c.openedMs >= this.segmentAgeMs) {
      let file: string;
      // A segment is never appended to by a later writer (a restarted agent): its age is its own.
      do {
        this.sequence = (this.sequence + 1) % 1_000_000;
        file = path.join(this.dir, `spans-${String(now).padStart(13, '0')}-${String(this.sequence).padStart(6, '0')}.ndjson`);
      } while (await fs.access(file).then(() => true, () => false));
      this.current = { file, bytes: 0, openedMs: now };
    }
    await fs.appendFile(this.current!.file, text, { mode: 0o644 });
    this.current!.bytes += Buffer.byteLength(text);
  }

  /** Drops whole segments, oldest first, while the store is over its size, and every segment past its age. */
  async prune(): Promise<void> {
    const all = await segments(this.dir);
    let total = all.reduce((n, s) => n + s.bytes, 0);
    const oldest = this.now() - this.retention.maxAgeMs;
    for (const s of all) {
      if (total <= this.retention.maxBytes && s.modifiedMs >= oldest) break;
      await fs.rm(s.file, { force: true });
      total -= s.bytes;
      if (s.file === this.current?.file) this.current = null;
    }
  }
}

/** Every span the store holds, oldest segment first. */
export async function readStoredSpans(dir: string): Promise<ZipkinSpan[]> {
  const spans: ZipkinSpan[] = [];
  for (const s of await segments(dir)) {
    // A segment dropped between the listing and the read holds nothing any more.
    const text = await fs.readFile(s.file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        spans.push(JSON.parse(line) as ZipkinSpan);
      } catch {
        // A line still being appended.
      }
    }
  }
  return spans;
}

/** The store's segments and their total size (status, tests). */
export async function spanStoreUsage(dir: string): Promise<{ segments: number; bytes: number }> {
  const all = await segments(dir);
  return { segments: all.length, bytes: all.reduce((n, s) => n + s.bytes, 0) };
}

export function readSpanCursor(layout: HomeLayout): Promise<Record<string, number>> {
  return readJson<Record<string, number>>(spanStorePaths(layout).cursor, {}).catch(() => ({}));
}

export function writeSpanCursor(layout: HomeLayout, offsets: Record<string, number>): Promise<void> {
  return writeJsonAtomic(spanStorePaths(layout).cursor, offsets, 0o644);
}
