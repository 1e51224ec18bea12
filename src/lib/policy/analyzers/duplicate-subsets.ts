// A DestinationRule's subsets are looked up by name, so a second subset with the same name is either
// dead or, worse, silently replaces the first: Istio rejects it.
import type { Analyzer } from '../analysis.js';
import { K } from '../kinds.js';
import { asArray, asObject } from './util.js';

export const duplicateSubsets: Analyzer = {
  name: 'meshctl.DuplicateSubsets',
  description: 'Finds subset names defined twice in one DestinationRule.',
  inputs: [K.DestinationRule],
  codes: ['MSH2004'],
  run(ctx) {
    for (const dr of ctx.of(K.DestinationRule)) {
      const first = new Map<string, number>();
      asArray(asObject(dr.spec).subsets).forEach((subset, i) => {
        const name = asObject(subset).name;
        if (typeof name !== 'string' || name === '') return;
        const earlier = first.get(name);
        if (earlier === undefined) {
          first.set(name, i);
          return;
        }
        ctx.report(
          'MSH2004',
          dr,
          `/spec/subsets/${i}/name`,
          `Subset ${name} is defined twice in DestinationRule ${dr.name} (subsets ${earlier} and ${i}); rename or remove subset ${i}.`,
        );
      });
    }
  },
};
