import type { Analyzer } from '../analysis.js';

export const gatewaySecret: Analyzer = {
  name: 'gateway.SecretAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
