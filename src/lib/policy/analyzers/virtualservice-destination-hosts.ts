import type { Analyzer } from '../analysis.js';

export const destinationHosts: Analyzer = {
  name: 'virtualservice.DestinationHostAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
