// Validates inline policy text the way `meshctl validate` validates a file.
import type { SourceFile } from '../../src/lib/policy/source.js';
import { validateSources, type ValidateOptions, type ValidateResult } from '../../src/lib/policy/validate.js';
import type { Finding } from '../../src/lib/policy/findings.js';

export function source(text: string, path = 'policy.yaml'): SourceFile {
  return { path, text, format: path.endsWith('.json') ? 'json' : 'yaml', size: Buffer.byteLength(text) };
}

/** Validates `text` (one file) with the given options; analyzers default to all. */
export function validateText(text: string, options: ValidateOptions = {}, path = 'policy.yaml'): Promise<ValidateResult> {
  return validateSources([source(text, path)], options);
}

/** `CODE@line` for each finding with the code, e.g. ['MSH2001@7']. */
export function codesAt(findings: Finding[], code?: string): string[] {
  return findings.filter((f) => !code || f.code === code).map((f) => `${f.code}@${f.line}`);
}
