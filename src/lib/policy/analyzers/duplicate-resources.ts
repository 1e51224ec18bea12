import type { Analyzer } from '../analysis.js';

export const duplicateResources: Analyzer = {
  name: 'meshctl.DuplicateResources',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
