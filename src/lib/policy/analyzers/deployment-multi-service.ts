import type { Analyzer } from '../analysis.js';

export const deploymentMultiService: Analyzer = {
  name: 'deployment.MultiServiceAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
