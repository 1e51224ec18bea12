import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { durationFlag } from '../lib/cli/duration-flag.js';
import { EXIT, usageError } from '../lib/errors.js';
import { homeFlag } from '../lib/mesh/home-flag.js';
import { openTarget, targetFlags } from '../lib/target/open.js';
import type { TopSnapshot } from '../lib/mesh/top.js';
import { allNamespacesFlag, checkNamespaceScope, namespaceFlag } from '../lib/cli/namespace-flags.js';

export default class Top extends MeshctlCommand {
  static override summary = 'Live traffic per service and subset of the local mesh: RPS, success rate, p50/p95/p99 latency, and what the resilience policy did.';

  static override description = `Reads the access logs of every sidecar and gateway proxy and shows, for each service and subset the mesh routes to, the requests that started within the window (one minute by default): requests per second, success rate (non-5xx over all) and latency percentiles. Each request is counted once, by the proxy that sent it to the service. A POLICY column appears when the resilience and security policy acted in the window: requests retried (and the extra attempts), denied by an AuthorizationPolicy, rate-limited, refused by a full connection pool, timed out, without a route, failed upstream, and endpoints outlier detection has ejected now; -o json always has these under resilience (null: not reported by the mesh's proxies).

On a cluster (--target kubernetes, --context or --kubeconfig), the figures come from each sidecar's and gateway's Istio metrics (port 15020, through the API server's pod proxy; RBAC: get on pods/proxy), counted by the proxy that sent each request; the sidecars count from their start, so one snapshot reads them twice, 5s apart, and covers those 5s.

--until ends the window at a past moment instead of now, so that the figures of a shift's analysis can be read again: the analyses of \`route status -o json\` give their end (at) and length (windowMs), and top with --until AT --window WINDOWMSms shows the same figures the gates judged.

HOST narrows the rows to one service (reviews, reviews.default or its full name). With --watch the figures refresh every --interval: in place on a terminal, as successive snapshots otherwise (NDJSON with -o json); Ctrl-C ends it, and so does --count N after N snapshots.

Exit codes: 0 done; 2 usage error or an unknown HOST (the services are named); 3 no mesh is installed; 130 interrupted.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> reviews',
    '<%= config.bin %> <%= command.id %> --watch --interval 2s',
    '<%= config.bin %> <%= command.id %> reviews --watch --count 5 -o json',
    '<%= config.bin %> <%= command.id %> reviews --window 30s --until 2026-01-01T10:00:00.000Z -o json',
  ];

  static override args = {
    host: Args.string({ description: 'A service of the mesh: short name, name.namespace or full host name.', required: false }),
  };

  static override flags = {
    window: durationFlag({ summary: 'The span the figures cover, ending now (a duration: 30s, 1m, 5m).', default: '1m', min: '1s' }),
    until: Flags.string({ summary: 'Where the window ends: an ISO-8601 time (default now; not with --watch).', helpValue: 'TIME' }),
    watch: Flags.boolean({ char: 'w', summary: 'Refresh until Ctrl-C (or --count snapshots).', default: false }),
    interval: durationFlag({ summary: 'Time between snapshots with --watch.', default: '2s', min: '100ms' }),
    count: Flags.integer({ summary: 'Stop after this many snapshots (implies --watch).', min: 1 }),
    namespace: namespaceFlag,
    'all-namespaces': allNamespacesFlag,
    home: homeFlag,
    ...targetFlags,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  /** The snapshot; null with --watch, whose snapshots were streamed. */
  async run(): Promise<TopSnapshot | null> {
    const { args, flags } = await this.parse(Top);
    const format = this.format(flags);
    checkNamespaceScope(flags);
    const windowMs = flags.window;
    const intervalMs = flags.interval;
    const untilMs = flags.until === undefined ? undefined : Date.parse(flags.until);
    if (untilMs !== undefined && Number.isNaN(untilMs)) throw usageError(`--until ${flags.until} is not a time; write it in ISO-8601, e.g. 2026-01-01T10:00:00.000Z.`);
    const target = await openTarget(flags);
    const { TrafficWatcher } = await import('../lib/mesh/top.js');
    const out = await import('../lib/output/format.js');
    const watcher = new TrafficWatcher(target, { windowSeconds: windowMs / 1000, host: args.host, namespace: flags.namespace });
    const watch = flags.watch || flags.count !== undefined;
    if (watch && untilMs !== undefined) throw usageError('--until fixes the window and --watch moves it on; drop one of them.');
    const limit = flags.count ?? (watch ? Infinity : 1);
    const inPlace = watch && format === 'text' && Boolean(process.stdout.isTTY);
    const p = out.paint(out.colorEnabled());
    const { render, renderFrame } = await import('../lib/output/render.js');
    const { topText } = await import('../lib/mesh/render.js');

    if (!watch) {
      const snapshot = await watcher.snapshot(untilMs === undefined ? undefined : new Date(untilMs));
      await render(format, { document: snapshot, text: () => topText(snapshot, p) });
      return snapshot;
    }
    const { watch: watchLoop } = await import('../lib/output/watch.js');
    let previousLines = 0;
    const end = await watchLoop(async (w) => {
      for (let n = 0; n < limit; n++) {
        if (n > 0 && !(await w.pause(intervalMs))) break;
        const snapshot = await watcher.snapshot();
        await renderFrame(format, {
          document: snapshot,
          text: async () => {
            const text = topText(snapshot, p);
            if (!inPlace) return `${n > 0 ? '\n' : ''}${text}`;
            // Back to the first line of the previous frame, and clear everything below it.
            const frame = `${previousLines ? `\u001b[${previousLines}F\u001b[J` : ''}${text}`;
            previousLines = text.split('\n').length - 1;
            return frame;
          },
        });
      }
    });
    this.finish(end.exitCode(EXIT.ok));
    return null;
  }
}
