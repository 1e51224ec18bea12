// Every duration field of the Istio kinds, checked the way Istio reads them: Go duration syntax (the
// CRDs' CEL `duration()` and the protobuf decoder), at least 1ms where the CRD says so, and whole
// milliseconds where Istio's webhook validation requires it.
import type { Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { WHOLE_UNIT_DURATION, formatDuration, parseDurationNanos } from '../duration.js';

interface DurationRule {
  /** Dotted path from `spec`; `*` walks every item of a list. */
  path: string;
  /** The CRD requires at least 1ms. */
  min?: boolean;
  /** Istio's validation also requires whole milliseconds. */
  wholeMs?: boolean;
  /** 0 is allowed (it turns the feature off) even though other values need the minimum. */
  zeroOk?: boolean;
}

const CONNECTION_POOL: DurationRule[] = [
  { path: 'http.http2KeepAlive.interval', min: true },
  { path: 'http.http2KeepAlive.timeout', min: true },
  { path: 'http.idleTimeout', min: true, wholeMs: true },
  { path: 'tcp.connectTimeout', min: true, wholeMs: true },
  { path: 'tcp.maxConnectionDuration', min: true, wholeMs: true },
  { path: 'tcp.idleTimeout', min: true, wholeMs: true, zeroOk: true },
  { path: 'tcp.tcpKeepalive.time', min: true, wholeMs: true },
  { path: 'tcp.tcpKeepalive.interval', min: true, wholeMs: true },
];

const under = (prefix: string, rules: DurationRule[]): DurationRule[] => rules.map((r) => ({ ...r, path: `${prefix}.${r.path}` }));

const PORT_TRAFFIC_POLICY: DurationRule[] = [
  ...under('connectionPool', CONNECTION_POOL),
  { path: 'loadBalancer.warmup.duration', min: true, wholeMs: true },
  { path: 'loadBalancer.warmupDurationSecs', min: true },
  { path: 'loadBalancer.consistentHash.httpCookie.ttl' },
  { path: 'outlierDetection.baseEjectionTime', min: true, wholeMs: true },
  { path: 'outlierDetection.interval', min: true, wholeMs: true },
];

const TRAFFIC_POLICY: DurationRule[] = [
  ...PORT_TRAFFIC_POLICY,
  ...under('portLevelSettings.*', PORT_TRAFFIC_POLICY),
  { path: 'retryBudget.budgetInterval' },
];

const RULES: { kind: string; rules: DurationRule[] }[] = [
  {
    kind: K.VirtualService,
    rules: [
      { path: 'http.*.timeout', min: true, wholeMs: true },
      { path: 'http.*.retries.perTryTimeout', min: true, wholeMs: true },
      { path: 'http.*.retries.backoff', min: true },
      { path: 'http.*.fault.delay.fixedDelay', min: true, wholeMs: true },
      { path: 'http.*.fault.delay.exponentialDelay', min: true },
      { path: 'http.*.corsPolicy.maxAge', min: true },
    ],
  },
  { kind: K.DestinationRule, rules: [...under('trafficPolicy', TRAFFIC_POLICY), ...under('subsets.*.trafficPolicy', TRAFFIC_POLICY)] },
  { kind: K.Sidecar, rules: [...under('inboundConnectionPool', CONNECTION_POOL), ...under('ingress.*.connectionPool', CONNECTION_POOL)] },
  { kind: K.RequestAuthentication, rules: [{ path: 'jwtRules.*.timeout', min: true }] },
  { kind: K.Telemetry, rules: [{ path: 'metrics.*.reportingInterval', min: true }] },
];

/**
 * The rules of one kind as a tree of path segments, so a resource is walked once, only where it has fields.
 * Children are kept as parallel lists (in the order the rules name them) and the `*` child apart, so the
 * walk allocates nothing.
 */
interface RuleNode {
  segments: string[];
  nodes: RuleNode[];
  star: RuleNode | undefined;
  rule?: DurationRule;
}

const TREES = new Map<DurationRule[], RuleNode>();

function newNode(): RuleNode {
  return { segments: [], nodes: [], star: undefined };
}

function treeOf(rules: DurationRule[]): RuleNode {
  let root = TREES.get(rules);
  if (root) return root;
  root = newNode();
  for (const rule of rules) {
    let node = root;
    for (const segment of rule.path.split('.')) {
      let next: RuleNode | undefined;
      if (segment === '*') next = node.star ??= newNode();
      else {
        const at = node.segments.indexOf(segment);
        if (at !== -1) next = node.nodes[at]!;
        else {
          next = newNode();
          node.segments.push(segment);
          node.nodes.push(next);
        }
      }
      node = next;
    }
    node.rule = rule;
  }
  TREES.set(rules, root);
  return root;
}

/**
 * Calls `visit` for every value a rule names under `value`, with the keys that lead to it. `keys` is one
 * stack shared by the whole walk (most fields are absent, and a copy per step was most of the cost), so
 * `visit` must use it before returning and not keep it.
 */
function walk(node: RuleNode, value: unknown, keys: (string | number)[], visit: (rule: DurationRule, value: unknown, keys: (string | number)[]) => void): void {
  if (node.rule && value !== null && value !== undefined) visit(node.rule, value, keys);
  if (!value || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    const star = node.star;
    if (star) {
      for (let i = 0; i < value.length; i++) {
        keys.push(i);
        walk(star, value[i], keys, visit);
        keys.pop();
      }
    }
    return;
  }
  const obj = value as Record<string, unknown>;
  const segments = node.segments;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const child = obj[segment];
    if (child !== undefined) {
      keys.push(segment);
      walk(node.nodes[i]!, child, keys, visit);
      keys.pop();
    }
  }
}

