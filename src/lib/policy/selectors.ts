// Label selectors, for the analyzers, the local mesh, route shift and get alike: a resource's matchLabels
// map, and the expressions kubectl -l reads (`app=reviews`, `version!=v1`, `tier`, `!canary`,
// `version in (v1,v2)`, `version notin (v3)`, joined by commas, all of which must hold).
import { usageError } from '../errors.js';

/**
 * True when every key/value of `selector` is on `labels` (values read as strings, as YAML may give a
 * number or a boolean); an absent or empty selector selects everything. Only a label's own keys count.
 */
export function selectorMatches(selector: Readonly<Record<string, unknown>> | null | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  for (const key in selector) {
    if (!Object.hasOwn(selector, key)) continue;
    const wanted = selector[key];
    if (!Object.hasOwn(labels, key) || labels[key] !== (typeof wanted === 'string' ? wanted : String(wanted))) return false;
  }
  return true;
}

export type LabelTest = (labels: Record<string, string> | null | undefined) => boolean;

const KEY = String.raw`[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const EQUALITY = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s+\\(([^)]*)\\)$`);
const EXISTS = new RegExp(`^(!?)\\s*(${KEY})$`);

/** Splits at commas outside parentheses. */
function requirements(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(selector.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(selector.slice(start).trim());
  return out;
}

/** The test a selector stands for; a selector kubectl would refuse is a usage error naming it. */
export function parseLabelSelector(selector: string): LabelTest {
  const tests: LabelTest[] = [];
  for (const req of requirements(selector)) {
    let m: RegExpExecArray | null;
    if ((m = EQUALITY.exec(req))) {
      const [key, op, value] = [m[1]!, m[3]!, m[4] ?? ''];
      tests.push(op === '!=' ? (l) => l?.[key] !== value : (l) => l?.[key] === value);
    } else if ((m = SET.exec(req))) {
      const [key, op] = [m[1]!, m[3]!];
      const values = new Set(m[4]!.split(',').map((v) => v.trim()));
      tests.push(op === 'in' ? (l) => l?.[key] !== undefined && values.has(l[key]!) : (l) => l?.[key] === undefined || !values.has(l[key]!));
    } else if ((m = EXISTS.exec(req))) {
      const [negated, key] = [m[1] === '!', m[2]!];
      tests.push((l) => (l?.[key] !== undefined) !== negated);
    } else {
      throw usageError(`-l ${selector} is not a label selector (at "${req}"); write it as app=reviews, version!=v1, version in (v1,v2) or !canary, joined by commas.`);
    }
  }
  return (labels) => tests.every((t) => t(labels));
}
