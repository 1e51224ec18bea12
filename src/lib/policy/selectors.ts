// Label selectors (matchLabels semantics), for the analyzers, the local mesh and route shift alike.

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
