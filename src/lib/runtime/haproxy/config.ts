// HAProxy configuration as data (sections of directive lines) and its rendering to text.
// Every value that comes from user policy goes through `word()` so that no header value, path or
// regex can break out of its argument.

export interface HaproxySection {
  /** `global`, `defaults`, `frontend`, `backend`, `listen`. */
  kind: 'global' | 'defaults' | 'frontend' | 'backend' | 'listen';
  /** Empty for global and defaults. */
  name: string;
  /** One directive per entry, already rendered (use `word()` / `line()` to build them). */
  lines: string[];
  /** A comment rendered above the section (why it exists). */
  comment?: string;
}

export interface HaproxyConfig {
  /** Comment lines at the top of the file. */
  header: string[];
  sections: HaproxySection[];
}

const BARE = /^[A-Za-z0-9_.:/@,=+%-]+$/;

/** Quotes one argument for HAProxy's config parser (shell-like: single quotes, `'\''` for a quote). */
export function word(value: string | number): string {
  const s = String(value);
  if (s !== '' && BARE.test(s)) return s;
  // Control characters only survive inside double quotes, as escapes.
  if (/[\x00-\x1f\x7f]/.test(s)) return doubleQuoted(s);
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function doubleQuoted(s: string): string {
  const escaped = s
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\$/g, '\\$')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t')
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `"${escaped}"`;
}

/** Joins a directive and its arguments; arguments are quoted, the directive's own keywords are not. */
export function line(keywords: string, ...args: (string | number)[]): string {
  return [keywords, ...args.map(word)].join(' ');
}

/**
 * Renders a log-format / lf-string argument: double-quoted so that `%[...]` expressions survive,
 * with quotes, backslashes, `$` (no environment variable is ever expanded) and control characters
 * escaped for the config parser.
 */
export function formatString(format: string): string {
  return doubleQuoted(format);
}

/** A literal text as a log-format argument (set-header values, return bodies): `%` is doubled. */
export function literalFormat(text: string): string {
  return word(text.replace(/%/g, '%%'));
}

/** Escapes text so that it matches literally inside a PCRE pattern. */
export function regexLiteral(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

export function renderConfig(config: HaproxyConfig): string {
  const out: string[] = config.header.map((h) => `# ${h}`);
  if (out.length) out.push('');
  for (const section of config.sections) {
    if (section.comment) out.push(...section.comment.split('\n').map((c) => `# ${c}`));
    out.push(section.name ? `${section.kind} ${section.name}` : section.kind);
    for (const l of section.lines) out.push(`  ${l}`);
    out.push('');
  }
  return out.join('\n');
}
