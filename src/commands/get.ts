import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { allNamespacesFlag, checkNamespaceScope, namespaceFlag } from '../lib/cli/namespace-flags.js';
import { homeFlag, openHome } from '../lib/mesh/home-flag.js';

export default class Get extends MeshctlCommand {
  static override summary = 'List the local mesh\'s pods or applied resources, as kubectl get does.';

  static override description = `TYPE is pods, or any policy kind by its plural, kind or short name: workloads (wl), services (svc), virtualservices (vs), destinationrules (dr), gateways (gw), serviceentries (se), peerauthentications (pa), ...; several types joined by commas (vs,dr) are listed together. With NAME, only that resource; with -l, only what carries the labels.

-o json and -o yaml print the stored resources as applied (a List), or the pods' status; -o wide adds columns; -o name prints kind/name, one per line, for scripts.

Exit codes: 0 listed (also when there is nothing to list); 2 unknown TYPE or NAME not found; 3 the mesh is not installed.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> pods',
    '<%= config.bin %> <%= command.id %> vs reviews -o yaml',
    '<%= config.bin %> <%= command.id %> workloads -o wide',
    '<%= config.bin %> <%= command.id %> destinationrules -n default -o json',
    '<%= config.bin %> <%= command.id %> vs,dr -A',
    '<%= config.bin %> <%= command.id %> pods -l app=reviews,version!=v1 -o name',
  ];

  static override args = {
    type: Args.string({ description: 'pods, workloads, services, virtualservices, destinationrules, gateways, ...', required: true }),
    name: Args.string({ description: 'Only the resource with this name.', required: false }),
  };

  static override flags = {
    namespace: namespaceFlag,
    'all-namespaces': allNamespacesFlag,
    selector: Flags.string({ char: 'l', summary: 'Only what carries these labels (app=reviews, version!=v1, version in (v1,v2), !canary).', helpValue: 'SELECTOR' }),
    home: homeFlag,
    output: outputFlag(['text', 'json', 'yaml', 'wide', 'name'] as const),
    json: jsonFlag,
  };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(Get);
    const format = this.format(flags);
    const { getListing, checkGetRequest } = await import('../lib/mesh/get.js');
    checkGetRequest({ types: args.type, selector: flags.selector });
    checkNamespaceScope(flags);
    const { layout } = await openHome(flags.home);
    const { call } = await import('../lib/mesh/agent/client.js');
    const { readApplied } = await import('../lib/mesh/state.js');
    const { render } = await import('../lib/output/render.js');
    const [status, applied] = await Promise.all([call(layout, 'status', {}), readApplied(layout)]);
    const listing = await getListing(
      { types: args.type, name: args.name, namespace: flags.namespace, selector: flags.selector, wide: format === 'wide' },
      status.pods,
      applied.resources,
    );
    for (const note of listing.notes) process.stderr.write(`${note}\n`);
    await render(format, { document: listing.document, text: () => listing.text, formats: { name: () => listing.names.map((n) => `${n}\n`).join('') } });
    return listing.document;
  }
}