function pointerOf(keys: (string | number)[]): string {
  return `/spec${keys.map((k) => `/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')}`;
}

function fieldOf(keys: (string | number)[]): string {
  return `spec${keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}`;
}

/** Why a value is not a duration Istio accepts, as the clause after "sets <field> to <value>"; undefined when it is fine. */
function problem(value: unknown, rule: DurationRule): string | undefined {
  if (typeof value === 'string' && WHOLE_UNIT_DURATION.test(value)) return undefined;
  if (typeof value === 'number') return `the number ${value}, but a duration is a string with a unit; write "${value}s" for ${value} seconds`;
  if (typeof value !== 'string') return `${JSON.stringify(value)}, which is not a duration; write a number with a unit, e.g. "5s"`;
  const nanos = parseDurationNanos(value);
  if (nanos === undefined) return `"${value}", which is not a duration; ${suggestion(value)}`;
  if (nanos === 0n && (rule.zeroOk || !rule.min)) return undefined;
  if (nanos < 0n) return `"${value}", which is negative; use a positive duration${rule.min ? ' of at least 1ms' : ''}`;
  if (rule.min && nanos < 1_000_000n) {
    return `"${value}", below Istio's minimum of 1ms; use at least 1ms${nanos === 0n && !rule.zeroOk ? ', or remove the field to keep the default' : ''}`;
  }
  if (rule.wholeMs && nanos % 1_000_000n !== 0n) {
    const rounded = formatDuration(Math.max(1, Math.round(Number(nanos) / 1e6)));
    return `"${value}", finer than the whole milliseconds Istio accepts here; round it, e.g. to "${rounded}"`;
  }
  return undefined;
}

function suggestion(text: string): string {
  const generic = 'write a number with a unit (h, m, s, ms, us or ns), e.g. "1m30s"';
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return `add a unit, e.g. "${trimmed}s" for seconds`;
  const compact = trimmed.replace(/\s+/g, '');
  if (compact !== text && parseDurationNanos(compact) !== undefined) return `remove the spaces: "${compact}"`;
  const units: Record<string, string> = { sec: 's', secs: 's', second: 's', seconds: 's', min: 'm', mins: 'm', minute: 'm', minutes: 'm', hr: 'h', hrs: 'h', hour: 'h', hours: 'h', msec: 'ms', millis: 'ms', S: 's', M: 'm', H: 'h', MS: 'ms' };
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$/.exec(trimmed);
  if (m) {
    if (m[2] === 'd' || /^days?$/.test(m[2]!)) return `there is no day unit; write "${Number(m[1]) * 24}h"`;
    const unit = units[m[2]!];
    if (unit) return `write "${m[1]}${unit}"`;
  }
  return generic;
}


export const durations: Analyzer = {
  name: 'meshctl.Durations',
  description: 'Checks every duration field (timeouts, retries, fault delays, outlier detection, connection pools) against the syntax and limits Istio accepts.',
  inputs: RULES.map((r) => r.kind),
  codes: ['MSH2006'],
  run(ctx) {
    // One key stack and one visitor for the whole run (walk leaves the stack empty after each resource).
    const keys: (string | number)[] = [];
    let resource: Resource | undefined;
    const visit = (rule: DurationRule, value: unknown, at: (string | number)[]) => {
      const why = problem(value, rule);
      if (why) ctx.report('MSH2006', resource!, pointerOf(at), `${resource!.kind} ${resource!.name} sets ${fieldOf(at)} to ${why}.`);
    };
    for (const { kind, rules } of RULES) {
      const tree = treeOf(rules);
      const resources = ctx.of(kind);
      for (let i = 0; i < resources.length; i++) {
        resource = resources[i]!;
        walk(tree, resource.spec, keys, visit);
      }
    }
  },
};
