import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { durationFlag } from '../lib/cli/duration-flag.js';
import { formatDuration } from '../lib/policy/duration.js';
import { EXIT, MeshctlError, usageError } from '../lib/errors.js';
import { homeFlag, openHome } from '../lib/mesh/home-flag.js';
import type { ApplyResult } from '../lib/mesh/agent/protocol.js';

export default class Delete extends MeshctlCommand {
  static override summary = 'Remove resources from the local mesh, by file or by kind and name.';

  static override description = `meshctl delete -f PATH... removes every resource the files define; meshctl delete KIND NAME... removes the named resources of one kind (virtualservice, vs, workload, ...). Removing a Workload stops its pods; every proxy stops routing to them first. The removal is a new revision in the history.

Exit codes: 0 removed; 1 some named resources did not exist (the others were removed) unless --ignore-not-found; 2 usage error; 3 the mesh is not installed, or the proxies did not serve the revision within --timeout.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> -f examples/bookinfo/routing.yaml',
    '<%= config.bin %> <%= command.id %> virtualservice reviews',
    '<%= config.bin %> <%= command.id %> workload reviews-v3 -n default',
  ];

  static override strict = false;

  static override args = {
    kind: Args.string({ description: 'Kind of the resources (virtualservice, vs, workload, ...), when not deleting by file.', required: false }),
    names: Args.string({ description: 'Names of the resources.', required: false }),
  };

  static override flags = {
    filename: Flags.string({ char: 'f', summary: 'Files, directories or - (stdin) whose resources to remove.', multiple: true }),
    namespace: Flags.string({ char: 'n', summary: 'Namespace (default: "default").' }),
    'ignore-not-found': Flags.boolean({ summary: 'Exit 0 when a named resource does not exist.', default: false }),
    wait: Flags.boolean({ summary: 'Wait until every proxy serves the new revision.', default: true, allowNo: true }),
    timeout: durationFlag({ summary: 'How long --wait waits (a duration: 90s, 2m).', default: '60s' }),
    home: homeFlag,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<ApplyResult> {
    const { argv, flags } = await this.parse(Delete);
    const format = this.format(flags);
    const words = argv as string[];
    const timeoutMs = flags.timeout;
    if (flags.filename?.length && words.length) throw usageError('Give either -f PATH... or KIND NAME..., not both.');
    if (!flags.filename?.length && words.length < 2) throw usageError('Name what to delete: meshctl delete -f PATH... or meshctl delete KIND NAME...');
    const { layout } = await openHome(flags.home);
    const request: { resources?: import('../lib/mesh/state.js').StoredResource[]; selectors?: import('../lib/mesh/state.js').ResourceSelector[] } = {};
    if (flags.filename?.length) {
      const { readForDelete } = await import('../lib/mesh/apply.js');
      request.resources = await readForDelete(flags.filename, { namespace: flags.namespace });
      if (!request.resources.length) throw usageError('The files hold no resources to delete.');
    } else {
      const { resolveType } = await import('../lib/mesh/get.js');
      const target = resolveType(words[0]);
      if (target.type === 'pods') throw usageError('Pods belong to Workloads: delete the Workload, or lower its replicas and apply it.');
      const namespace = target.info.namespaced ? flags.namespace ?? 'default' : '';
      request.selectors = words.slice(1).map((name) => ({ kind: target.info.kind, namespace, name }));
    }
    const { call } = await import('../lib/mesh/agent/client.js');
    const out = await import('../lib/output/format.js');
    const result = await call(layout, 'apply', { action: 'delete', ...request, wait: flags.wait, timeoutMs }, timeoutMs + 60_000);
    const { applySummary } = await import('../lib/mesh/render.js');
    const { render } = await import('../lib/output/render.js');
    await render(format, { document: result, text: () => applySummary(result, 'deleted') });
    for (const m of result.missing) out.writeErr(`${m.kind} ${m.namespace ? `${m.namespace}/` : ''}${m.name} was not found in the mesh.\n`);
    if (flags.wait && result.committed && !result.synced) {
      throw new MeshctlError(`Revision ${result.revision} is stored, but ${result.pending.join(', ')} did not serve it within ${formatDuration(timeoutMs)}; see meshctl status.`, EXIT.environment);
    }
    if (result.missing.length && !flags['ignore-not-found']) this.finish(EXIT.negative);
    return result;
  }
}
