import { Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { EXIT } from '../lib/errors.js';
import { homeFlag } from '../lib/mesh/home-flag.js';
import { openTarget, targetFlags, targetKind } from '../lib/target/open.js';
import type { KubernetesTarget } from '../lib/target/kubernetes.js';
import type { CheckReport, CheckRun } from '../lib/mesh/check.js';

export default class Check extends MeshctlCommand {
  static override summary = "Check the local mesh's health: runtime, home, CA, agent, pods and sidecars.";

  static override description = `Runs a list of checks grouped by category and prints one line per check: √ passed, ‼ warning, × failed with a hint. Categories: proxy runtime (HAProxy present, version), mesh home (installed, permissions), certificates (CA valid, expiry), mesh agent (running, answering), pods (every app and sidecar up, every proxy on the current revision, no workload certificate expired or within a tenth of its lifetime from expiry).

--pre runs the checks that tell whether meshctl install will work (runtime, home creatable). check never starts or changes anything.

Exit codes: 0 no check failed (warnings allowed); 1 at least one failed; the same for -o json.`;

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --pre', '<%= config.bin %> <%= command.id %> -o json'];

  static override flags = {
    pre: Flags.boolean({ summary: 'Only the checks that must pass before meshctl install.', default: false }),
    'proxy-bin': Flags.string({ summary: 'HAProxy executable to check (before install; default: haproxy on PATH).', helpValue: 'PATH' }),
    home: homeFlag,
    ...targetFlags,
    namespace: Flags.string({ char: 'n', summary: 'On a Kubernetes cluster: a namespace whose pods are checked (repeatable; default: every namespace).', multiple: true }),
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<CheckRun | { success: boolean }> {
    const { flags } = await this.parse(Check);
    const format = this.format(flags);
    if (targetKind({ ...flags, namespace: undefined }) === 'kubernetes') {
      const cluster = (await openTarget({ ...flags, namespace: undefined, target: 'kubernetes' })) as KubernetesTarget;
      const run = await (await import('../lib/kube/install-command.js')).checkClusterCommand(cluster.client, () => cluster.proxyStatus(), flags.namespace ?? [], format);
      this.finish(run.success ? EXIT.ok : EXIT.negative);
      return run;
    }
    const { homeLayout, resolveHome } = await import('../lib/mesh/home.js');
    const { checkContext, runChecks } = await import('../lib/mesh/check.js');
    const out = await import('../lib/output/format.js');
    const layout = homeLayout(resolveHome(flags.home));
    const ctx = await checkContext(layout, flags['proxy-bin']);
    const { checkText } = await import('../lib/mesh/render.js');
    const { render } = await import('../lib/output/render.js');
    const text = checkText(out.paint(out.colorEnabled()));
    // Text prints each check as it completes; the machine formats print the whole run at the end.
    const onCheck = format === 'text' ? (category: string, r: CheckReport) => void out.writeOut(text.check(category, r)) : undefined;
    const result = await runChecks(ctx, { pre: flags.pre, ...(onCheck ? { onCheck } : {}) });
    await render(format, { document: result, text: () => text.summary(result) });
    this.finish(result.success ? EXIT.ok : EXIT.negative);
    return result;
  }
}
