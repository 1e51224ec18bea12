// Risk per change: the riskiest of the notes the traffic and security impact charged to the resource,
// or low with a plain reason when its change moves no traffic and relaxes no security.
import { RISK_RANK, describeResource, maxRisk, type Change, type ChangeOp, type ChangedResource, type FieldChange, type Risk, type RiskNote } from './model.js';

export interface PendingChange {
  key: string;
  op: ChangeOp;
  resource: ChangedResource;
  fields: FieldChange[];
  /** Route lists whose order changed. */
  reordered: string[];
  hosts: string[];
}

function defaultReason(c: PendingChange): string {
  const what = describeResource(c.resource);
  if (c.op === 'added') return `${what} is added; it changes no route, traffic split or security policy on its own.`;
  if (c.op === 'removed') return `${what} is removed; no route, traffic split or security policy depended on it.`;
  const n = c.fields.length;
  return `${n} field${n === 1 ? '' : 's'} of ${what} change${n === 1 ? 's' : ''}; none moves traffic or relaxes security.`;
}

export function assessChanges(pending: PendingChange[], notes: RiskNote[]): Change[] {
  const byKey = new Map<string, RiskNote[]>();
  for (const n of notes) {
    for (const k of new Set(n.keys)) {
      let list = byKey.get(k);
      if (!list) byKey.set(k, (list = []));
      list.push(n);
    }
  }
  return pending.map((c) => {
    const mine = byKey.get(c.key) ?? [];
    let risk: Risk | undefined;
    for (const n of mine) risk = maxRisk(risk, n.risk);
    const reasons = [...mine]
      .sort((a, b) => RISK_RANK[b.risk] - RISK_RANK[a.risk])
      .map((n) => n.reason)
      .filter((r, i, all) => all.indexOf(r) === i);
    return { op: c.op, resource: c.resource, risk: risk ?? 'low', reasons: reasons.length ? reasons : [defaultReason(c)], fields: c.fields, hosts: c.hosts };
  });
}

/** True when some change is at or above `threshold`. */
export function riskReached(changes: Change[], threshold: Risk): boolean {
  return changes.some((c) => RISK_RANK[c.risk] >= RISK_RANK[threshold]);
}
