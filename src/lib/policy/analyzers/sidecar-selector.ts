import type { Analyzer } from '../analysis.js';

export const sidecarSelector: Analyzer = {
  name: 'sidecar.SelectorAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
