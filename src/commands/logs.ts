import { Args, Flags } from '@oclif/core';
import { MeshctlCommand } from '../lib/cli/base.js';
import { durationFlag } from '../lib/cli/duration-flag.js';
import { homeFlag, openHome } from '../lib/mesh/home-flag.js';
import { namespaceFlag } from '../lib/cli/namespace-flags.js';

export default class Logs extends MeshctlCommand {
  static override summary = "Print a pod's logs: its app's output, or its sidecar's messages and access log.";

  static override description = `--container app (the default) prints what the app wrote to stdout and stderr; --container proxy prints the sidecar's own messages and then its access log (one JSON object per request). Gateway proxies have only the proxy container. Each start of an app begins its log afresh; --previous (-p) prints the run before it, as after a crash.

Exit codes: 0 printed; 2 no such pod or container; 3 the mesh is not installed; 130 --follow ended by Ctrl-C.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> reviews-v2-0',
    '<%= config.bin %> <%= command.id %> reviews-v2-0 --container proxy --tail 20',
    '<%= config.bin %> <%= command.id %> productpage-v1-0 --follow',
    '<%= config.bin %> <%= command.id %> reviews-v2-0 --previous',
    '<%= config.bin %> <%= command.id %> reviews-v2-0 --container proxy --since 5m',
  ];

  static override args = {
    pod: Args.string({ description: 'Pod (or gateway proxy) name, as meshctl get pods lists it.', required: true }),
  };

  static override flags = {
    container: Flags.option({ char: 'c', summary: 'Which container.', options: ['app', 'proxy'] as const, default: 'app' as const })(),
    follow: Flags.boolean({ char: 'f', summary: 'Keep printing what is written, until interrupted.', default: false }),
    tail: Flags.integer({ summary: 'Only the last N lines of each file (default: all; 0 prints none, as with -f it shows only what comes next).' }),
    since: durationFlag({ summary: 'Only what was written in this last span (a duration: 30s, 5m, 1h), to within a second.' }),
    previous: Flags.boolean({ char: 'p', summary: "The app's output from its run before the current one (after a crash or a restart).", default: false, exclusive: ['follow'] }),
    namespace: namespaceFlag,
    home: homeFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Logs);
    const { logFiles, tail, follow, podStillPlaced, checkTail } = await import('../lib/mesh/logs.js');
    checkTail(flags.tail);
    const sinceMs = flags.since === undefined ? undefined : Date.now() - flags.since;
    const { layout } = await openHome(flags.home);
    const { ensureAgent } = await import('../lib/mesh/agent/client.js');
    await ensureAgent(layout);
    const { writeOut } = await import('../lib/output/format.js');
    const files = await logFiles(layout, args.pod, flags.container, flags.namespace, flags.previous);
    const readUpTo = new Map<string, number>();
    for (const f of files) await writeOut(await tail(f, flags.tail, sinceMs, readUpTo));
    if (!flags.follow) return;
    const { watch } = await import('../lib/output/watch.js');
    const end = await watch((w) => follow(files, writeOut, { signal: w.signal, stillThere: () => podStillPlaced(layout, args.pod), from: readUpTo }));
    this.finish(end.exitCode(0));
  }
}
