#!/usr/bin/env node
// Bundles what a plain `meshctl validate` command line runs (dist/src/lib/cli/validate-run.js and every
// module it reaches: loading, the analyzers, the output) into one module beside it. Node loads an ES
// module graph file by file, resolving and reading each; validate's ~70 modules cost a 10,000-resource
// run 30 ms or more of its start, more on a busy machine, and one file removes most of that.
// The compiled modules stay the source of truth: tests import them, oclif's validate command runs them,
// and direct.ts uses the bundle only when it is at least as new as them (see bundledValidateRun there).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cliDir = path.join(root, 'dist', 'src', 'lib', 'cli');

/**
 * Modules the bundle imports rather than copies, because code outside it must share them:
 * errors.js, whose MeshctlError main.ts recognises with instanceof to choose the exit code; and
 * validate-live.js, which only `--live` needs and which brings the Kubernetes client with it.
 */
const SHARED = [path.join(root, 'dist', 'src', 'lib', 'errors.js'), path.join(cliDir, 'validate-live.js')];

const shareModules = {
  name: 'share-modules',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = path.resolve(args.resolveDir, args.path);
      if (!SHARED.includes(target)) return undefined;
      // The bundle sits beside validate-run.js, so the import is written relative to that folder.
      const relative = path.relative(cliDir, target);
      return { path: relative.startsWith('..') ? relative : `./${relative}`, external: true };
    });
  },
};

await build({
  entryPoints: [path.join(cliDir, 'validate-run.js')],
  outfile: path.join(cliDir, 'validate-run.bundle.js'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // npm packages (js-yaml, ajv) are loaded from node_modules as usual.
  packages: 'external',
  plugins: [shareModules],
  logLevel: 'warning',
});
