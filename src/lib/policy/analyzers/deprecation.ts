import type { Analyzer } from '../analysis.js';

export const deprecation: Analyzer = {
  name: 'deprecation.DeprecationAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
