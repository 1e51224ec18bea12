import type { Analyzer } from '../analysis.js';

export const jwtClaimRoute: Analyzer = {
  name: 'virtualservice.JWTClaimRouteAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
