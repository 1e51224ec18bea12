import * as Args from '@oclif/core/args';
import { MeshctlCommand, oclifFlags } from '../lib/cli/base.js';
import { exitWhenDone } from '../lib/cli/exit.js';
import { VALIDATE_FLAGS, type ValidateFlags } from '../lib/cli/validate-flags.js';

export default class Validate extends MeshctlCommand {
  static override summary = 'Check mesh policy files (Istio and Gateway API YAML or JSON) before they ship.';

  static override description = `Reads files, directories (recursively: .yaml, .yml, .json) and - for stdin; checks each resource against its schema, runs Istio's mesh-policy analyzers and meshctl's own checks, and reports every finding at the file, line and column of the field at fault.

Resources that name no namespace are read in --namespace (default: "default"), and the text output says so. Kubernetes Services, Namespaces, Pods, Secrets and Deployments in the inputs are used to resolve references and selectors.

Exit codes: 0 no finding at or above --fail-on; 1 at least one; 2 usage error, a path that can't be read, or a directory with no policy file (unless --allow-empty). The same for every output format.`;

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

  static override flags = oclifFlags(VALIDATE_FLAGS);

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Validate);
    const { runValidate } = await import('../lib/cli/validate-run.js');
    this.finish(await runValidate(argv as string[], flags as ValidateFlags, this.config.version));
    // Nothing keeps running after the report: exit without tearing down the heap of a large policy set.
    exitWhenDone();
  }
}
