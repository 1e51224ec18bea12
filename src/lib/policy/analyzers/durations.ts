import type { Analyzer } from '../analysis.js';

export const durations: Analyzer = {
  name: 'meshctl.Durations',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
