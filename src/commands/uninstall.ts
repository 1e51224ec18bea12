import { Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { EXIT, MeshctlError, usageError } from '../lib/errors.js';
import { homeFlag } from '../lib/mesh/home-flag.js';
import { targetFlags, targetKind } from '../lib/target/open.js';
import { progressWriter } from '../lib/output/format.js';
import type { UninstallResult } from '../lib/mesh/uninstall.js';

export default class Uninstall extends MeshctlCommand {
  static override summary = 'Stop the local mesh (agent, apps, sidecars, gateways) and remove its home.';

  static override description = `Stops only the processes meshctl started for this mesh home (by their recorded pids): every app first, then every proxy, then the agent; checks that none of the mesh's ports still listens; then removes the mesh home, or with --keep-state keeps it (CA, configuration, applied resources and their history: meshctl install brings the mesh back).

Asks for confirmation on a terminal; without one, --yes is required.

Exit codes: 0 uninstalled (or nothing installed); 2 not confirmed; 3 a port of the mesh still listens.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --yes --home /tmp/mesh',
    '<%= config.bin %> <%= command.id %> --keep-state',
  ];

  static override flags = {
    yes: Flags.boolean({ char: 'y', summary: 'Do not ask for confirmation.', default: false }),
    'keep-state': Flags.boolean({ summary: 'Keep the home (CA, configuration, applied resources); only stop the processes.', default: false }),
    home: homeFlag,
    ...targetFlags,
    namespace: Flags.string({ char: 'n', summary: 'On a Kubernetes cluster: a namespace to take the injection label meshctl added off (repeatable; default: every namespace).', multiple: true }),
    'dry-run': Flags.boolean({ summary: 'On a Kubernetes cluster: print the requests and change nothing.', default: false }),
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<UninstallResult | unknown> {
    const { flags } = await this.parse(Uninstall);
    const format = this.format(flags);
    if (targetKind({ ...flags, namespace: undefined }) === 'kubernetes') return (await import('../lib/kube/install-command.js')).uninstallOnClusterCommand(flags, format);
    const { homeLayout, resolveHome } = await import('../lib/mesh/home.js');
    const layout = homeLayout(resolveHome(flags.home));
    const { uninstall } = await import('../lib/mesh/uninstall.js');
    const exists = await import('node:fs').then((fs) => fs.existsSync(layout.root));
    if (exists) {
      const what = flags['keep-state'] ? `stops every pod of the mesh at ${layout.root} (its state is kept)` : `stops every pod of the mesh at ${layout.root} and deletes that directory`;
      const { confirm } = await import('../lib/output/prompt.js');
      const confirmed = await confirm(`This ${what}. Continue?`, {
        yes: flags.yes,
        withoutTerminal: () => {
          throw usageError(`meshctl uninstall ${what}; there is no terminal to confirm it on: run it again with --yes.`);
        },
      });
      if (!confirmed) throw new MeshctlError('Uninstall cancelled; nothing was changed.', EXIT.usage);
    }
    const result = await uninstall(layout, { keepState: flags['keep-state'], progress: progressWriter(format) });
    const { render } = await import('../lib/output/render.js');
    const { uninstallText } = await import('../lib/mesh/render.js');
    await render(format, {
      document: result,
      text: () => uninstallText(result),
    });
    return result;
  }
}
