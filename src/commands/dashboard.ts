import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { homeFlag } from '../lib/mesh/home-flag.js';
import type { DashboardResult } from '../lib/mesh/addons/commands.js';

export default class Dashboard extends MeshctlCommand {
  static override summary = 'Print the URL of an addon\'s web interface (prometheus), and open it where a desktop browser exists.';

  static override description = `--url prints only the URL, for scripts, and opens nothing.

Exit codes: 0 printed; 2 usage error; 3 environment error (no mesh, or the addon is not enabled: meshctl addons enable prometheus).`;

  static override examples = ['<%= config.bin %> <%= command.id %> prometheus', 'curl "$(<%= config.bin %> <%= command.id %> prometheus --url)/api/v1/query?query=istio_requests_total"'];

  static override args = {
    addon: Args.string({ description: 'The addon whose interface to show.', required: true, options: ['prometheus'] }),
  };

  static override flags = {
    home: homeFlag,
    url: Flags.boolean({ summary: 'Print only the URL; open nothing.', default: false }),
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<DashboardResult> {
    const { flags } = await this.parse(Dashboard);
    const format = this.format(flags);
    const { dashboard } = await import('../lib/mesh/addons/commands.js');
    const { render } = await import('../lib/output/render.js');
    const result = await dashboard(flags.home, { open: !flags.url && format === 'text' });
    await render(format, { document: result, text: () => (flags.url ? `${result.url}\n` : `${result.addon}: ${result.url}${result.opened ? ' (opened in the browser)' : ''}\n`) });
    return result;
  }
}
