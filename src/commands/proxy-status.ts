import { Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { durationFlag } from '../lib/cli/duration-flag.js';
import { EXIT } from '../lib/errors.js';
import { homeFlag } from '../lib/mesh/home-flag.js';
import { openTarget, targetFlags } from '../lib/target/open.js';
import type { ProxyStatusReport } from '../lib/target/target.js';
import { allNamespacesFlag } from '../lib/cli/namespace-flags.js';

export default class ProxyStatus extends MeshctlCommand {
  static override summary = 'One row per proxy of the local mesh: the revision it serves against the applied one, readiness, certificate expiry.';

  static override description = `Asks every sidecar and gateway proxy directly (its admin port and runtime API, a bounded number at a time, without the agent): which revision it serves, SYNCED when that is the revision its configuration last changed at (the revision applied last, or an earlier one that revisions since left its configuration as it was) and STALE when not, whether it is ready, and when the certificate it serves expires. A proxy that does not answer is marked UNREACHABLE in its row, with the address tried; the others still report.

With --wait it asks again until every proxy is SYNCED and ready, or --timeout passes, so that a pipeline can wait on it.

Exit codes: 0 every proxy is SYNCED and ready; 1 some proxy is STALE, not ready or unreachable (after --wait: still, at the timeout); 2 usage error; 3 no mesh is installed; 130 interrupted.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --wait --timeout 60s',
    '<%= config.bin %> <%= command.id %> -o json',
  ];

  static override flags = {
    wait: Flags.boolean({ summary: 'Ask again until every proxy is SYNCED and ready, or --timeout passes.', default: false }),
    timeout: durationFlag({ summary: 'How long --wait waits (a duration: 60s, 2m).', default: '60s' }),
    'proxy-timeout': durationFlag({ summary: 'How long one proxy may take to answer before its row says UNREACHABLE.', default: '2s' }),
    concurrency: Flags.integer({ summary: 'Proxies asked at once.', default: 16, min: 1, max: 256 }),
    'all-namespaces': allNamespacesFlag,
    home: homeFlag,
    ...targetFlags,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<ProxyStatusReport> {
    const { flags } = await this.parse(ProxyStatus);
    const format = this.format(flags);
    const timeoutMs = flags.timeout;
    const proxyTimeoutMs = flags['proxy-timeout'];
    const target = await openTarget(flags);
    const status = await import('../lib/mesh/proxy-status.js');
    const out = await import('../lib/output/format.js');
    const { render } = await import('../lib/output/render.js');
    const { proxyStatusSummary, proxyStatusText } = await import('../lib/mesh/render.js');
    const { watch } = await import('../lib/output/watch.js');
    let last = '';
    const end = flags.wait
      ? await watch(async (w) =>
        (await status.waitForProxies(target, {
          waitMs: timeoutMs,
          timeoutMs: proxyTimeoutMs,
          concurrency: flags.concurrency,
          signal: w.signal,
          onReading: (r) => {
            if (r.ok) return;
            const line = `waiting: ${proxyStatusSummary(r)}`;
            if (line !== last) out.writeErr(`${line}\n`);
            last = line;
          },
        })).report)
      : null;
    const report = end ? end.value : await target.proxyStatus({ timeoutMs: proxyTimeoutMs, concurrency: flags.concurrency });
    await render(format, { document: report, text: () => proxyStatusText(report, out.paint(out.colorEnabled())) });
    const answer = report.ok ? EXIT.ok : EXIT.negative;
    this.finish(end ? end.exitCode(answer) : answer);
    return report;
  }
}
