import type { Analyzer } from '../analysis.js';

export const authorizationPolicies: Analyzer = {
  name: 'auth.AuthorizationPoliciesAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
