// The browser entry bundles for the browser platform with no Node API in it.
// Node modules may appear only in chunks reached through dynamic import()
// from Node-only paths (fromPretrained with a folder, savePretrained to disk).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build } from 'esbuild';

test('src/browser.ts bundles for browsers; what loads with it imports no Node module', async () => {
  const { metafile } = await build({
    entryPoints: ['src/browser.ts'],
    bundle: true,
    splitting: true,
    platform: 'browser',
    format: 'esm',
    outdir: 'bundle',
    write: false,
    metafile: true,
    external: ['node:*'],
    logLevel: 'silent',
  });
  const outputs = metafile!.outputs;
  const entry = Object.keys(outputs).find((path) => outputs[path].entryPoint === 'src/browser.ts')!;
  // Everything the entry loads eagerly: itself and the chunks it imports statically.
  const eager = new Set<string>();
  const visit = (path: string) => {
    if (eager.has(path)) return;
    eager.add(path);
    for (const i of outputs[path].imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit(entry);
  const nodeImports = [...eager].flatMap((path) => outputs[path].imports.filter((i) => i.kind === 'import-statement' && i.path.startsWith('node:')).map((i) => `${path}: ${i.path}`));
  assert.equal(nodeImports, [], 'static imports of Node modules in what the browser loads');
  assert.ok(Object.keys(outputs[entry].inputs).includes('src/models/bert.ts'), 'the models are in the entry');
});

test.run();
