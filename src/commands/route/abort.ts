import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../../lib/cli/base.js';
import { homeFlag } from '../../lib/mesh/home-flag.js';
import type { ControlResult } from '../../lib/shift/control.js';
import { openTarget, targetFlags, targetFlagsText } from '../../lib/target/open.js';

export default class RouteAbort extends MeshctlCommand {
  static override summary = 'Stop a traffic shift and put back the weights its route had before it started, now.';

  static override description = `When a meshctl process runs the shift, it is asked to roll back (it exits 1); when none does (the shift is held, or its process was killed), this command sets them on every proxy itself. Either way the applied VirtualService gets the weights from before the shift too (a new subset that held 20% then holds 20% again), and a header-canary route the shift added is removed. An abort always ends the shift, also after meshctl apply --force changed its route (the route is put back as the shift found it).

Exit codes: 0 aborted; 2 no shift of HOST is in progress; 3 the mesh is not installed, or a proxy could not take the weights.`;

  static override examples = ['<%= config.bin %> <%= command.id %> reviews', '<%= config.bin %> <%= command.id %> reviews -o json'];

  static override args = {
    host: Args.string({ description: 'The host whose shift to abort (e.g. reviews).', required: true }),
  };

  static override flags = {
    namespace: Flags.string({ char: 'n', summary: 'Namespace HOST is resolved in (default "default").' }),
    home: homeFlag,
    ...targetFlags,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<ControlResult> {
    const { args, flags } = await this.parse(RouteAbort);
    const format = this.format(flags);
    const mesh = await openTarget(flags);
    const { controlShift, controlResult, controlText } = await import('../../lib/shift/control.js');
    const { render } = await import('../../lib/output/render.js');
    const commonFlags = [flags.home ? `--home ${flags.home}` : '', targetFlagsText(flags), flags.namespace && flags.namespace !== 'default' ? `-n ${flags.namespace}` : ''].filter(Boolean).join(' ');
    const outcome = await controlShift(mesh, { host: args.host, namespace: flags.namespace ?? 'default', action: 'abort', commonFlags });
    const result = controlResult(outcome);
    await render(format, { document: result, text: () => `${controlText(result)}\n` });
    return result;
  }
}
