// Istio's analysis-aware route validation: rules no request can reach (IST0130) and matches that never
// apply because an earlier match takes the same requests (IST0131), in http, tcp and tls routes.
import type { AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { listOf, objectOf, specOf, type Mistyped, type VirtualServiceSpecHttp, type VirtualServiceSpecTcp, type VirtualServiceSpecTls } from '../spec.js';
import { asArray, asObject } from './util.js';

type Section = 'http' | 'tcp' | 'tls';

/** Match fields whose values are maps: an empty map is the same as no field. */
const MAP_FIELDS = new Set(['headers', 'queryParams', 'withoutHeaders', 'sourceLabels']);

function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function isUnset(v: unknown): boolean {
  return v === null || v === undefined || v === '' || v === 0 || v === false || (Array.isArray(v) && v.length === 0);
}

function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) out[key] = sortDeep((v as Record<string, unknown>)[key]);
    return out;
  }
  return v;
}

/**
 * A match's routing conditions as a comparable string: field spellings unified, unset fields and the
 * match's `name` dropped, keys sorted. Two matches with the same key take the same requests.
 */
export function matchKey(match: unknown, section: Section): string {
  if (match === null || match === undefined) return 'null';
  if (typeof match !== 'object' || Array.isArray(match)) return JSON.stringify(match);
  const out: Record<string, unknown> = {};
  for (const [raw, value] of Object.entries(match)) {
    const key = camelCase(raw);
    if (section === 'http' && key === 'name') continue;
    if (isUnset(value)) continue;
    if (MAP_FIELDS.has(key) && value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) continue;
    out[key] = key === 'port' && typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  }
  return JSON.stringify(sortDeep(out));
}

/** A rule of any of the three sections: only http rules have a name. */
type Rule = VirtualServiceSpecHttp | VirtualServiceSpecTcp | VirtualServiceSpecTls;

function ruleLabel(section: Section, rule: Rule, index: number): string {
  const name = 'name' in rule ? rule.name : undefined;
  return section === 'http' && typeof name === 'string' && name !== '' ? `"${name}"` : `#${index}`;
}

function matchLabel(section: Section, match: unknown, index: number): string {
  const name = asObject(match).name;
  return section === 'http' && typeof name === 'string' && name !== '' ? `"${name}"` : `#${index}`;
}

/** One string condition of a match (`exact`, `prefix` or `regex`), or none. */
type Condition = { kind: 'none' } | { kind: 'exact' | 'prefix' | 'regex'; value: string } | { kind: 'other'; value: string };

function conditionOf(v: unknown): Condition {
  if (v === null || v === undefined) return { kind: 'none' };
  const m = asObject(v);
  if (typeof m.exact === 'string' && m.exact !== '') return { kind: 'exact', value: m.exact };
  if (typeof m.prefix === 'string' && m.prefix !== '') return { kind: 'prefix', value: m.prefix };
  if (typeof m.regex === 'string' && m.regex !== '') return { kind: 'regex', value: m.regex };
  return { kind: 'other', value: JSON.stringify(sortDeep(v)) };
}

/** True when every value `later` accepts is also accepted by `earlier`. */
function conditionCovers(earlier: Condition, later: Condition): boolean {
  switch (earlier.kind) {
    case 'none':
      return true;
    case 'prefix':
      return (later.kind === 'exact' || later.kind === 'prefix') && later.value.startsWith(earlier.value);
    default:
      return later.kind === earlier.kind && later.value === earlier.value;
  }
}

function conditionMap(v: unknown): Map<string, Condition> {
  const out = new Map<string, Condition>();
  for (const [key, value] of Object.entries(asObject(v))) out.set(key, conditionOf(value));
  return out;
}

/** Every condition of `earlier` holds for whatever `later` accepts (later may add conditions of its own). */
function mapCovers(earlier: Map<string, Condition>, later: Map<string, Condition>): boolean {
  for (const [key, condition] of earlier) {
    const other = later.get(key);
    if (!other || !conditionCovers(condition, other)) return false;
  }
  return true;
}

