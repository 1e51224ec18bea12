import type { Analyzer } from '../analysis.js';

export const httpRouteBackends: Analyzer = {
  name: 'meshctl.HTTPRouteBackends',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
