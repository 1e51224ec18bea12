// Reading a compiled haproxy.cfg back: sections and their directives split into words as HAProxy's
// parser splits them, and what inspect needs from them (binds, servers, route matches, host ACLs).

export interface ParsedSection {
  kind: string;
  name: string;
  /** Directives as word lists, quotes resolved. */
  lines: string[][];
}

const SECTION_KINDS = new Set(['global', 'defaults', 'frontend', 'backend', 'listen', 'peers', 'resolvers', 'userlist', 'program', 'cache', 'ring', 'http-errors', 'mailers']);

/**
 * Splits one directive into words: single quotes keep everything literally, double quotes and bare
 * words take backslash escapes (\n, \t, \r, \xHH, and any other character as itself).
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let i = 0;
  const escape = (): void => {
    const c = text[i + 1];
    if (c === undefined) {
      i += 1;
      return;
    }
    if (c === 'n') current += '\n';
    else if (c === 'r') current += '\r';
    else if (c === 't') current += '\t';
    else if (c === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      current += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 4), 16));
      i += 2;
    } else current += c;
    i += 2;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
      i += 1;
    } else if (c === "'") {
      inWord = true;
      const end = text.indexOf("'", i + 1);
      current += end < 0 ? text.slice(i + 1) : text.slice(i + 1, end);
      i = end < 0 ? text.length : end + 1;
    } else if (c === '"') {
      inWord = true;
      i += 1;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') escape();
        else current += text[i++];
      }
      i += 1;
    } else if (c === '\\') {
      inWord = true;
      escape();
    } else if (c === '#' && !inWord) {
      break;
    } else {
      inWord = true;
      current += c;
      i += 1;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** The sections of a configuration text, in order. */
export function parseConfigText(text: string): ParsedSection[] {
  const sections: ParsedSection[] = [];
  let current: ParsedSection | null = null;
  for (const raw of text.split('\n')) {
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const words = splitWords(trimmed);
    if (!words.length) continue;
    if (SECTION_KINDS.has(words[0]!) && !/^\s/.test(raw)) {
      current = { kind: words[0]!, name: words[1] ?? '', lines: [] };
      sections.push(current);
    } else if (current) {
      current.lines.push(words);
    }
  }
  return sections;
}

export function findSection(sections: ParsedSection[], kind: string, name: string): ParsedSection | undefined {
  return sections.find((s) => s.kind === kind && s.name === name);
}

/** `mode tcp` in the section, else the defaults' mode. */
export function sectionMode(sections: ParsedSection[], section: ParsedSection): 'http' | 'tcp' {
  const own = section.lines.find((l) => l[0] === 'mode')?.[1];
  const defaults = sections.find((s) => s.kind === 'defaults')?.lines.find((l) => l[0] === 'mode')?.[1];
  return (own ?? defaults) === 'tcp' ? 'tcp' : 'http';
}

export interface BindLine {
  /** 127.0.0.1, or a UNIX socket path. */
  address: string;
  port: number | null;
  unix: boolean;
  tls: boolean;
  /** Client certificates required (`verify required`). */
  clientCertificate: boolean;
}

export function parseBind(words: string[]): BindLine {
  const target = words[1] ?? '';
  const tls = words.includes('ssl');
  const v = words.indexOf('verify');
  const clientCertificate = tls && v > 0 && words[v + 1] === 'required';
  if (target.startsWith('unix@')) return { address: target.slice(5), port: null, unix: true, tls, clientCertificate };
  if (target.startsWith('/')) return { address: target, port: null, unix: true, tls, clientCertificate };
  const colon = target.lastIndexOf(':');
  const port = Number(target.slice(colon + 1));
  return { address: target.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number.isInteger(port) ? port : null, unix: false, tls, clientCertificate };
}

export interface ServerLine {
  name: string;
  address: string;
  port: number | null;
  unix: boolean;
  tls: boolean;
  check: boolean;
  /** `observe layer4|layer7`: passive health (outlier detection). */
  observe: boolean;
  maxconn: number | null;
  maxqueue: number | null;
}

export function parseServer(words: string[]): ServerLine {
  const target = words[2] ?? '';
  const unix = target.startsWith('unix@');
  const colon = target.lastIndexOf(':');
  const port = unix ? NaN : Number(target.slice(colon + 1));
  const num = (key: string): number | null => {
    const i = words.indexOf(key);
    const n = i > 0 ? Number(words[i + 1]) : NaN;
    return Number.isFinite(n) ? n : null;
  };
  return {
    name: words[1] ?? '',
    address: unix ? target.slice(5) : target.slice(0, colon),
    port: Number.isInteger(port) ? port : null,
    unix,
    tls: words.includes('ssl'),
    check: words.includes('check'),
    observe: words.includes('observe'),
    maxconn: num('maxconn'),
    maxqueue: num('maxqueue'),
  };
}

export function serversOf(section: ParsedSection): ServerLine[] {
  return section.lines.filter((l) => l[0] === 'server').map(parseServer);
}

/** The words after `if` / `unless` of a directive, and which keyword it was. */
export function conditionOf(words: string[]): { negate: boolean; words: string[] } | null {
  const i = words.findIndex((w) => w === 'if' || w === 'unless');
  return i < 0 ? null : { negate: words[i] === 'unless', words: words.slice(i + 1) };
}

/** One `{ fetch -m kind value }` block of a condition, possibly negated with `!`. */
export interface ConditionTerm {
  negated: boolean;
  fetch: string;
  /** str, beg, end, reg, found, int … */
  kind: string;
  ignoreCase: boolean;
  values: string[];
}

