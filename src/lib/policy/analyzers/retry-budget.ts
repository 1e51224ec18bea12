// The route timeout bounds a request with all its retries, so retries that need longer than the timeout
// are cut off: the later attempts the author planned for never run.
import type { Analyzer } from '../analysis.js';
import { K } from '../kinds.js';
import { formatDuration, parseDuration } from '../duration.js';
import { listOf, objectOf, specOf } from '../spec.js';
import { routeLabel } from './util.js';

export const retryBudget: Analyzer = {
  name: 'meshctl.RetryBudget',
  description: 'Finds HTTP routes whose retries (attempts × perTryTimeout) take longer than the route timeout.',
  inputs: [K.VirtualService],
  codes: ['MSH2005'],
  run(ctx) {
    for (const vs of ctx.of(K.VirtualService)) {
      listOf(specOf(vs, K.VirtualService).http).forEach((route, i) => {
        const r = objectOf(route);
        const retries = objectOf(r.retries);
        const attempts = retries.attempts;
        // No timeout means no bound; attempts 0 turns retries off; malformed durations are MSH2006's.
        if (typeof r.timeout !== 'string' || typeof retries.perTryTimeout !== 'string') return;
        if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts <= 0) return;
        const timeout = parseDuration(r.timeout);
        const perTry = parseDuration(retries.perTryTimeout);
        if (timeout === undefined || perTry === undefined || timeout <= 0 || perTry <= 0) return;
        const total = attempts * perTry;
        if (total <= timeout) return;
        ctx.report(
          'MSH2005',
          vs,
          `/spec/http/${i}/retries`,
          `${cap(routeLabel(route, i))} of VirtualService ${vs.name} allows ${attempts} ${attempts === 1 ? 'retry' : 'retries'} × ${formatDuration(perTry)} per try = ${formatDuration(total)}, more than its ${formatDuration(timeout)} timeout, so the later retries are cut off; raise the timeout to at least ${formatDuration(total)} or lower attempts or perTryTimeout.`,
        );
      });
    }
  },
};

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
