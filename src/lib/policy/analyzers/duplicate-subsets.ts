import type { Analyzer } from '../analysis.js';

export const duplicateSubsets: Analyzer = {
  name: 'meshctl.DuplicateSubsets',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
