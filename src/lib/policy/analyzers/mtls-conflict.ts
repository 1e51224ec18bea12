import type { Analyzer } from '../analysis.js';

export const mtlsConflict: Analyzer = {
  name: 'meshctl.MtlsConflict',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
