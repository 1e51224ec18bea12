// A fault abort on a route that takes every request turns the whole host into an error page. Only an
// explicit percentage aborts anything: without one Istio hands Envoy no percentage and nothing is aborted
// (istio/istio#36303), so that case is not this check's.
import type { Analyzer } from '../analysis.js';
import { K } from '../kinds.js';
import { listOf, objectOf, specOf } from '../spec.js';
import { isCatchAllRoute, routeLabel } from './util.js';
import { fewWords } from './groups.js';

export const unmatchedAbort: Analyzer = {
  name: 'meshctl.UnmatchedAbort',
  description: 'Finds HTTP routes without a narrowing match that abort 100% of requests.',
  inputs: [K.VirtualService],
  codes: ['MSH2009'],
  run(ctx) {
    for (const vs of ctx.of(K.VirtualService)) {
      const spec = specOf(vs, K.VirtualService);
      listOf(spec.http).forEach((route, i) => {
        const abort = objectOf(objectOf(objectOf(route).fault).abort);
        const percent = objectOf(abort.percentage).value;
        if (typeof percent !== 'number' || percent < 100) return;
        if (!isCatchAllRoute(route)) return;
        const status = typeof abort.httpStatus === 'number' ? `HTTP ${abort.httpStatus}` : typeof abort.grpcStatus === 'string' ? `gRPC ${abort.grpcStatus}` : 'an error';
        const matched = listOf(objectOf(route).match).length > 0 ? 'has a match that takes every request' : 'has no match';
        const hosts = listOf(spec.hosts).filter((h): h is string => typeof h === 'string');
        const target = `${hosts.length ? fewWords(hosts) : `VirtualService ${vs.name}`}${i > 0 ? ' that no earlier route takes' : ''}`;
        ctx.report(
          'MSH2009',
          vs,
          `/spec/http/${i}/fault/abort/percentage/value`,
          `${cap(routeLabel(route, i))} of VirtualService ${vs.name} ${matched} and aborts 100% of requests with ${status}, so every request to ${target} fails; add a match (for example on a test header) or lower the percentage.`,
        );
      });
    }
  },
};

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
