import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { EXIT, usageError } from '../lib/errors.js';
import { homeFlag } from '../lib/mesh/home-flag.js';
import { openTarget, targetFlags } from '../lib/target/open.js';

export default class Diff extends MeshctlCommand {
  static override summary = 'Show what a mesh policy change does to traffic and security, with a risk level per change.';

  static override description = `Compares two versions of mesh policy (Istio and Gateway API YAML or JSON) by meaning, not by text: resources are paired by group, kind, namespace and name wherever they live; sets such as hosts, gateways, subsets and ports are compared as sets; HTTP route order, which decides matching, is compared in order. Writing a default out, \`1000ms\` for \`1s\` or \`weight: 100\` on a lone destination is no change.

For each host it reports the share of traffic every destination gets before and after, per route, and the retries, timeouts, fault injection, mirroring and traffic policies that change; for security, the mTLS mode per mesh, namespace and workload, destination TLS modes and authorization rules gained or lost. Each change gets a risk: high (mTLS relaxed, ALLOW widened, DENY removed, a destination losing all its traffic, a fault on every request, a route removed), medium (traffic moved, a route added, reordered or matching other requests, retries or timeouts changed, fault injection on matched requests, outlier detection relaxed) or low (the rest).

OLD and NEW are files, directories or - (stdin), read like meshctl validate reads them; resources that name no namespace are read in --namespace (default: "default"). With --base, OLD is the given paths (default: .) as of a git revision, read from git without touching the checkout, and NEW is the working tree. With --live, OLD is what the local mesh has applied (its current revision) and NEW is that with the given paths applied over it: what meshctl apply would change.

Exit codes: 0 no change; 1 changes (with --fail-on-risk: a change at or above that risk); 2 usage error or unreadable input; 3 environment error (git missing, no mesh installed for --live). The same for every output format.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> examples/bookinfo/routing.yaml examples/changes/routing.yaml',
    '<%= config.bin %> <%= command.id %> -o markdown examples/bookinfo/routing.yaml examples/changes/routing.yaml',
    '<%= config.bin %> <%= command.id %> --base origin/main policies/',
    '<%= config.bin %> <%= command.id %> --base origin/main -o markdown policies/ > diff.md',
    '<%= config.bin %> <%= command.id %> --fail-on-risk high -o github --base origin/main policies/',
    '<%= config.bin %> <%= command.id %> --live examples/bookinfo/',
    'kubectl get vs,dr,pa,ap -A -o yaml | <%= config.bin %> <%= command.id %> - policies/',
  ];

  static override strict = false;

  static override args = {
    old: Args.string({ description: 'OLD: a file, a directory or - (stdin). With --base: a path to compare.', required: false }),
    new: Args.string({ description: 'NEW: a file, a directory or - (stdin). With --base: more paths.', required: false }),
  };

  static override flags = {
    output: outputFlag(['text', 'json', 'yaml', 'github', 'markdown'] as const),
    json: jsonFlag,
    base: Flags.string({ summary: 'Git revision to read OLD from (the given paths, default .); NEW is the working tree.', exclusive: ['live'] }),
    live: Flags.boolean({
      summary: 'OLD is the policy the local mesh has applied; NEW is that with the given paths (default .) applied over it, as meshctl apply would leave it.',
      exclusive: ['base'],
    }),
    home: homeFlag,
    ...targetFlags,
    'fail-on-risk': Flags.option({
      summary: 'Exit 1 only when a change at or above this risk exists (default: any change exits 1).',
      options: ['high', 'medium', 'low'] as const,
    })(),
    namespace: Flags.string({ char: 'n', summary: 'Namespace for resources that name none (default: "default").' }),
    'max-file-size': Flags.integer({ summary: 'Largest file read, in MiB.', default: 32, min: 1 }),
    'allow-empty': Flags.boolean({ summary: 'Accept a directory that holds no policy file as an empty side (by default a usage error, exit 2).' }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Diff);
    const format = this.format(flags);
    const paths = argv as string[];
    if (flags.base === undefined && !flags.live && paths.length !== 2) {
      throw usageError(
        paths.length < 2
          ? 'meshctl diff needs OLD and NEW (files, directories or -), or --base REV [PATH...]; see meshctl diff --help.'
          : `meshctl diff takes one OLD and one NEW, not ${paths.length} paths; put each version in one directory, or use --base REV PATH... to compare paths with a git revision.`,
      );
    }
    const { diffPolicy, riskReached } = await import('../lib/policy/diff/index.js');
    const outcome = await diffPolicy({
      old: paths[0],
      new: paths[1],
      base: flags.base,
      live: flags.live ? async () => (await import('../lib/mesh/applied-policy.js')).readLive(await openTarget(flags)) : undefined,
      paths,
      namespace: flags.namespace,
      maxFileBytes: flags['max-file-size'] * 1024 * 1024,
      allowEmpty: flags['allow-empty'],
    });
    const out = await import('../lib/output/format.js');
    for (const note of outcome.notes) out.writeErr(`Note: ${note}\n`);
    const diffOutput = await import('../lib/output/diff.js');
    const { render } = await import('../lib/output/render.js');
    const report = outcome.report;
    await render(format, {
      document: report,
      text: () => diffOutput.renderText(report, { color: out.colorEnabled() }),
      formats: { github: () => diffOutput.renderGithub(report), markdown: () => diffOutput.renderMarkdown(report) },
    });
    const failOn = flags['fail-on-risk'];
    const negative = failOn ? riskReached(report.changes, failOn) : report.changes.length > 0;
    this.finish(negative ? EXIT.negative : EXIT.ok);
  }
}
