import type { Analyzer } from '../analysis.js';

export const kubernetesGatewaySelector: Analyzer = {
  name: 'k8sgateway.SelectorAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
