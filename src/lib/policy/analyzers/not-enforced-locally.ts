// The local mesh accepts every Istio kind but its HAProxy sidecars do not enforce all of them; a
// policy that would be ignored locally is pointed at, field by field, before anyone relies on it.
import type { Analyzer } from '../analysis.js';
import { localEnforcement, notEnforcedSentence, unenforcedFields } from '../local-enforcement.js';
import { K } from '../kinds.js';

const KINDS_WITH_POLICY = Object.values(K).filter((kind) => localEnforcement(kind));

export const notEnforcedLocally: Analyzer = {
  name: 'meshctl.NotEnforcedLocally',
  description: 'Finds policy fields (or whole resources) that the local mesh accepts but does not enforce.',
  inputs: KINDS_WITH_POLICY,
  codes: ['MSH2015'],
  run(ctx) {
    for (const kind of KINDS_WITH_POLICY) {
      for (const resource of ctx.of(kind)) {
        for (const item of unenforcedFields(resource)) ctx.report('MSH2015', resource, item.pointer, notEnforcedSentence(resource, item));
      }
    }
  },
};
