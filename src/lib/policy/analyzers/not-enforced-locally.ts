// The local mesh accepts every Istio kind but its HAProxy sidecars do not enforce all of them; a
// policy that would be ignored locally is pointed at before anyone relies on it. One finding per file
// and unenforced field (at its first place there, with the count of the others): an exported policy
// set with 500 AuthorizationPolicies gets one line that says so, not 500, and validate's cost and
// output stay those of the policy itself.
import type { Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { localEnforcement, notEnforcedSentence, unenforcedOccurrences, unenforcedRulesOf, type UnenforcedField, type UnenforcedRule } from '../local-enforcement.js';
import { K } from '../kinds.js';
import { count } from './groups.js';

const KINDS_WITH_POLICY = Object.values(K).filter((kind) => localEnforcement(kind));

interface FirstPlace {
  resource: Resource;
  item: UnenforcedField;
  /** Resources of the same file where the same field (or whole kind) is set, the first one included. */
  resources: number;
}

export const notEnforcedLocally: Analyzer = {
  name: 'meshctl.NotEnforcedLocally',
  description: 'Finds policy fields (or whole resources) that the local mesh accepts but does not enforce, once per file and field.',
  inputs: KINDS_WITH_POLICY,
  codes: ['MSH2015'],
  run(ctx) {
    // In the order first met; a rule is one field of one kind (http[0].corsPolicy and http[3].corsPolicy
    // are one), so a file's places are found by rule without spelling a key for every resource.
    const places: FirstPlace[] = [];
    const placesByFile = new Map<string, Map<UnenforcedRule, FirstPlace>>();
    for (const kind of KINDS_WITH_POLICY) {
      const resources = ctx.of(kind);
      for (let r = 0; r < resources.length; r++) {
        const resource = resources[r]!;
        const rules = unenforcedRulesOf(resource);
        if (!rules.length) continue;
        const file = resource.doc?.file.path ?? '';
        let ofFile = placesByFile.get(file);
        if (!ofFile) placesByFile.set(file, (ofFile = new Map()));
        for (const rule of rules) {
          const place = ofFile.get(rule);
          if (place) {
            place.resources++;
            continue;
          }
          const first = { resource, item: unenforcedOccurrences(resource.spec, rule, 1)[0]!, resources: 1 };
          ofFile.set(rule, first);
          places.push(first);
        }
      }
    }
    for (const { resource, item, resources } of places) {
      const others = resources - 1;
      const more = others > 0 ? ` The same holds for ${count(others)} more ${resource.kind} resource${others === 1 ? '' : 's'} in this file.` : '';
      ctx.report('MSH2015', resource, item.pointer, notEnforcedSentence(resource, item) + more);
    }
  },
};
