// meshctl's layers, as the imports of src/ must keep them: commands → shift (and the target seam) →
// mesh → runtime → policy → system, each importing only from its own layer and those below it, and
// no import cycle anywhere (type-only and dynamic imports included). A failure names the files.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { importCycles, importGraph, layerViolations, type LayerRule } from './support/import-graph.js';
import { ROOT } from './support/shared.js';

/** Highest first; a folder may import from the folders after it, never from those before it. */
const LAYERS = ['src/commands', 'src/lib/shift|src/lib/target', 'src/lib/mesh|src/lib/kube', 'src/lib/runtime', 'src/lib/policy', 'src/lib/system'];

/**
 * Entries of processes other than the CLI compose the layers as the commands do: the mesh agent's
 * main.ts hands route shift's guard to the agent. Held to no layer, but to no cycle either.
 */
const PROCESS_ENTRIES = new Set(['src/lib/mesh/agent/main.ts']);

function layerRules(): LayerRule[] {
  const rules: LayerRule[] = [];
  LAYERS.forEach((layer, i) => {
    const above = LAYERS.slice(0, i).flatMap((l) => l.split('|'));
    for (const from of layer.split('|')) {
      if (above.length) rules.push({ from, forbidden: above, why: `${from} sits below ${above.join(', ')}` });
    }
  });
  return rules;
}

/** The lowest layer is the operating system's: it needs nothing else of meshctl's (not even errors.ts). */
const systemAlone = (graph: Map<string, string[]>) =>
  [...graph].flatMap(([file, targets]) => (file.startsWith('src/lib/system/') ? targets.filter((t) => !t.startsWith('src/lib/system/')).map((t) => `${file} → ${t} (src/lib/system imports only from src/lib/system)`) : []));

describe('architecture: the import graph of src/', () => {
  const graph = importGraph(ROOT);

  it('reads every source file, with the imports that cross layers', () => {
    assert.ok(graph.size > 100, `only ${graph.size} files under src/`);
    assert.ok(graph.get('src/lib/mesh/agent/agent.ts')?.includes('src/lib/runtime/haproxy/compiler.ts'), 'the agent compiles proxies with the runtime compiler');
  });

  it('has no import cycle', () => {
    const cycles = importCycles(graph).map((c) => c.join(' → '));
    assert.deepEqual(cycles, [], `import cycles:\n${cycles.join('\n')}`);
  });

  it('imports only downward: commands → shift/target → mesh → runtime → policy → system', () => {
    const layered = new Map([...graph].filter(([file]) => !PROCESS_ENTRIES.has(file)));
    const violations = [...layerViolations(layered, layerRules()), ...systemAlone(layered)];
    assert.deepEqual(violations, [], `imports against the layers:\n${violations.join('\n')}`);
  });

  it('keeps the runtime below the mesh and policy below both', () => {
    const violations = layerViolations(graph, [
      { from: 'src/lib/runtime', forbidden: ['src/lib/mesh', 'src/lib/kube', 'src/lib/shift', 'src/lib/target', 'src/commands'], why: 'the runtime sits below the local mesh' },
      { from: 'src/lib/policy', forbidden: ['src/lib/mesh', 'src/lib/runtime', 'src/lib/shift', 'src/lib/target', 'src/commands'], why: 'policy sits below every target' },
    ]);
    assert.deepEqual(violations, []);
  });
});

describe('architecture: the checker itself', () => {
  // A tree with a type-only cycle, a cycle through a dynamic import, and a runtime file reaching up.
  const root = mkdtempSync(path.join(os.tmpdir(), 'meshctl-arch-'));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  write('src/lib/policy/a.ts', "import type { B } from './b.js';\nexport interface A { b: B }\n");
  write('src/lib/policy/b.ts', "import type { A } from './a.js';\nexport interface B { a?: A }\n");
  write('src/lib/mesh/home.ts', "export const home = async () => (await import('./reader.js')).read();\n");
  write('src/lib/mesh/reader.ts', "export { home } from './home.js';\nexport const read = () => 1;\n");
  write('src/lib/runtime/proxy.ts', "import { home } from '../mesh/home.js';\nimport ts from 'typescript';\nexport const p = [home, ts];\n");
  write('src/lib/system/fs.ts', "import { read } from '../mesh/reader.js';\nexport const f = read;\n");
  const graph = importGraph(root);
  rmSync(root, { recursive: true, force: true });

  it('finds cycles through type-only, re-exported and dynamic imports, naming each file', () => {
    assert.deepEqual(importCycles(graph).map((c) => c.join(' → ')).sort(), [
      'src/lib/mesh/home.ts → src/lib/mesh/reader.ts → src/lib/mesh/home.ts',
      'src/lib/policy/a.ts → src/lib/policy/b.ts → src/lib/policy/a.ts',
    ]);
  });

  it('names the importer and the imported file of an upward import', () => {
    assert.deepEqual([...layerViolations(graph, layerRules()), ...systemAlone(graph)].sort(), [
      'src/lib/runtime/proxy.ts → src/lib/mesh/home.ts (src/lib/runtime sits below src/commands, src/lib/shift, src/lib/target, src/lib/mesh, src/lib/kube)',
      'src/lib/system/fs.ts → src/lib/mesh/reader.ts (src/lib/system imports only from src/lib/system)',
      'src/lib/system/fs.ts → src/lib/mesh/reader.ts (src/lib/system sits below src/commands, src/lib/shift, src/lib/target, src/lib/mesh, src/lib/kube, src/lib/runtime, src/lib/policy)',
    ]);
  });
});
