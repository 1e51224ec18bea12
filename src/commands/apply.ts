import { Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { durationFlag } from '../lib/cli/duration-flag.js';
import { formatDuration } from '../lib/policy/duration.js';
import { EXIT, MeshctlError, usageError } from '../lib/errors.js';
import { homeFlag, openHome } from '../lib/mesh/home-flag.js';
import type { ApplyResult } from '../lib/mesh/agent/protocol.js';

export default class Apply extends MeshctlCommand {
  static override summary = 'Apply policy and workloads to the local mesh and wait until every sidecar serves them.';

  static override description = `Reads files, directories (recursively) and - for stdin, validates them together with the resources the mesh already runs, and refuses on any error finding (printing the findings). Then stores the resources as a new revision (kept in the history), creates, updates and deletes pods to match the Workloads' replicas, compiles every proxy's configuration and updates the proxies whose configuration changed (weights through the runtime API, other changes through a hitless reload, a bounded number at a time); a proxy whose configuration did not change is left alone and keeps serving the revision it was last changed at. It prints one line on what every proxy went through (-o json: per proxy). With --wait (the default) it returns once every pod is ready and every proxy serves its revision.

A change to a route that a traffic shift moves (meshctl route shift) is refused, naming the shift and how to finish or end it; with --force it is applied and the shift is held, and meshctl route shift HOST --resume refuses until the route agrees with the shift again.

Exit codes: 0 applied; 2 error findings, unreadable input, or a change to a route under a shift without --force (nothing applied); 3 the mesh is not installed, or the proxies did not serve the revision within --timeout.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> -f examples/bookinfo/',
    '<%= config.bin %> <%= command.id %> -f routing.yaml --timeout 30s',
    'cat routing.yaml | <%= config.bin %> <%= command.id %> -f -',
    '<%= config.bin %> <%= command.id %> -f examples/bookinfo/ --no-wait -o json',
  ];

  static override flags = {
    filename: Flags.string({ char: 'f', summary: 'Files, directories or - (stdin) to apply.', multiple: true, required: true }),
    namespace: Flags.string({ char: 'n', summary: 'Namespace for resources that name none (default: "default").' }),
    wait: Flags.boolean({ summary: 'Wait until every pod is ready and every proxy serves the new revision.', default: true, allowNo: true }),
    timeout: durationFlag({ summary: 'How long --wait waits (a duration: 90s, 2m).', default: '60s' }),
    force: Flags.boolean({ summary: 'Apply even when it changes a route a traffic shift moves; the shift is then held.' }),
    home: homeFlag,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<ApplyResult> {
    const { flags } = await this.parse(Apply);
    const format = this.format(flags);
    const timeoutMs = flags.timeout;
    const { layout } = await openHome(flags.home);
    const { readApplied } = await import('../lib/mesh/state.js');
    const { prepareApply, interruptedLine } = await import('../lib/mesh/apply.js');
    const out = await import('../lib/output/format.js');
    const before = await readApplied(layout);
    const prepared = await prepareApply(flags.filename, { namespace: flags.namespace, applied: before.resources });
    const errors = prepared.findings.filter((f) => f.severity === 'error');
    if (prepared.findings.length) {
      const findingsOutput = await import('../lib/output/findings.js');
      const texts = new Map(prepared.sources.map((s) => [s.path, s.text]));
      out.writeErr(findingsOutput.renderText({ findings: prepared.findings, summary: prepared.summary }, { color: out.colorEnabled(process.stderr), files: prepared.files, sourceText: (p) => texts.get(p) }));
    }
    if (errors.length) {
      throw new MeshctlError(`Nothing was applied: the files have ${errors.length} error finding${errors.length === 1 ? '' : 's'} (above); fix them and apply again.`, EXIT.usage);
    }
    for (const s of prepared.skipped) process.stderr.write(`Warning: ${s}\n`);
    if (!prepared.resources.length) throw usageError('The files hold no resources to apply.');
    const { call } = await import('../lib/mesh/agent/client.js');
    const commonFlags = flags.home ? `--home ${flags.home}` : '';
    const onInterrupt = () => {
      void interruptedLine(layout, before.revision, commonFlags).then((line) => {
        process.stderr.write(`${line}\n`);
        process.exit(EXIT.interrupted);
      });
    };
    process.once('SIGINT', onInterrupt);
    let result: ApplyResult;
    try {
      result = await call(layout, 'apply', { action: 'apply', resources: prepared.resources, wait: flags.wait, timeoutMs, force: flags.force, commonFlags }, timeoutMs + 60_000);
    } finally {
      process.off('SIGINT', onInterrupt);
    }
    const { applySummary } = await import('../lib/mesh/render.js');
    const { render } = await import('../lib/output/render.js');
    await render(format, { document: result, text: () => applySummary(result, 'applied') });
    for (const held of result.held ?? []) process.stderr.write(`Warning: ${held}\n`);
    if (flags.wait && !result.synced) {
      throw new MeshctlError(
        `Revision ${result.revision} is stored, but ${result.pending.join(', ')} did not become ready on it within ${formatDuration(timeoutMs)}; see meshctl status and meshctl logs POD.`,
        EXIT.environment,
      );
    }
    return result;
  }
}
