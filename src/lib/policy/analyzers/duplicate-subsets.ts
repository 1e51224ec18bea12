// A DestinationRule's subsets are looked up by name, so a second subset with the same name is either
// dead or, worse, silently replaces the first: Istio rejects it.
import type { Analyzer } from '../analysis.js';
import { K } from '../kinds.js';
import { listOf, objectOf, specOf, stringOf } from '../spec.js';

export const duplicateSubsets: Analyzer = {
  name: 'meshctl.DuplicateSubsets',
  description: 'Finds subset names defined twice in one DestinationRule.',
  inputs: [K.DestinationRule],
  codes: ['MSH2004'],
  run(ctx) {
    for (const dr of ctx.of(K.DestinationRule)) {
      const subsets = listOf(specOf(dr, K.DestinationRule).subsets);
      if (subsets.length < 2) continue;
      // Names by index ('' for a subset without one); a name's first index is its first match.
      const names: string[] = [];
      for (let i = 0; i < subsets.length; i++) {
        names.push(stringOf(objectOf(subsets[i]).name));
      }
      // A short list is searched; a long one indexed.
      let first: Map<string, number> | undefined;
      if (names.length > 16) {
        first = new Map();
        for (let i = names.length - 1; i >= 0; i--) if (names[i] !== '') first.set(names[i]!, i);
      }
      for (let i = 1; i < names.length; i++) {
        const name = names[i]!;
        if (name === '') continue;
        const earlier = first ? first.get(name)! : names.indexOf(name);
        if (earlier === i) continue;
        ctx.report(
          'MSH2004',
          dr,
          `/spec/subsets/${i}/name`,
          `Subset ${name} is defined twice in DestinationRule ${dr.name} (subsets ${earlier} and ${i}); rename or remove subset ${i}.`,
        );
      }
    }
  },
};
