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
}
