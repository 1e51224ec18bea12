// Diffs inline policy text the way `meshctl diff OLD NEW` diffs two files.
import { source } from '../../../support/policy.js';
import { loadSide } from '../../../../src/lib/policy/diff/inputs.js';
import { diffResources } from '../../../../src/lib/policy/diff/report.js';
import type { Change, DiffReport, Risk } from '../../../../src/lib/policy/diff/model.js';

/** OLD and NEW may each be one text or several files ({ path: text }). */
export function diffText(before: string | Record<string, string>, after: string | Record<string, string>, namespace?: string): DiffReport {
  const files = (side: string | Record<string, string>, name: string) =>
    typeof side === 'string' ? [source(side, `${name}.yaml`)] : Object.entries(side).map(([p, t]) => source(t, p));
  return diffResources(loadSide('old', files(before, 'old'), namespace), loadSide('new', files(after, 'new'), namespace));
}

export function only(report: DiffReport): Change {
  if (report.changes.length !== 1) throw new Error(`expected one change, got ${report.changes.length}: ${JSON.stringify(report.changes.map((c) => `${c.op} ${c.resource.kind}/${c.resource.name}`))}`);
  return report.changes[0]!;
}

export function riskOf(report: DiffReport): Risk | null {
  return report.summary.highest;
}

/** A VirtualService for `host` with the given http routes (YAML flow text per route). */
export function vs(name: string, httpRoutes: string[], extra = ''): string {
  return [
    'apiVersion: networking.istio.io/v1',
    'kind: VirtualService',
    `metadata: {name: ${name}}`,
    'spec:',
    `  hosts: [${name}]`,
    ...(extra ? [extra] : []),
    '  http:',
    ...httpRoutes.map((r) => `  - ${r}`),
    '',
  ].join('\n');
}

export const join = (...docs: string[]): string => docs.join('---\n');