/** `earlier` rejects no request `later` accepts, for header exclusions: later excludes at least as much. */
function exclusionsCover(earlier: Map<string, Condition>, later: Map<string, Condition>): boolean {
  for (const [key, condition] of earlier) {
    const other = later.get(key);
    if (!other || !conditionCovers(other, condition)) return false;
  }
  return true;
}

/** An http match with a URI prefix, with the conditions compared for overlaps. */
interface PrefixMatch {
  rule: string;
  match: string;
  ruleIndex: number;
  matchIndex: number;
  prefix: string;
  ignoreUriCase: boolean;
  port: number;
  method: Condition;
  authority: Condition;
  scheme: Condition;
  headers: Map<string, Condition>;
  queryParams: Map<string, Condition>;
  withoutHeaders: Map<string, Condition>;
  sourceLabels: Map<string, string>;
  gateways: string[];
  sourceNamespace: string;
}

const SNAKE = new Map<string, string>();

function field(m: Record<string, unknown>, name: string): unknown {
  let snake = SNAKE.get(name);
  if (snake === undefined) SNAKE.set(name, (snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)));
  return m[name] ?? m[snake];
}

function prefixMatchOf(match: unknown, rule: string, label: string, ruleIndex: number, matchIndex: number): PrefixMatch | undefined {
  if (!match || typeof match !== 'object' || Array.isArray(match)) return undefined;
  const m = match as Record<string, unknown>;
  const uri = conditionOf(m.uri);
  if (uri.kind !== 'prefix') return undefined;
  const labels = new Map<string, string>();
  for (const [k, v] of Object.entries(asObject(field(m, 'sourceLabels')))) labels.set(k, String(v));
  return {
    rule,
    match: label,
    ruleIndex,
    matchIndex,
    prefix: uri.value,
    ignoreUriCase: field(m, 'ignoreUriCase') === true,
    port: Number(m.port ?? 0) || 0,
    method: conditionOf(m.method),
    authority: conditionOf(m.authority),
    scheme: conditionOf(m.scheme),
    headers: conditionMap(m.headers),
    queryParams: conditionMap(field(m, 'queryParams')),
    withoutHeaders: conditionMap(field(m, 'withoutHeaders')),
    sourceLabels: labels,
    gateways: asArray(m.gateways).filter((g): g is string => typeof g === 'string'),
    sourceNamespace: typeof field(m, 'sourceNamespace') === 'string' ? (field(m, 'sourceNamespace') as string) : '',
  };
}

/** True when every request `later` matches is already taken by `earlier`. */
function covers(earlier: PrefixMatch, later: PrefixMatch): boolean {
  if (later.ignoreUriCase && !earlier.ignoreUriCase) return false;
  const prefixCovered = earlier.ignoreUriCase ? later.prefix.toLowerCase().startsWith(earlier.prefix.toLowerCase()) : later.prefix.startsWith(earlier.prefix);
  if (!prefixCovered) return false;
  if (earlier.port !== 0 && later.port !== earlier.port) return false;
  if (earlier.gateways.length && (later.gateways.length === 0 || !later.gateways.every((g) => earlier.gateways.includes(g)))) return false;
  if (earlier.sourceNamespace && later.sourceNamespace !== earlier.sourceNamespace) return false;
  for (const [k, v] of earlier.sourceLabels) if (later.sourceLabels.get(k) !== v) return false;
  return (
    conditionCovers(earlier.method, later.method) &&
    conditionCovers(earlier.authority, later.authority) &&
    conditionCovers(earlier.scheme, later.scheme) &&
    mapCovers(earlier.headers, later.headers) &&
    mapCovers(earlier.queryParams, later.queryParams) &&
    exclusionsCover(earlier.withoutHeaders, later.withoutHeaders)
  );
}

/** True when some rule comes after one without match conditions (which takes every request). */
function ruleAfterCatchAll(rules: readonly (Rule | Mistyped)[]): boolean {
  let catchAll = false;
  for (const raw of rules) {
    if (raw === null || raw === undefined) continue;
    if (catchAll) return true;
    if (listOf(objectOf(raw).match).length === 0) catchAll = true;
  }
  return false;
}

