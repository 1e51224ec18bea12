import type { Analyzer } from '../analysis.js';

export const servicePortName: Analyzer = {
  name: 'service.PortNameAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
