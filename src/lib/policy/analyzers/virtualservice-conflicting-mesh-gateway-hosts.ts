import type { Analyzer } from '../analysis.js';

export const conflictingMeshGatewayHosts: Analyzer = {
  name: 'virtualservice.ConflictingMeshGatewayHostsAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