function checkSection(ctx: AnalysisContext, vs: Resource, section: Section): void {
  const rules: readonly (Rule | Mistyped)[] = listOf<Rule | Mistyped>(specOf(vs, K.VirtualService)[section]);
  if (rules.length === 0) return;
  // With one match in the whole section no match can repeat or cover another; skip building keys.
  let totalMatches = 0;
  for (let i = 0; i < rules.length; i++) totalMatches += listOf(objectOf(rules[i]).match).length;
  const compare = totalMatches > 1;
  if (!compare && !ruleAfterCatchAll(rules)) return; // Nothing to compare and no rule behind a catch-all: no finding.
  // Names and pointers are spelled out only for findings.
  const vsId = () => (vs.namespace ? `${vs.namespace}/${vs.name}` : vs.name);
  let catchAll = -1;
  const prefixes: PrefixMatch[] = [];
  const seen = compare ? new Map<string, number>() : undefined;
  rules.forEach((raw, ruleIndex) => {
    if (raw === null || raw === undefined) return;
    const rule = objectOf(raw);
    const label = () => ruleLabel(section, rule, ruleIndex);
    const matches: readonly unknown[] = listOf<unknown>(rule.match);
    const rulePointer = () => `/spec/${section}/${ruleIndex}`;
    if (matches.length === 0) {
      if (catchAll >= 0) {
        ctx.report(
          'IST0130',
          vs,
          rulePointer(),
          `${section.toUpperCase()} rule ${label()} of VirtualService ${vsId()} is never used: rule ${ruleLabel(section, objectOf(rules[catchAll]), catchAll)} before it has no match conditions either and takes every request; give it match conditions or remove one.`,
        );
      }
      catchAll = ruleIndex;
      return;
    }
    if (catchAll >= 0) {
      ctx.report(
        'IST0130',
        vs,
        rulePointer(),
        `${section.toUpperCase()} rule ${label()} of VirtualService ${vsId()} is never used: rule ${ruleLabel(section, objectOf(rules[catchAll]), catchAll)} before it has no match conditions and takes every request; move the catch-all rule last.`,
      );
      return;
    }
    if (!compare) return;
    let duplicates = 0;
    matches.forEach((match, matchIndex) => {
      const key = matchKey(match, section);
      const earlier = seen!.get(key);
      if (earlier !== undefined) {
        duplicates++;
        ctx.report(
          'IST0131',
          vs,
          `${rulePointer()}/match/${matchIndex}`,
          `Match ${matchLabel(section, match, matchIndex)} of ${section.toUpperCase()} rule ${label()} in VirtualService ${vsId()} repeats a match of rule ${ruleLabel(section, objectOf(rules[earlier]), earlier)}, which takes those requests first; remove it or change its conditions.`,
        );
        return;
      }
      seen!.set(key, ruleIndex);
      if (section === 'http') {
        const p = prefixMatchOf(match, label(), matchLabel(section, match, matchIndex), ruleIndex, matchIndex);
        if (p) prefixes.push(p);
      }
    });
    if (duplicates === matches.length) {
      ctx.report(
        'IST0130',
        vs,
        rulePointer(),
        `${section.toUpperCase()} rule ${label()} of VirtualService ${vsId()} is never used: every one of its matches repeats a match of an earlier rule; remove the rule or change its matches.`,
      );
    }
  });
  // Each shadowed match is reported once, against the first earlier match that covers it.
  for (let j = 1; j < prefixes.length; j++) {
    const later = prefixes[j]!;
    const earlier = prefixes.slice(0, j).find((p) => covers(p, later));
    if (earlier) {
      ctx.report(
        'IST0131',
        vs,
        `/spec/http/${later.ruleIndex}/match/${later.matchIndex}`,
        `Match ${later.match} (URI prefix ${later.prefix}) of HTTP rule ${later.rule} in VirtualService ${vsId()} never applies: match ${earlier.match} (URI prefix ${earlier.prefix}) of rule ${earlier.rule} comes first and takes all of its requests; move the narrower match before it or remove it.`,
      );
    }
  }
}

/** Istio's analysis-aware route validation: unreachable rules (IST0130) and ineffective matches (IST0131). */
export function checkVirtualServiceMatches(ctx: AnalysisContext, vs: Resource): void {
  checkSection(ctx, vs, 'http');
  checkSection(ctx, vs, 'tcp');
  checkSection(ctx, vs, 'tls');
}
