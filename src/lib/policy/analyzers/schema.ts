import type { Analyzer } from '../analysis.js';

/** One analyzer per checked kind, named as istioctl names them: schema.ValidationAnalyzer.<Kind>. */
export const schemaAnalyzers: Analyzer[] = [];
