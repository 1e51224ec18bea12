import type { Analyzer } from '../analysis.js';

export const gatewayCertificate: Analyzer = {
  name: 'gateway.CertificateAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
