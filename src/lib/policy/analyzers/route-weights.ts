import type { Analyzer } from '../analysis.js';

export const routeWeights: Analyzer = {
  name: 'meshctl.RouteWeights',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
