import type { Analyzer } from '../analysis.js';

export const ingressGatewayPort: Analyzer = {
  name: 'gateway.IngressGatewayPortAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
