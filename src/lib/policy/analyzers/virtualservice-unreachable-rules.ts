import type { AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';

/** Istio's analysis-aware route validation: unreachable rules (IST0130) and ineffective matches (IST0131). */
export function checkVirtualServiceMatches(_ctx: AnalysisContext, _vs: Resource): void {}
