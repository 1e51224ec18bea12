import { Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { EXIT } from '../lib/errors.js';
import { homeFlag } from '../lib/mesh/home-flag.js';
import type { CheckReport, CheckRun } from '../lib/mesh/check.js';

export default class Check extends MeshctlCommand {
  static override summary = "Check the local mesh's health: runtime, home, CA, agent, pods and sidecars.";

  static override description = `Runs a list of checks grouped by category and prints one line per check: √ passed, ‼ warning, × failed with a hint. Categories: proxy runtime (HAProxy present, version), mesh home (installed, permissions), certificates (CA valid, expiry), mesh agent (running, answering), pods (every app and sidecar up, every proxy on the current revision).

--pre runs the checks that tell whether meshctl install will work (runtime, home creatable). check never starts or changes anything.

Exit codes: 0 no check failed (warnings allowed); 1 at least one failed; the same for -o json.`;

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --pre', '<%= config.bin %> <%= command.id %> -o json'];

  static override flags = {
    pre: Flags.boolean({ summary: 'Only the checks that must pass before meshctl install.', default: false }),
    'proxy-bin': Flags.string({ summary: 'HAProxy executable to check (before install; default: haproxy on PATH).', helpValue: 'PATH' }),
    home: homeFlag,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<CheckRun> {
    const { flags } = await this.parse(Check);
    const format = this.format(flags);
    const { homeLayout, resolveHome } = await import('../lib/mesh/home.js');
    const { checkContext, runChecks } = await import('../lib/mesh/check.js');
    const out = await import('../lib/output/format.js');
    const layout = homeLayout(resolveHome(flags.home));
    const ctx = await checkContext(layout, flags['proxy-bin']);
    const p = out.paint(out.colorEnabled());
    let lastCategory = '';
    const text = format === 'text';
    const line = (category: string, r: CheckReport) => {
      if (!text) return;
      let s = '';
      if (category !== lastCategory) {
        s += `${lastCategory ? '\n' : ''}${category}\n${'-'.repeat(category.length)}\n`;
        lastCategory = category;
      }
      const mark = r.result === 'success' ? p.green('√') : r.result === 'warning' ? p.yellow('‼') : p.red('×');
      s += `${mark} ${r.description}${r.detail ? p.dim(` (${r.detail})`) : ''}\n`;
      if (r.error) s += `    ${r.error}\n`;
      if (r.hint) s += `    ${p.dim(`hint: ${r.hint}`)}\n`;
      void out.writeOut(s);
    };
    const result = await runChecks(ctx, { pre: flags.pre, onCheck: line });
    const { render } = await import('../lib/output/render.js');
    await render(format, {
      document: result,
      text: () => {
        const warnings = result.categories.some((c) => c.checks.some((x) => x.result === 'warning'));
        return `\nStatus check results are ${result.success ? (warnings ? p.yellow('‼') : p.green('√')) : p.red('×')}\n`;
      },
    });
    this.finish(result.success ? EXIT.ok : EXIT.negative);
    return result;
  }
}
