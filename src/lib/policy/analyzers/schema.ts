// schema.ValidationAnalyzer.<Kind>: each resource of a checked kind against its JSON Schema (generated from the
// CRD; IST0106 for every violation, at the exact field), then Istio's own semantic validation of that kind
// (IST0106 for errors, IST0133 for warnings). Validators load lazily, only for the kinds present.
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { KINDS, K, type KindInfo } from '../kinds.js';
import { schemaFor, type SchemaEntry } from '../schema/registry.js';
import { explain } from '../schema/explain.js';
import { SEMANTIC_RULES, type SemanticRule } from '../schema/istio-rules.js';
import { checkVirtualServiceMatches } from './virtualservice-unreachable-rules.js';

/** Errors here belong to other checks: the loader reports unknown API versions; status is ignored on apply. */
function ignored(instancePath: string): boolean {
  return instancePath === '/apiVersion' || instancePath === '/kind' || instancePath === '/status' || instancePath.startsWith('/status/');
}

/** Validates one resource; returns false when its shape is broken (semantic rules are then skipped). */
export function checkSchema(ctx: AnalysisContext, r: Resource, info: KindInfo, entry: SchemaEntry | undefined = schemaFor(info.schema!, r.version)): boolean {
  if (!entry) return true;
  const object = r.object;
  if (entry.accepts(object) || entry.validate(object)) return true;
  const errors = entry.errors().filter((e) => !ignored(e.instancePath));
  if (!errors.length) return true;
  const problems = explain(errors, { kind: r.kind, name: r.name, object, schema: entry.schema });
  for (const p of problems) ctx.report('IST0106', r, p.pointer, p.message);
  return problems.length === 0;
}

function analyzerFor(info: KindInfo): Analyzer {
  // istioctl names schema analyzers after the collection's kind; the Gateway API Gateway is the
  // KubernetesGateway collection (its kind alone would clash with Istio's Gateway).
  const label = info.id === K.KubernetesGateway ? 'KubernetesGateway' : info.kind;
  const semantic: SemanticRule | undefined = SEMANTIC_RULES[info.id];
  const isVirtualService = info.id === K.VirtualService;
  const codes = ['IST0106'];
  if (semantic) codes.push('IST0133');
  if (isVirtualService) codes.push('IST0130', 'IST0131');
  return {
    name: `schema.ValidationAnalyzer.${label}`,
    description: `Checks ${info.kind} resources (${info.group}) against their schema${semantic ? ' and Istio\'s validation rules' : ''}.`,
    inputs: [info.id],
    codes,
    run(ctx: AnalysisContext) {
      // The schema of each API version, looked up once per run.
      const byVersion = new Map<string, SchemaEntry | undefined>();
      // One sink for the run, reporting against the resource being checked.
      let current: Resource | undefined;
      const sink = {
        error: (pointer: string, message: string) => ctx.report('IST0106', current!, pointer, message),
        warning: (pointer: string, message: string) => ctx.report('IST0133', current!, pointer, message),
      };
      const resources = ctx.of(info.id);
      for (let i = 0; i < resources.length; i++) {
        const r = resources[i]!;
        if (!r.doc) continue;
        let entry = byVersion.get(r.version);
        if (entry === undefined && !byVersion.has(r.version)) byVersion.set(r.version, (entry = schemaFor(info.schema!, r.version)));
        const shapeOk = checkSchema(ctx, r, info, entry);
        if (shapeOk && semantic) {
          current = r;
          semantic(r, sink);
        }
        if (isVirtualService) checkVirtualServiceMatches(ctx, r);
      }
    },
  };
}

/** One analyzer per checked kind, named as istioctl names them: schema.ValidationAnalyzer.<Kind>. */
export const schemaAnalyzers: Analyzer[] = KINDS.filter((k) => k.schema).map(analyzerFor);
