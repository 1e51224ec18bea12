import { Args } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../../lib/cli/base.js';
import { homeFlag } from '../../lib/mesh/home-flag.js';

interface DisableResult {
  addon: 'prometheus' | 'tracing';
  status: 'disabled' | 'not-enabled';
}

export default class AddonsDisable extends MeshctlCommand {
  static override summary = 'Stop an addon the mesh agent runs (its data stays in the mesh home).';

  static override description = `Exit codes: 0 disabled, or it was not enabled; 2 usage error; 3 environment error (no mesh, or its agent does not answer).`;

  static override examples = ['<%= config.bin %> <%= command.id %> prometheus'];

  static override args = {
    addon: Args.string({ description: 'The addon to disable.', required: true, options: ['prometheus', 'tracing'] }),
  };

  static override flags = {
    home: homeFlag,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<DisableResult> {
    const { args, flags } = await this.parse(AddonsDisable);
    const format = this.format(flags);
    const { requireInstalledLayout } = await import('../../lib/mesh/addons/commands.js');
    const { disablePrometheus } = await import('../../lib/mesh/addons/prometheus.js');
    const { render } = await import('../../lib/output/render.js');
    const layout = await requireInstalledLayout(flags.home, true);
    let disabled: boolean;
    if (args.addon === 'tracing') {
      const { readTracingSettings, writeTracingSettings } = await import('../../lib/mesh/addons/trace-export.js');
      const { call } = await import('../../lib/mesh/agent/client.js');
      disabled = (await readTracingSettings(layout)) !== null;
      await writeTracingSettings(layout, null);
      await call(layout, 'addons', {});
    } else {
      disabled = await disablePrometheus(layout);
    }
    const result: DisableResult = { addon: args.addon as DisableResult['addon'], status: disabled ? 'disabled' : 'not-enabled' };
    const done = args.addon === 'tracing' ? 'tracing disabled: spans are no longer exported.' : 'prometheus stopped; its data stays in the mesh home.';
    await render(format, { document: result, text: () => (result.status === 'disabled' ? `${done}\n` : `${args.addon} was not enabled; nothing to do.\n`) });
    return result;
  }
}