/** The anonymous ACL blocks and named ACLs of a condition, in order. */
export function conditionTerms(words: string[]): { terms: ConditionTerm[]; named: string[] } {
  const terms: ConditionTerm[] = [];
  const named: string[] = [];
  for (let i = 0; i < words.length; i++) {
    let w = words[i]!;
    let negated = false;
    if (w === '!' || w === '!{') {
      negated = true;
      if (w === '!') w = words[++i] ?? '';
      else w = '{';
    } else if (w.startsWith('!') && w !== '!{') {
      negated = true;
      w = w.slice(1);
    }
    if (w === '{') {
      const end = words.indexOf('}', i + 1);
      const block = words.slice(i + 1, end < 0 ? words.length : end);
      i = end < 0 ? words.length : end;
      const m = block.indexOf('-m');
      const fetch = block[0] ?? '';
      let rest = m >= 0 ? block.slice(m + 2) : block.slice(1);
      const kind = m >= 0 ? block[m + 1] ?? '' : '';
      const ignoreCase = rest[0] === '-i';
      if (ignoreCase) rest = rest.slice(1);
      terms.push({ negated, fetch, kind, ignoreCase, values: rest });
    } else if (w !== '||' && w !== 'or' && w) {
      named.push(negated ? `!${w}` : w);
    }
  }
  return { terms, named };
}

function stripAnchors(re: string): string {
  const m = /^\^\(\?:([\s\S]*)\)\$$/.exec(re);
  return m ? m[1]! : re;
}

/**
 * A route match in istioctl's words: the path ("/exact", "/prefix*", "regex …", "/*" when the path is
 * not matched) followed by the other conditions in brackets (headers, method, authority, query).
 */
export function describeMatch(terms: ConditionTerm[]): string {
  let path = '/*';
  const extras: string[] = [];
  for (const t of terms) {
    const v = t.values.join(' ');
    const ci = t.ignoreCase ? ' (ignore case)' : '';
    const shape = (name: string, sep = '=') => {
      const not = t.negated ? '!' : '';
      if (t.kind === 'found') return `${not}${name} present`;
      if (t.kind === 'beg') return `${not}${name}${sep}${v}*`;
      if (t.kind === 'reg') return `${not}${name}~${stripAnchors(v)}`;
      return `${not}${name}${sep}${v}`;
    };
    if (t.fetch === 'path') {
      if (t.kind === 'str') path = `${v}${ci}`;
      else if (t.kind === 'beg') path = `${v}*${ci}`;
      else if (t.kind === 'reg') path = `regex ${stripAnchors(v)}${ci}`;
      else path = '/*';
      continue;
    }
    const header = /^req\.f?hdr\(([^)]*)\)$/.exec(t.fetch);
    if (t.fetch === 'method') extras.push(shape('method'));
    else if (header && header[1] === 'host') extras.push(shape('authority'));
    else if (header) extras.push(shape(header[1]!));
    else if (/^url_param\(/.test(t.fetch)) extras.push(shape(`?${t.fetch.slice(10, -1)}`));
    else extras.push(`${t.negated ? '!' : ''}${t.fetch} ${t.kind} ${v}`.trim());
  }
  return extras.length ? `${path} [${extras.join(', ')}]` : path;
}

/** Host ACLs of a routing frontend: ACL name → the host names it matches ("*.example.com", "*"). */
export function hostAcls(section: ParsedSection): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const l of section.lines) {
    if (l[0] !== 'acl' || !l[1] || l[1] === 'has_route') continue;
    const name = l[1];
    const hosts = out.get(name) ?? [];
    if (l[2] === 'always_true') hosts.push('*');
    else if (l[2] === 'var(txn.host)') {
      const m = l.indexOf('-m');
      const kind = l[m + 1];
      const values = l.slice(m + 2);
      if (kind === 'end') hosts.push(...values.map((v) => `*${v}`));
      else hosts.push(...values);
    }
    out.set(name, hosts);
  }
  return out;
}

export interface RouteChoice {
  routeId: string;
  /** Host ACLs the choice requires. */
  acls: string[];
  match: string;
}

/** The `set-var(txn.route)` directives of a routing frontend: which route each request shape picks. */
export function routeChoices(section: ParsedSection): RouteChoice[] {
  const out: RouteChoice[] = [];
  for (const l of section.lines) {
    if (l[0] !== 'http-request' || l[1] !== 'set-var(txn.route)') continue;
    const m = /^str\((.*)\)$/.exec(l[2] ?? '');
    if (!m) continue;
    const cond = conditionOf(l);
    const { terms, named } = conditionTerms(cond?.words ?? []);
    out.push({ routeId: m[1]!, acls: named.filter((n) => n !== '!has_route' && !n.startsWith('!')), match: describeMatch(terms) });
  }
  return out;
}

/** Routes answered by the frontend itself: route id → redirect or direct response. */
export function frontendAnswers(section: ParsedSection): Map<string, 'redirect' | 'direct_response'> {
  const out = new Map<string, 'redirect' | 'direct_response'>();
  for (const l of section.lines) {
    if (l[0] !== 'http-request' || (l[1] !== 'return' && l[1] !== 'redirect')) continue;
    const cond = conditionOf(l);
    if (!cond) continue;
    const { terms } = conditionTerms(cond.words);
    // A fault abort draws a random number; a direct response or redirect applies to every request of the route.
    if (terms.some((t) => t.fetch.startsWith('rand('))) continue;
    const route = terms.find((t) => t.fetch === 'var(txn.route)' && t.kind === 'str');
    if (route) out.set(route.values[0]!, l[1] === 'redirect' ? 'redirect' : 'direct_response');
  }
  return out;
}
