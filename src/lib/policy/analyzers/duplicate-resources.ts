// Two definitions of one resource (same group, kind, namespace and name) cannot both exist: applying the
// files keeps whichever comes last, and validating them checks a mesh that will never run.
import type { Analyzer } from '../analysis.js';
import type { Resource } from '../load.js';
import { locate } from '../locate.js';
import { KINDS, TOLERATED_KINDS } from '../kinds.js';

function where(r: Resource): string {
  if (!r.doc) return 'meshctl';
  const { line } = locate(r.doc, `${r.pointer}/metadata/name`);
  return `${r.doc.file.path}:${line}`;
}

export const duplicateResources: Analyzer = {
  name: 'meshctl.DuplicateResources',
  description: 'Finds resources defined more than once across the input files.',
  inputs: [...KINDS, ...TOLERATED_KINDS].map((k) => k.id),
  codes: ['MSH1012'],
  run(ctx) {
    // The analysis context finds the second definitions while it indexes the resources.
    for (const { resource: r, first: earlier } of ctx.redefined) {
      const id = r.namespace ? `${r.namespace}/${r.name}` : r.name;
      ctx.report(
        'MSH1012',
        r,
        '/metadata/name',
        `${r.kind} ${id} is already defined at ${where(earlier)}; keep one definition, since applying both leaves only the later one.`,
      );
    }
  },
};
