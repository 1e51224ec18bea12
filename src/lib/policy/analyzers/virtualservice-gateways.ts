import type { Analyzer } from '../analysis.js';

export const virtualServiceGateways: Analyzer = {
  name: 'virtualservice.GatewayAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
