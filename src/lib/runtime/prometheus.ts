// The Prometheus text exposition format, as Envoy (/stats/prometheus) and HAProxy write it:
// families with `# TYPE`, samples with labels, values that may be NaN or ±Inf. `# HELP` lines are optional.

export interface Sample {
  /** The sample's own name (for histograms: …_bucket, …_sum, …_count). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
}

const SUFFIXES = ['_bucket', '_sum', '_count'];

/** Parses exposition text into families (samples without a `# TYPE` line form untyped families). */
export function parsePrometheusText(text: string): Family[] {
  const families = new Map<string, Family>();
  const typed = new Map<string, Family['type']>();
  const familyOf = (sampleName: string): Family => {
    let base = sampleName;
    for (const s of SUFFIXES) {
      const stem = sampleName.slice(0, -s.length);
      if (sampleName.endsWith(s) && (typed.get(stem) === 'histogram' || typed.get(stem) === 'summary')) base = stem;
    }
    let f = families.get(base);
    if (!f) {
      f = { name: base, type: typed.get(base) ?? 'untyped', samples: [] };
      families.set(base, f);
    }
    return f;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m) {
        const type = (['counter', 'gauge', 'histogram', 'summary'].includes(m[2]!) ? m[2] : 'untyped') as Family['type'];
        typed.set(m[1]!, type);
        const existing = families.get(m[1]!);
        if (existing) existing.type = type;
      }
      continue;
    }
    const sample = parseSampleLine(line);
    if (sample) familyOf(sample.name).samples.push(sample);
  }
  return [...families.values()];
}

function parseSampleLine(line: string): Sample | null {
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  let name: string;
  let labels: Record<string, string> = {};
  let rest: string;
  if (brace >= 0 && (space < 0 || brace < space)) {
    name = line.slice(0, brace);
    const parsed = parseLabels(line, brace + 1);
    if (!parsed) return null;
    labels = parsed.labels;
    rest = line.slice(parsed.end + 1).trim();
  } else {
    if (space < 0) return null;
    name = line.slice(0, space);
    rest = line.slice(space + 1).trim();
  }
  const valueText = rest.split(/\s+/)[0] ?? '';
  return { name, labels, value: parseValue(valueText) };
}

/** Reads `a="x",b="y\"z"}` from `start`; returns the labels and the index of the closing brace. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } | null {
  const labels: Record<string, string> = {};
  let i = start;
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return { labels, end: i };
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') return null;
    const key = line.slice(i, eq).trim();
    let j = eq + 2;
    let value = '';
    while (j < line.length && line[j] !== '"') {
      if (line[j] === '\\' && j + 1 < line.length) {
        const next = line[j + 1]!;
        value += next === 'n' ? '\n' : next;
        j += 2;
      } else {
        value += line[j];
        j++;
      }
    }
    if (j >= line.length) return null;
    labels[key] = value;
    i = j + 1;
  }
  return null;
}

function parseValue(text: string): number {
  const t = text.toLowerCase();
  if (t === 'nan') return NaN;
  if (t === '+inf' || t === 'inf') return Infinity;
  if (t === '-inf') return -Infinity;
  return Number(text);
}

/** Samples of `family` (by its name) whose labels include all of `match`. */
export function samplesOf(families: Family[], family: string, match: Record<string, string> = {}, sampleName?: string): Sample[] {
  const f = families.find((x) => x.name === family);
  if (!f) return [];
  return f.samples.filter((s) => (!sampleName || s.name === sampleName) && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** Sums sample values; null when there are none. */
export function sumOf(samples: Sample[]): number | null {
  if (!samples.length) return null;
  return samples.reduce((a, s) => a + (Number.isFinite(s.value) ? s.value : 0), 0);
}

export interface Bucket {
  le: number;
  count: number;
}

/** Cumulative buckets of a histogram family's samples, summed across series, sorted by bound. */
export function bucketsOf(samples: Sample[]): Bucket[] {
  const byBound = new Map<number, number>();
  for (const s of samples) {
    if (!s.name.endsWith('_bucket') || s.labels.le === undefined) continue;
    const le = parseValue(s.labels.le);
    byBound.set(le, (byBound.get(le) ?? 0) + (Number.isFinite(s.value) ? s.value : 0));
  }
  return [...byBound.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/**
 * Estimates quantile q (0–1) from cumulative buckets, interpolating linearly inside the bucket the rank
 * falls in (as Prometheus' histogram_quantile does). Null when the histogram is empty; the highest finite
 * bound when the rank falls in the +Inf bucket.
 */
export function histogramQuantile(buckets: Bucket[], q: number): number | null {
  if (!buckets.length) return null;
  const total = buckets[buckets.length - 1]!.count;
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevBound;
      if (b.count === prevCount) return b.le;
      return prevBound + ((b.le - prevBound) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevBound = Number.isFinite(b.le) ? b.le : prevBound;
    prevCount = b.count;
  }
  return prevBound;
}

/** Quantile q (0–1) of a summary's samples (`{quantile="0.99"}`); null when absent or NaN (no data). */
export function summaryQuantile(samples: Sample[], q: number): number | null {
  const s = samples.find((x) => x.labels.quantile !== undefined && Number(x.labels.quantile) === q);
  return s && Number.isFinite(s.value) ? s.value : null;
}
