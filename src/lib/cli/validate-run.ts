// What `meshctl validate` does once its flags are parsed, by oclif or by the direct run (direct.ts).
import { EXIT, usageError } from '../errors.js';
import { outputFormat } from './flag-spec.js';
import type { ValidateFlags } from './validate-flags.js';
import { tuneForAnalysis } from './v8-tuning.js';

/** Validates `paths` and prints the report; returns the exit code. `version` is meshctl's, for SARIF. */
export async function runValidate(paths: string[], flags: ValidateFlags, version: string): Promise<number> {
  const chosen = outputFormat(flags);
  if ('conflict' in chosen) throw usageError(chosen.conflict);
  const format = chosen.format;
  const { validatePaths, failThresholdReached, loadAnalyzers } = await import('../policy/validate.js');
  const out = await import('../output/format.js');
  const { render } = await import('../output/render.js');
  if (flags['list-analyzers']) {
    const { ANALYZERS } = await loadAnalyzers();
    const rows = ANALYZERS.map((a) => ({ name: a.name, codes: a.codes, description: a.description }));
    await render(format, { document: rows, text: () => rows.map((r) => `${r.name}  ${r.codes.join(',')}  ${r.description}`).join('\n') + '\n' });
    return EXIT.ok;
  }
  const options = {
    namespace: flags.namespace,
    analyzers: flags.analyzer,
    assumeIngressGateway: flags['assume-ingress-gateway'],
    meshConfigPath: flags['mesh-config'],
    maxFileBytes: flags['max-file-size'] * 1024 * 1024,
    allowEmpty: flags['allow-empty'],
    beforeAnalysis: tuneForAnalysis,
  };
  const meshFlag = (['target', 'context', 'kubeconfig', 'home', 'all-namespaces'] as const).find((f) => flags[f] !== undefined && flags[f] !== false);
  if (meshFlag && !flags.live) throw usageError(`--${meshFlag} names the mesh validate --live reads; add --live, or drop --${meshFlag}.`);
  if (flags.namespace !== undefined && flags['all-namespaces']) throw usageError(`-n ${flags.namespace} asks for one namespace and -A for every one; pass one of them.`);
  const live = flags.live ? await (await import('./validate-live.js')).liveSources(paths, flags, options) : null;
  const result = live ? await (await import('../policy/validate.js')).validateSources(live.sources, options) : await validatePaths(paths, options);
  const findingsOutput = await import('../output/findings.js');
  const report = { findings: result.findings, groups: result.groups, summary: result.summary };
  await render(format, {
    // A getter: the document is only built when JSON or YAML asks for it.
    get document() {
      return findingsOutput.findingsDocument(report);
    },
    text: () => {
      const texts = new Map(result.sources.map((s) => [s.path, s.text]));
      return findingsOutput.renderText(report, { color: out.colorEnabled(), files: result.files, sourceText: (p) => texts.get(p), ...(live ? { live: { objects: live.objects, from: live.from } } : {}) });
    },
    formats: { sarif: () => findingsOutput.renderSarif(report, version), github: () => findingsOutput.renderGithub(report) },
  });
  return failThresholdReached(result.findings, flags['fail-on']) ? EXIT.negative : EXIT.ok;
}
