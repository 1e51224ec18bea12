import type { Analyzer } from '../analysis.js';

export const mirrorToSelf: Analyzer = {
  name: 'meshctl.MirrorToSelf',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
