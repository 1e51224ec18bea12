import type { Analyzer } from '../analysis.js';

export const subsetSelectPod: Analyzer = {
  name: 'destinationrule.SubsetSelectPodAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
