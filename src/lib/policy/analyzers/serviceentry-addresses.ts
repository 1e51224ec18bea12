import type { Analyzer } from '../analysis.js';

export const serviceEntryAddresses: Analyzer = {
  name: 'serviceentry.Analyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
