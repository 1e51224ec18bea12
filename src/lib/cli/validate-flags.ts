// validate's flags as plain data: the command builds its oclif flags from this table, and the direct
// run (direct.ts) parses plain command lines with it without loading oclif.
import { JSON_SUMMARY, outputSummary, type FlagTable } from './flag-spec.js';

export const VALIDATE_FORMATS = ['text', 'json', 'yaml', 'sarif', 'github'] as const;
export const FAIL_ON = ['error', 'warning', 'info', 'none'] as const;

export const VALIDATE_FLAGS = {
  output: { type: 'option', char: 'o', summary: outputSummary(VALIDATE_FORMATS), options: VALIDATE_FORMATS, default: 'text' },
  json: { type: 'boolean', summary: JSON_SUMMARY, default: false },
  'fail-on': { type: 'option', summary: 'Lowest severity that makes the exit code 1.', options: FAIL_ON, default: 'error' },
  namespace: { type: 'string', char: 'n', summary: 'Namespace for resources that name none (default: "default").' },
  analyzer: { type: 'string', summary: "Run only this analyzer (istioctl's names; repeatable).", multiple: true },
  'list-analyzers': { type: 'boolean', summary: 'List the analyzers with the codes they emit, and exit.' },
  'assume-ingress-gateway': {
    type: 'boolean',
    summary:
      "Model Istio's default ingress gateway (Service and Pod istio-system/istio-ingressgateway, selector istio: ingressgateway), as istioctl's own analyzer tests do.",
  },
  'mesh-config': { type: 'string', summary: 'Istio MeshConfig YAML to analyze against (e.g. ingressControllerMode, defaultConfig.proxyMetadata).' },
  'max-file-size': { type: 'integer', summary: 'Largest file read, in MiB.', default: 32, min: 1 },
  'allow-empty': { type: 'boolean', summary: 'Accept a directory that holds no policy file (by default a usage error, exit 2).' },
  live: { type: 'boolean', summary: "Analyze the given paths together with what the mesh holds (a cluster's policy and the Services, Deployments, Pods and Namespaces it references, or the local mesh's applied policy); the files win where both hold an object." },
  target: { type: 'option', summary: 'With --live: the mesh to read (default: $MESHCTL_TARGET, else local; --context or --kubeconfig mean kubernetes).', options: ['local', 'kubernetes'] },
  context: { type: 'string', summary: 'With --live: the kubeconfig context to read (as kubectl --context).' },
  kubeconfig: { type: 'string', summary: 'With --live: the kubeconfig file (as kubectl --kubeconfig).' },
  home: { type: 'string', summary: 'With --live: the local mesh home to read.' },
  'all-namespaces': { type: 'boolean', char: 'A', summary: 'With --live: read every namespace of the cluster (the default without -n).' },
} as const satisfies FlagTable;

/** validate's flags once parsed (by oclif or by the direct run). */
export interface ValidateFlags {
  output: (typeof VALIDATE_FORMATS)[number];
  json: boolean;
  'fail-on': (typeof FAIL_ON)[number];
  namespace?: string;
  analyzer?: string[];
  'list-analyzers'?: boolean;
  'assume-ingress-gateway'?: boolean;
  'mesh-config'?: string;
  'max-file-size': number;
  'allow-empty'?: boolean;
  live?: boolean;
  target?: string;
  context?: string;
  kubeconfig?: string;
  home?: string;
  'all-namespaces'?: boolean;
}
