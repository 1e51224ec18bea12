import type { Analyzer } from '../analysis.js';

export const serviceEntryConflictingProtocol: Analyzer = {
  name: 'serviceentry.ConflictingServiceEntryProtocolAnalyzer',
  description: '',
  inputs: [],
  codes: [],
  run() {},
};
