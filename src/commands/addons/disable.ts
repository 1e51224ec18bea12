import { Args } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../../lib/cli/base.js';
import { homeFlag } from '../../lib/mesh/home-flag.js';

interface DisableResult {
  addon: 'prometheus';
  status: 'disabled' | 'not-enabled';
}

export default class AddonsDisable extends MeshctlCommand {
  static override summary = 'Stop an addon the mesh agent runs (its data stays in the mesh home).';

  static override description = `Exit codes: 0 disabled, or it was not enabled; 2 usage error; 3 environment error (no mesh, or its agent does not answer).`;

  static override examples = ['<%= config.bin %> <%= command.id %> prometheus'];

  static override args = {
    addon: Args.string({ description: 'The addon to disable.', required: true, options: ['prometheus'] }),
  };

  static override flags = {
    home: homeFlag,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<DisableResult> {
    const { flags } = await this.parse(AddonsDisable);
    const format = this.format(flags);
    const { requireInstalledLayout } = await import('../../lib/mesh/addons/commands.js');
    const { disablePrometheus } = await import('../../lib/mesh/addons/prometheus.js');
    const { render } = await import('../../lib/output/render.js');
    const layout = await requireInstalledLayout(flags.home, true);
    const result: DisableResult = { addon: 'prometheus', status: (await disablePrometheus(layout)) ? 'disabled' : 'not-enabled' };
    await render(format, { document: result, text: () => (result.status === 'disabled' ? 'prometheus stopped; its data stays in the mesh home.\n' : 'prometheus was not enabled; nothing to do.\n') });
    return result;
  }
}
