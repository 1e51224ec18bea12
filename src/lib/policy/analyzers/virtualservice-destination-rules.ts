import type { Analyzer } from '../analysis.js';

export const destinationRules: Analyzer = {
  name: 'virtualservice.DestinationRuleAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
