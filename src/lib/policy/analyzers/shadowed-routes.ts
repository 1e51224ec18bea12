import type { Analyzer } from '../analysis.js';

export const shadowedRoutes: Analyzer = {
  name: 'meshctl.ShadowedRoutes',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
