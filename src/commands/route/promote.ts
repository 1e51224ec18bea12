import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../../lib/cli/base.js';
import { EXIT, MeshctlError } from '../../lib/errors.js';
import { homeFlag } from '../../lib/mesh/home-flag.js';
import { openTarget, targetFlags, targetFlagsText } from '../../lib/target/open.js';
import type { ControlResult } from '../../lib/shift/control.js';

export default class RoutePromote extends MeshctlCommand {
  static override summary = 'Move a traffic shift to its next step now, or with --full straight to its last step.';

  static override description = `When a meshctl process runs the shift, it is asked to move on (and keeps analysing from the new step); when none does (the shift is held, or its process was killed), this command changes the weights itself: the shift then stays held at the new step until meshctl route shift HOST --resume, unless the step is the last one, which promotes it.

--full skips every remaining analysis: the last step's weights go to every proxy and the shift is promoted. On a terminal it asks first (--yes does not).

Exit codes: 0 done; 2 no shift of HOST is in progress, or --full not confirmed; 3 the mesh is not installed, or a proxy could not take the weights.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> reviews',
    '<%= config.bin %> <%= command.id %> reviews --full --yes',
  ];

  static override args = {
    host: Args.string({ description: 'The host whose shift to promote (e.g. reviews).', required: true }),
  };

  static override flags = {
    full: Flags.boolean({ summary: 'Go straight to the last step and promote, skipping the remaining analyses.' }),
    yes: Flags.boolean({ char: 'y', summary: 'Do not ask before --full.' }),
    namespace: Flags.string({ char: 'n', summary: 'Namespace HOST is resolved in (default "default").' }),
    home: homeFlag,
    ...targetFlags,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<ControlResult> {
    const { args, flags } = await this.parse(RoutePromote);
    const format = this.format(flags);
    const mesh = await openTarget(flags);
    if (flags.full) {
      const { confirm } = await import('../../lib/output/prompt.js');
      // Without a terminal --full goes ahead: a pipeline that asks for it means it.
      const ok = await confirm(`Promote the shift of ${args.host} to its last step now, skipping the remaining analyses?`, { yes: flags.yes, withoutTerminal: true });
      if (!ok) throw new MeshctlError('Promotion cancelled; nothing was changed.', EXIT.usage);
    }
    const { controlShift, controlResult, controlText } = await import('../../lib/shift/control.js');
    const { render } = await import('../../lib/output/render.js');
    const commonFlags = [flags.home ? `--home ${flags.home}` : '', targetFlagsText(flags), flags.namespace && flags.namespace !== 'default' ? `-n ${flags.namespace}` : ''].filter(Boolean).join(' ');
    const outcome = await controlShift(mesh, { host: args.host, namespace: flags.namespace ?? 'default', action: flags.full ? 'promote-full' : 'promote', commonFlags });
    const result = controlResult(outcome);
    await render(format, { document: result, text: () => `${controlText(result)}\n` });
    return result;
  }
}
