import type { Analyzer } from '../analysis.js';

export const conflictingGateway: Analyzer = {
  name: 'gateway.ConflictingGatewayAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
