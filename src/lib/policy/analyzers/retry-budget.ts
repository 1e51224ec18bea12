import type { Analyzer } from '../analysis.js';

export const retryBudget: Analyzer = {
  name: 'meshctl.RetryBudget',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
