import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../../lib/cli/base.js';
import { durationFlag } from '../../lib/cli/duration-flag.js';
import { formatDuration } from '../../lib/policy/duration.js';
import { EXIT } from '../../lib/errors.js';
import { homeFlag } from '../../lib/mesh/home-flag.js';
import { openTarget, targetFlags } from '../../lib/target/open.js';
import type { RouteStatus, ShiftState } from '../../lib/shift/status.js';

/** 0 promoted or still running, 1 rolled back or aborted, 4 waiting for a person (held, or its process gone). */
function exitCodeOf(state: ShiftState): number {
  if (state === 'rolled_back' || state === 'aborted') return EXIT.negative;
  if (state === 'held' || state === 'interrupted') return EXIT.held;
  return EXIT.ok;
}

export default class RouteStatusCommand extends MeshctlCommand {
  static override summary = "Show a traffic shift: its plan, its step, the weights every proxy actually serves, the last analyses and its history.";

  static override description = `Reads the shift of HOST recorded in the mesh home and asks every proxy that carries the route which weights it serves now, matching them to the plan (a step, before the shift, or rolled back). After a crash or kill -9 of the shift, this is where to look: the proxies serve weights of the plan, and meshctl route shift HOST --resume continues from there.

--watch refreshes every second and exits when the shift ends (a shift that has not started yet is waited for, at most --timeout) (promoted, rolled back, aborted) or waits for a person (held, or its meshctl process gone); with -o json it prints one JSON document per line each time the shift changes.

Exit codes: 0 promoted or in progress; 1 rolled back or aborted; 2 no shift of HOST is recorded; 3 the mesh is not installed; 4 held, or interrupted (its meshctl process is gone: --resume continues); 130 --watch ended by Ctrl-C.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> reviews',
    '<%= config.bin %> <%= command.id %> reviews --watch',
    '<%= config.bin %> <%= command.id %> reviews -o json',
  ];

  static override args = {
    host: Args.string({ description: 'The host whose shift to show (e.g. reviews).', required: true }),
  };

  static override flags = {
    watch: Flags.boolean({ char: 'w', summary: 'Refresh every second until the shift ends or waits for a person.' }),
    analyses: Flags.integer({ summary: 'How many of the latest analyses to show.', default: 5 }),
    timeout: durationFlag({ summary: 'With --watch: how long to wait for a shift that has not started yet.', default: '60s' }),
    namespace: Flags.string({ char: 'n', summary: 'Namespace HOST is resolved in (default "default").' }),
    home: homeFlag,
    ...targetFlags,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<RouteStatus> {
    const { args, flags } = await this.parse(RouteStatusCommand);
    const format = this.format(flags);
    const mesh = await openTarget(flags);
    const { awaitRouteStatus, routeStatus } = await import('../../lib/shift/status.js');
    const { statusText } = await import('../../lib/shift/render.js');
    const { render, renderFrame } = await import('../../lib/output/render.js');
    const read = () => routeStatus(mesh, { host: args.host, namespace: flags.namespace ?? 'default', analyses: flags.analyses });
    const timeoutMs = flags.timeout;
    let status = flags.watch
      ? await awaitRouteStatus(mesh, { host: args.host, namespace: flags.namespace ?? 'default', analyses: flags.analyses, timeoutMs, timeoutText: formatDuration(timeoutMs) })
      : await read();
    if (!flags.watch) {
      const shown = status;
      await render(format, { document: shown, text: () => statusText(shown) });
      this.finish(exitCodeOf(status.shift.state));
      return status;
    }
    const tty = format === 'text' && Boolean(process.stdout.isTTY);
    const { watch } = await import('../../lib/output/watch.js');
    const end = await watch(async (w) => {
      let shown = '';
      for (;;) {
        const current = status;
        const key = JSON.stringify([current.shift.updatedAt, current.shift.state, current.served.summary]);
        // On a terminal the screen is redrawn every second; elsewhere a frame is printed only when the shift changed.
        if (tty || key !== shown) {
          const first = !shown;
          await renderFrame(format, { document: current, text: async () => `${tty ? '\u001b[H\u001b[2J' : first ? '' : '\n'}${await statusText(current)}` });
        }
        shown = key;
        if (current.shift.state !== 'running') return;
        if (!(await w.pause(1000))) return;
        status = await read();
      }
    });
    this.finish(end.exitCode(exitCodeOf(status.shift.state)));
    return status;
  }
}
