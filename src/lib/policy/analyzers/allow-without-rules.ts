import type { Analyzer } from '../analysis.js';

export const allowWithoutRules: Analyzer = {
  name: 'meshctl.AllowWithoutRules',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
