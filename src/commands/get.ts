import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { usageError } from '../lib/errors.js';
import { homeFlag, openHome } from '../lib/mesh/home-flag.js';

export default class Get extends MeshctlCommand {
  static override summary = 'List the local mesh\'s pods or applied resources, as kubectl get does.';

  static override description = `TYPE is pods, or any policy kind by its plural, kind or short name: workloads (wl), services (svc), virtualservices (vs), destinationrules (dr), gateways (gw), serviceentries (se), peerauthentications (pa), ... With NAME, only that resource.

-o json and -o yaml print the stored resources as applied (a List), or the pods' status; -o wide adds columns.

Exit codes: 0 listed (also when there is nothing to list); 2 unknown TYPE or NAME not found; 3 the mesh is not installed.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> pods',
    '<%= config.bin %> <%= command.id %> vs reviews -o yaml',
    '<%= config.bin %> <%= command.id %> workloads -o wide',
    '<%= config.bin %> <%= command.id %> destinationrules -n default -o json',
  ];

  static override args = {
    type: Args.string({ description: 'pods, workloads, services, virtualservices, destinationrules, gateways, ...', required: true }),
    name: Args.string({ description: 'Only the resource with this name.', required: false }),
  };

  static override flags = {
    namespace: Flags.string({ char: 'n', summary: 'Only this namespace (default: all).' }),
    home: homeFlag,
    output: outputFlag(['text', 'json', 'yaml', 'wide'] as const),
    json: jsonFlag,
  };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(Get);
    const format = this.format(flags);
    const { resolveType, matchesKind, podColumns, resourceColumns } = await import('../lib/mesh/get.js');
    const target = resolveType(args.type);
    const { layout } = await openHome(flags.home);
    const { call } = await import('../lib/mesh/agent/client.js');
    const { kubectlTable } = await import('../lib/mesh/render.js');
    const out = await import('../lib/output/format.js');
    const status = await call(layout, 'status', {});
    const inNamespace = (ns: string | undefined) => !flags.namespace || (ns ?? '') === flags.namespace;
    let document: unknown;
    let text: string;
    if (target.type === 'pods') {
      const pods = status.pods.filter((p) => inNamespace(p.namespace) && (!args.name || p.name === args.name));
      if (args.name && !pods.length) throw usageError(`There is no pod named "${args.name}"${flags.namespace ? ` in namespace ${flags.namespace}` : ''}; meshctl get pods lists them.`);
      document = args.name ? pods[0] : { apiVersion: 'v1', kind: 'List', items: pods };
      const cols = podColumns(pods, format === 'wide', new Set(pods.map((p) => p.namespace)).size > 1);
      text = pods.length ? await kubectlTable(cols.head, cols.rows) : '';
      if (!pods.length) process.stderr.write(`No pods found${flags.namespace ? ` in namespace ${flags.namespace}` : ''}.\n`);
    } else {
      const { readApplied } = await import('../lib/mesh/state.js');
      const applied = await readApplied(layout);
      const items = applied.resources.filter((r) => matchesKind(r, target.info) && inNamespace(r.metadata.namespace) && (!args.name || r.metadata.name === args.name));
      if (args.name && !items.length) throw usageError(`There is no ${target.info.kind} named "${args.name}"${flags.namespace ? ` in namespace ${flags.namespace}` : ''} in the mesh; meshctl get ${target.info.plural} lists them.`);
      document = args.name && items.length === 1 ? items[0] : { apiVersion: 'v1', kind: 'List', items };
      const cols = resourceColumns(target.info, items, status.pods, format === 'wide', new Set(items.map((r) => r.metadata.namespace ?? '')).size > 1);
      text = items.length ? await kubectlTable(cols.head, cols.rows) : '';
      if (!items.length) process.stderr.write(`No ${target.info.plural} found${flags.namespace ? ` in namespace ${flags.namespace}` : ''}.\n`);
    }
    if (format === 'json') await out.writeOut(out.toJson(document));
    else if (format === 'yaml') await out.writeOut(out.toYaml(document));
    else await out.writeOut(text);
    return document;
  }
}
