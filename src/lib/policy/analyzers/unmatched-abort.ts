import type { Analyzer } from '../analysis.js';

export const unmatchedAbort: Analyzer = {
  name: 'meshctl.UnmatchedAbort',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
