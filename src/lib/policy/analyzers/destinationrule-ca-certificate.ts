import type { Analyzer } from '../analysis.js';

export const destinationRuleCaCertificate: Analyzer = {
  name: 'destinationrule.CaCertificateAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
