// Mirroring exists to copy live traffic to something else (a new version, a recorder); mirroring to a
// destination the route already sends to makes those pods serve the same request twice.
import type { Analyzer } from '../analysis.js';
import { K } from '../kinds.js';
import { listOf, objectOf, specOf, type Mistyped, type VirtualServiceSpecHttpMirror, type VirtualServiceSpecHttpMirrorPercentage } from '../spec.js';
import { routeLabel, sameHost } from './util.js';

interface Target {
  host: string;
  subset: string;
}

/** A route destination or a mirror (both name a host and a subset). */
function targetOf(destination: VirtualServiceSpecHttpMirror | Mistyped | undefined): Target | undefined {
  const d = objectOf(destination);
  if (typeof d.host !== 'string' || d.host === '') return undefined;
  return { host: d.host, subset: typeof d.subset === 'string' ? d.subset : '' };
}

/** A mirror set to 0% copies nothing. */
function mirrorsNothing(percentage: VirtualServiceSpecHttpMirrorPercentage | Mistyped | undefined, legacyPercent?: number | null | Mistyped): boolean {
  const value = objectOf(percentage).value;
  return value === 0 || (percentage === undefined && legacyPercent === 0);
}

export const mirrorToSelf: Analyzer = {
  name: 'meshctl.MirrorToSelf',
  description: "Finds HTTP routes that mirror traffic to one of the route's own destinations.",
  inputs: [K.VirtualService],
  codes: ['MSH2010'],
  run(ctx) {
    for (const vs of ctx.of(K.VirtualService)) {
      listOf(specOf(vs, K.VirtualService).http).forEach((route, i) => {
        const r = objectOf(route);
        if (!r.mirror && listOf(r.mirrors).length === 0) return; // Nothing mirrored.
        const destinations = listOf(r.route).map((d) => targetOf(objectOf(d).destination)).filter((t): t is Target => !!t);
        if (destinations.length === 0) return;
        const mirrors: { target: Target | undefined; pointer: string }[] = [];
        if (r.mirror && !mirrorsNothing(r.mirrorPercentage, r.mirrorPercent)) mirrors.push({ target: targetOf(r.mirror), pointer: `/spec/http/${i}/mirror` });
        listOf(r.mirrors).forEach((m, k) => {
          const mirror = objectOf(m);
          if (!mirrorsNothing(mirror.percentage)) mirrors.push({ target: targetOf(mirror.destination), pointer: `/spec/http/${i}/mirrors/${k}/destination` });
        });
        for (const { target, pointer } of mirrors) {
          if (!target) continue;
          const same = destinations.some((d) => d.subset === target.subset && sameHost(vs.namespace, d.host, target.host));
          if (!same) continue;
          const name = target.subset ? `${target.host} (subset ${target.subset})` : target.host;
          ctx.report(
            'MSH2010',
            vs,
            pointer,
            `${cap(routeLabel(route, i))} of VirtualService ${vs.name} mirrors traffic to ${name}, which is already one of its destinations, so those pods serve requests twice; mirror to a different host or subset.`,
          );
        }
      });
    }
  },
};

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
