// The local mesh accepts every Istio kind but its HAProxy sidecars do not enforce all of them; a
// policy that would be ignored locally is pointed at before anyone relies on it. One finding per file
// and unenforced field (at its first place there, with the count of the others): an exported policy
// set with 500 AuthorizationPolicies gets one line that says so, not 500, and validate's cost and
// output stay those of the policy itself.
import type { Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { localEnforcement, notEnforcedSentence, unenforcedFields, type UnenforcedField } from '../local-enforcement.js';
import { K } from '../kinds.js';

const KINDS_WITH_POLICY = Object.values(K).filter((kind) => localEnforcement(kind));

interface FirstPlace {
  resource: Resource;
  item: UnenforcedField;
  /** Resources of the same file where the same field (or whole kind) is set, the first one included. */
  resources: Set<Resource>;
}

export const notEnforcedLocally: Analyzer = {
  name: 'meshctl.NotEnforcedLocally',
  description: 'Finds policy fields (or whole resources) that the local mesh accepts but does not enforce, once per file and field.',
  inputs: KINDS_WITH_POLICY,
  codes: ['MSH2015'],
  run(ctx) {
    const places = new Map<string, FirstPlace>();
    for (const kind of KINDS_WITH_POLICY) {
      for (const resource of ctx.of(kind)) {
        for (const item of unenforcedFields(resource)) {
          // Indices do not make another field: http[0].corsPolicy and http[3].corsPolicy are one.
          const key = `${resource.doc?.file.path ?? ''}\0${kind}\0${item.field.replace(/\[\d+\]/g, '[]')}`;
          const place = places.get(key);
          if (place) place.resources.add(resource);
          else places.set(key, { resource, item, resources: new Set([resource]) });
        }
      }
    }
    for (const { resource, item, resources } of places.values()) {
      const others = resources.size - 1;
      const more = others > 0 ? ` The same holds for ${others.toLocaleString('en-US')} more ${resource.kind} resource${others === 1 ? '' : 's'} in this file.` : '';
      ctx.report('MSH2015', resource, item.pointer, notEnforcedSentence(resource, item) + more);
    }
  },
};
