import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { EXIT } from '../lib/errors.js';
import { exitWhenDone } from '../lib/cli/exit.js';

export default class Validate extends MeshctlCommand {
  static override summary = 'Check mesh policy files (Istio and Gateway API YAML or JSON) before they ship.';

  static override description = `Reads files, directories (recursively: .yaml, .yml, .json) and - for stdin; checks each resource against its schema, runs Istio's mesh-policy analyzers and meshctl's own checks, and reports every finding at the file, line and column of the field at fault.

Resources that name no namespace are read in --namespace (default: "default"), and the text output says so. Kubernetes Services, Namespaces, Pods, Secrets and Deployments in the inputs are used to resolve references and selectors.

Exit codes: 0 no finding at or above --fail-on; 1 at least one; 2 usage error or a path that can't be read. The same for every output format.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> examples/bookinfo/',
    '<%= config.bin %> <%= command.id %> -o sarif policies/ > meshctl.sarif',
    '<%= config.bin %> <%= command.id %> --fail-on warning -o github policies/',
    'kubectl get vs,dr -A -o yaml | <%= config.bin %> <%= command.id %> -',
    '<%= config.bin %> <%= command.id %> --analyzer virtualservice.DestinationRuleAnalyzer --assume-ingress-gateway policies/',
  ];

  static override strict = false;

  static override args = {
    paths: Args.string({ description: 'Files, directories or - (stdin).', required: false }),
  };

  static override flags = {
    output: outputFlag(['text', 'json', 'yaml', 'sarif', 'github'] as const),
    json: jsonFlag,
    'fail-on': Flags.option({
      summary: 'Lowest severity that makes the exit code 1.',
      options: ['error', 'warning', 'info', 'none'] as const,
      default: 'error' as const,
    })(),
    namespace: Flags.string({ char: 'n', summary: 'Namespace for resources that name none (default: "default").' }),
    analyzer: Flags.string({ summary: "Run only this analyzer (istioctl's names; repeatable).", multiple: true, multipleNonGreedy: true }),
    'list-analyzers': Flags.boolean({ summary: 'List the analyzers with the codes they emit, and exit.' }),
    'assume-ingress-gateway': Flags.boolean({
      summary: "Model Istio's default ingress gateway (Service and Pod istio-system/istio-ingressgateway, selector istio: ingressgateway), as istioctl's own analyzer tests do.",
    }),
    'mesh-config': Flags.string({ summary: 'Istio MeshConfig YAML to analyze against (e.g. ingressControllerMode, defaultConfig.proxyMetadata).' }),
    'max-file-size': Flags.integer({ summary: 'Largest file read, in MiB.', default: 32, min: 1 }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Validate);
    const format = this.format(flags);
    const { validatePaths, failThresholdReached, loadAnalyzers } = await import('../lib/policy/validate.js');
    const out = await import('../lib/output/format.js');
    if (flags['list-analyzers']) {
      const { ANALYZERS } = await loadAnalyzers();
      const rows = ANALYZERS.map((a) => ({ name: a.name, codes: a.codes, description: a.description }));
      if (format === 'json') await out.writeOut(out.toJson(rows));
      else if (format === 'yaml') await out.writeOut(out.toYaml(rows));
      else await out.writeOut(rows.map((r) => `${r.name}  ${r.codes.join(',')}  ${r.description}`).join('\n') + '\n');
      return;
    }
    const paths = argv as string[];
    const result = await validatePaths(paths, {
      namespace: flags.namespace,
      analyzers: flags.analyzer,
      assumeIngressGateway: flags['assume-ingress-gateway'],
      meshConfigPath: flags['mesh-config'],
      maxFileBytes: flags['max-file-size'] * 1024 * 1024,
    });
    const render = await import('../lib/output/findings.js');
    const report = { findings: result.findings, summary: result.summary };
    await out.writeRendered(format, {
      json: () => render.renderJson(report),
      yaml: () => render.renderYaml(report),
      sarif: () => render.renderSarif(report, this.config.version),
      github: () => render.renderGithub(report),
      text: () => {
        const texts = new Map(result.sources.map((s) => [s.path, s.text]));
        return render.renderText(report, { color: out.colorEnabled(), files: result.files, sourceText: (p) => texts.get(p) });
      },
    });
    this.finish(failThresholdReached(result.findings, flags['fail-on']) ? EXIT.negative : EXIT.ok);
    // Nothing keeps running after the report: exit without tearing down the heap of a large policy set.
    exitWhenDone();
  }
}
